"""Every operation of the schema is refused to a caller without a token, to a read-only token when it
writes, and to a token (or a user) without the project, whatever the operation."""

import json

from annotation.models import Item
from api.main import api

SCHEMA = api.get_openapi_schema()
OPERATIONS = [(method.upper(), path) for path, ops in SCHEMA["paths"].items() for method in ops]
WRITES = [(m, p) for m, p in OPERATIONS if m != "GET"]
# The operations of one project (by path or by a project named in the request), with a body each accepts.
ITEM = {"id": "access-1", "prompt": "p", "candidates": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]}
PROJECT_OPERATIONS = {
    ("GET", "/api/v1/projects/{slug}"): None,
    ("PATCH", "/api/v1/projects/{slug}"): {},
    ("GET", "/api/v1/projects/{slug}/members"): None,
    ("PUT", "/api/v1/projects/{slug}/members/{username}"): {"role": "annotator"},
    ("DELETE", "/api/v1/projects/{slug}/members/{username}"): None,
    ("GET", "/api/v1/projects/{slug}/progress"): None,
    ("POST", "/api/v1/projects/{slug}/items"): [ITEM],
    ("GET", "/api/v1/projects/{slug}/items"): None,
    ("GET", "/api/v1/projects/{slug}/items/{item_id}"): None,
    ("POST", "/api/v1/projects/{slug}/items/{item_id}/retire"): None,
    ("GET", "/api/v1/judgments?project={slug}"): None,
    ("GET", "/api/v1/judgments/stream?project={slug}"): None,
    ("POST", "/api/v1/exports"): {"format": "raw", "project": "{slug}"},
}


def _url(path: str, world, slug: str = "pairwise") -> str:
    item = Item.objects.filter(project__slug=slug).select_related("comparison").first()
    name = "manifest.json" if "/files/" in path else "some-model"
    return (
        path.replace("{slug}", slug)
        .replace("{username}", "annotator")
        .replace("{item_id}", item.comparison.key)
        .replace("{job_id}", str(world.export_job.pk))
        .replace("{name}", name)
    )


def _send(client, method: str, url: str, body=None, **headers):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", headers=headers)


def test_the_schema_lists_every_resource():
    assert len(OPERATIONS) >= 25
    assert {p.split("/")[3] for _, p in OPERATIONS} == {"projects", "judgments", "exports", "ratings", "models"}


# One test per rule, looping over the operations: the world is built once per test, not per operation.


def test_every_operation_refuses_a_caller_without_a_token(client, world):
    for method, path in OPERATIONS:
        response = _send(client, method, _url(path, world))
        assert response.status_code == 401, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"


def test_every_write_refuses_a_read_only_token(client, world, token_for):
    token = token_for("staff", scope="read")
    for method, path in WRITES:
        response = _send(client, method, _url(path, world), {}, Authorization=f"Bearer {token}")
        assert response.status_code == 403, (method, path, response.content)
        assert "read-only" in response.json()["detail"]


def test_a_revoked_or_made_up_token_is_refused(client, world, token_for):
    from api.models import ApiToken
    from api.tokens import token_revoke

    token = token_for("owner")
    assert _send(client, "GET", "/api/v1/projects", Authorization=f"Bearer {token}").status_code == 200
    token_revoke(user=world.users["owner"], token_id=ApiToken.objects.get(user=world.users["owner"]).pk)
    assert _send(client, "GET", "/api/v1/projects", Authorization=f"Bearer {token}").status_code == 401
    made_up = token[:-4] + "AAAA"
    assert _send(client, "GET", "/api/v1/projects", Authorization=f"Bearer {made_up}").status_code == 401


def _body(operation, slug: str):
    body = PROJECT_OPERATIONS[operation]
    return json.loads(json.dumps(body).replace("{slug}", slug)) if body is not None else None


def test_every_project_operation_refuses_a_token_for_another_project(client, world, token_for):
    # The owner of every world project but one, with a token for the ranking project only.
    token = token_for("owner", scope="write", projects=["ranking"])
    for method, path in PROJECT_OPERATIONS:
        body = _body((method, path), "pairwise")
        response = _send(client, method, _url(path, world), body, Authorization=f"Bearer {token}")
        assert response.status_code == 403, (method, path, response.content)
        assert "not for the project" in response.json()["detail"]
        # The same operation on the token's own project is not refused for it (it may fail for other reasons).
        body = _body((method, path), "ranking")
        allowed = _send(client, method, _url(path, world, "ranking"), body, Authorization=f"Bearer {token}")
        text = b"".join(allowed.streaming_content) if allowed.streaming else allowed.content
        assert b"not for the project" not in text, (method, path)


def test_every_project_operation_hides_a_project_from_a_non_member(client, world, token_for):
    token = token_for("other_owner", scope="write")
    for method, path in PROJECT_OPERATIONS:
        body = _body((method, path), "pairwise")
        response = _send(client, method, _url(path, world), body, Authorization=f"Bearer {token}")
        assert response.status_code == 404, (method, path, response.content)


def test_staff_operations_refuse_an_owner(client, world, token_for):
    token = token_for("owner", scope="write")
    for method, path in [op for op in OPERATIONS if "/models" in op[1] or "refit" in op[1]]:
        body = (
            {"name": "m", "backend": "replay", "model_id": "m"} if (method, path) == ("POST", "/api/v1/models") else {}
        )
        response = _send(client, method, _url(path, world), body, Authorization=f"Bearer {token}")
        assert response.status_code == 403, (method, path, response.content)


def test_a_token_for_some_projects_reaches_no_site_wide_selection(client, world, token_for):
    token = token_for("staff", scope="write", projects=["pairwise"])
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("GET", "/api/v1/judgments", None),
        ("GET", "/api/v1/judgments/stream", None),
        ("POST", "/api/v1/exports", {"format": "raw"}),
        ("POST", "/api/v1/projects", {"slug": "new", "name": "New"}),
    ]:
        response = _send(client, method, path, body, **headers)
        assert response.status_code == 403, (method, path, response.content)
    # Its own project's selection is still open to it.
    assert _send(client, "GET", "/api/v1/judgments?project=pairwise", **headers).status_code == 200


def test_a_token_whose_projects_are_gone_reaches_nothing(client, world, token_for):
    token = token_for("owner", scope="read", projects=["pairwise"])
    world.projects["pairwise"].delete()
    response = _send(client, "GET", "/api/v1/projects", Authorization=f"Bearer {token}")
    assert response.status_code == 200 and response.json() == []
    assert _send(client, "GET", "/api/v1/projects/ranking", Authorization=f"Bearer {token}").status_code == 403


def test_text_that_is_no_token_is_refused_without_a_query(client, world, django_assert_num_queries):
    for text in ["agora_\x00", "agora_abc_def", "x" * 5000, "agora_" + "0" * 12 + "_" + "a" * 42]:
        with django_assert_num_queries(0):
            response = _send(client, "GET", "/api/v1/projects", Authorization=f"Bearer {text}")
        assert response.status_code == 401
