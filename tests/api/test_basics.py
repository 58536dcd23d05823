import json

from annotation.models import Item

PAIR = [{"model": "m1", "text": "a"}, {"model": "m2", "text": "b"}]


def test_it_refuses_a_request_without_a_token_with_a_problem(client, world):
    response = client.get("/api/v1/projects")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert "Bearer" in response["WWW-Authenticate"]


def test_an_owner_lists_reads_and_pushes(api_client, world):
    owner = api_client("owner")
    slugs = [p["slug"] for p in owner.get("/api/v1/projects").json()]
    assert "pairwise" in slugs and world.other_project.slug not in slugs
    body = "\n".join(json.dumps({"id": f"x{i}", "prompt": f"p{i}", "candidates": PAIR}) for i in range(5))
    response = owner.post("/api/v1/projects/pairwise/items", body, content_type="application/x-ndjson")
    assert response.status_code == 200, response.content
    assert response.json() == {"read": 5, "added": 5, "already": 0}
    again = owner.post("/api/v1/projects/pairwise/items", body, content_type="application/x-ndjson")
    assert again.json() == {"read": 5, "added": 0, "already": 5}
    item = owner.get("/api/v1/projects/pairwise/items/x3").json()
    assert item["id"] == "x3" and item["open"]
    retired = owner.post("/api/v1/projects/pairwise/items/x3/retire").json()
    assert retired["retired"] and not retired["open"]
    assert Item.objects.get(comparison__key="project:pairwise:x3").retired


def test_ids_and_model_names_may_hold_a_slash(api_client, world):
    owner, staff = api_client("owner"), api_client("staff")
    item = {"id": "batch/7", "prompt": "p", "candidates": PAIR}
    assert owner.post("/api/v1/projects/pairwise/items", [item], content_type="application/json").status_code == 200
    assert owner.get("/api/v1/projects/pairwise/items/batch/7").json()["id"] == "batch/7"
    assert owner.post("/api/v1/projects/pairwise/items/batch/7/retire").json()["retired"]
    created = staff.post(
        "/api/v1/models",
        {"name": "org/model-7b", "backend": "replay", "model_id": "org/model-7b"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert staff.get("/api/v1/models/org/model-7b").json()["name"] == "org/model-7b"
    assert staff.post("/api/v1/models/org/model-7b/deactivate").json()["active"] is False


def test_an_unknown_api_path_answers_a_problem(api_client, world):
    response = api_client("owner").get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_text_the_database_cannot_hold_is_refused_by_name(api_client, world):
    staff = api_client("staff")
    body = {"name": "m", "backend": "replay", "model_id": "m", "params": {"stop": {"k\x00": 1}}}
    response = staff.post("/api/v1/models", body, content_type="application/json")
    assert response.status_code == 422
    assert "NUL" in response.json()["errors"][0]["reason"]
    nul_in_query = staff.get("/api/v1/judgments", {"category": "a\x00b"})
    assert nul_in_query.status_code == 400 and "NUL" in nul_in_query.json()["detail"]
