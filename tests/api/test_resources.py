"""What each resource does, through the API as a client calls it (Django's test client on PostgreSQL)."""

import json

from django.core.management import call_command
from django.test import Client

from annotation.models import Item, Judgment, Project, Role
from annotation.queue import QueueEmpty, assignment_claim, assignment_submit
from api.models import ApiToken
from ratings.boards import Board
from ratings.services import run_create, run_execute

PAIR = [{"model": "alpha", "text": "first answer"}, {"model": "beta", "text": "second answer"}]


def _post(client, url, body, content_type="application/json"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type=content_type)


def _answer_everything(project, user) -> int:
    answered = 0
    while True:
        try:
            lease = assignment_claim(project=project, annotator=user)
        except QueueEmpty:
            return answered
        assignment_submit(assignment_id=lease.pk, annotator=user, data={"choice": "left"})
        answered += 1


def test_a_project_created_through_the_api_is_owned_by_its_creator(api_client, world):
    staff = api_client("staff")
    created = _post(staff, "/api/v1/projects", {"slug": "fresh", "name": "Fresh", "task_type": "ternary", "overlap": 2})
    assert created.status_code == 201, created.content
    assert created.json()["role"] == "owner" and created.json()["overlap"] == 2
    assert Project.objects.get(slug="fresh").memberships.get().role == Role.OWNER
    again = _post(staff, "/api/v1/projects", {"slug": "fresh", "name": "Again"})
    assert again.status_code == 409 and again.json()["errors"] == [{"field": "slug", "reason": "taken"}]
    # An owner is no staff and has no 'add project' permission.
    assert _post(api_client("owner"), "/api/v1/projects", {"slug": "mine", "name": "Mine"}).status_code == 403


def test_a_project_change_goes_through_the_settings_pages_checks(api_client, world):
    owner = api_client("owner")
    refused = owner.patch("/api/v1/projects/likert", {"scale": [5, 1]}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "scale_high"
    changed = owner.patch("/api/v1/projects/pairwise", {"overlap": 5, "blind": False}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["overlap"] == 5 and changed.json()["blind"] is False
    # A strict body: JSON's false, not 0.
    assert owner.patch("/api/v1/projects/pairwise", {"blind": 0}, content_type="application/json").status_code == 422


def test_members_are_set_and_removed_but_the_last_owner_stays(api_client, world):
    owner = api_client("owner")
    put = owner.put("/api/v1/projects/pairwise/members/other_owner", {"role": "reviewer"}, "application/json")
    assert put.json() == {"username": "other_owner", "role": "reviewer"}
    assert {"username": "other_owner", "role": "reviewer"} in owner.get("/api/v1/projects/pairwise/members").json()
    assert owner.delete("/api/v1/projects/pairwise/members/other_owner").status_code == 204
    last = owner.delete("/api/v1/projects/pairwise/members/owner")
    assert last.status_code == 409 and "at least one owner" in last.json()["detail"]


def test_a_bad_record_names_its_line_and_the_push_writes_nothing(api_client, world):
    owner = api_client("owner")
    before = Item.objects.count()
    lines = [
        json.dumps({"id": "ok-1", "prompt": "fine", "candidates": PAIR}),
        json.dumps({"id": "bad", "candidates": PAIR}),
        "{not json",
    ]
    response = _post(owner, "/api/v1/projects/pairwise/items", "\n".join(lines), "application/x-ndjson")
    assert response.status_code == 422
    fields = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert set(fields) == {"line 2", "line 3"}
    assert "prompt" in fields["line 2"] and "invalid JSON" in fields["line 3"]
    assert Item.objects.count() == before


def test_a_push_over_the_cap_is_refused_whole(api_client, world, monkeypatch):
    monkeypatch.setattr("api.items.MAX_PUSH", 3)
    items = [{"id": f"cap-{i}", "prompt": "p", "candidates": PAIR} for i in range(4)]
    response = _post(api_client("owner"), "/api/v1/projects/pairwise/items", items)
    assert response.status_code == 413 and "more than 3" in response.json()["detail"]
    assert not Item.objects.filter(comparison__key__startswith="project:pairwise:cap-").exists()


def test_a_retired_item_is_never_handed_out(api_client, world):
    owner = api_client("owner")
    items = [{"id": f"r{i}", "prompt": f"q{i}", "candidates": PAIR} for i in range(3)]
    _post(owner, "/api/v1/projects/ternary/items", items)
    assert owner.post("/api/v1/projects/ternary/items/r1/retire").json()["retired"]
    project = world.projects["ternary"]
    _answer_everything(project, world.users["annotator"])
    answered = set(Judgment.objects.filter(user=world.users["annotator"]).values_list("comparison__key", flat=True))
    assert "project:ternary:r0" in answered and "project:ternary:r2" in answered
    assert "project:ternary:r1" not in answered
    # A change of overlap recounts the open flags; a retired item stays closed.
    owner.patch("/api/v1/projects/ternary", {"overlap": 9}, content_type="application/json")
    assert not Item.objects.get(comparison__key="project:ternary:r1").open


def test_judgment_pages_hold_every_selected_row_once(api_client, world):
    project = world.projects["pairwise"]
    assert _answer_everything(project, world.users["annotator"]) >= 6
    owner = api_client("owner")
    seen, after = [], None
    while True:
        query = "project=pairwise&limit=4" + (f"&after={after}" if after else "")
        page = owner.get(f"/api/v1/judgments?{query}").json()
        seen += page["results"]
        after = page["next"]
        if after is None:
            break
    expected = Judgment.objects.filter(assignment__item__project=project).count()
    assert len(seen) == expected == len({row["id"] for row in seen})
    streamed = b"".join(owner.get("/api/v1/judgments/stream?project=pairwise").streaming_content)
    rows = [json.loads(line) for line in streamed.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in seen)
    assert {r["judgment"]["source"] for r in rows} == {"queue"}
    # Filters: the queue's source keeps them all; the arena's none; an unknown model none.
    assert len(owner.get("/api/v1/judgments?project=pairwise&source=queue&limit=100").json()["results"]) == expected
    assert owner.get("/api/v1/judgments?project=pairwise&source=arena").json()["results"] == []
    assert owner.get("/api/v1/judgments?project=pairwise&model=nobody").json()["results"] == []
    # Another owner's project is not theirs to read; a selection without a project is staff's.
    assert api_client("other_owner").get("/api/v1/judgments?project=pairwise").status_code == 404
    assert owner.get("/api/v1/judgments").status_code == 422
    assert api_client("staff").get("/api/v1/judgments").status_code == 200


def test_judgments_written_twice_are_stored_once(api_client, world):
    row = {
        "agora_raw": 1,
        "comparison": {
            "key": "external:1",
            "context": [{"role": "user", "content": "Which is better?"}],
            "source": "import",
            "created_at": "2026-01-01T00:00:00+00:00",
        },
        "candidates": [{"position": 0, "model": "alpha", "text": "x"}, {"position": 1, "model": "beta", "text": "y"}],
        "judgment": {
            "source": "ai",
            "judge_kind": "ai",
            "judge": "judge-model",
            "created_at": "2026-01-01T00:00:00+00:00",
            "outcome": "a",
        },
    }
    staff = api_client("staff")
    first = _post(staff, "/api/v1/judgments", json.dumps(row) + "\n", "application/x-ndjson")
    assert first.status_code == 200, first.content
    assert first.json()["judgments_added"] == 1
    again = _post(staff, "/api/v1/judgments", [row])
    assert again.json()["judgments_added"] == 0 and again.json()["judgments_present"] == 1
    assert Judgment.objects.filter(comparison__key="external:1").count() == 1
    broken = _post(staff, "/api/v1/judgments", [row | {"judgment": row["judgment"] | {"outcome": "sideways"}}])
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "line 1"
    # Owners read; only staff write judgments (as only the server's command imports them).
    assert _post(api_client("owner"), "/api/v1/judgments", [row]).status_code == 403


def test_a_token_over_its_rate_limit_is_told_when_to_come_back(api_client, world):
    limited = api_client("owner", rate_limit=2)
    codes = [limited.get("/api/v1/projects") for _ in range(5)]
    refused = [r for r in codes if r.status_code == 429]
    # Five requests within at most two minute windows: at least one is over a limit of 2 a minute.
    assert refused
    assert 1 <= int(refused[0]["Retry-After"]) <= 60
    assert refused[0].json()["status"] == 429


def test_a_board_reads_as_fit_ratings_writes_it(api_client, world):
    _answer_everything(world.projects["pairwise"], world.users["annotator"])
    owner = api_client("owner")
    assert owner.get("/api/v1/ratings/board?source=queue").status_code == 404
    run = run_execute(run_create(board=Board(source="queue"), trigger="manual", enqueue=False).pk)
    document = owner.get("/api/v1/ratings/board?source=queue").json()
    assert document["run"] == run.pk and document["board"] == run.board
    assert {m["model"] for m in document["models"]} == {"model-0", "model-1"}
    boards = {b["key"]: b for b in owner.get("/api/v1/ratings/boards").json()}
    assert boards[run.board]["latest_run"] == run.pk


def test_the_token_page_shows_a_new_token_once_and_revokes_it(persona_client, world):
    page = persona_client("owner")
    created = page.post(
        "/api/tokens/", {"name": "pipeline", "scope": "write", "projects": [world.projects["pairwise"].pk]}, follow=True
    )
    assert created.status_code == 200 and created.redirect_chain  # a reload cannot make a second one
    raw = created.context["created"]
    assert raw.startswith("agora_") and raw in created.content.decode()
    token = ApiToken.objects.get(user=world.users["owner"])
    assert raw not in json.dumps([token.digest, token.prefix, token.name])  # only its digest is kept
    assert raw not in page.get("/api/tokens/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert [p["slug"] for p in api.get("/api/v1/projects").json()] == ["pairwise"]
    # Someone else cannot revoke it; its owner can.
    persona_client("other_owner").post(f"/api/tokens/{token.pk}/revoke/")
    assert api.get("/api/v1/projects").status_code == 200
    page.post(f"/api/tokens/{token.pk}/revoke/")
    assert api.get("/api/v1/projects").status_code == 401


def test_the_command_prints_a_token_that_works(world, capsys):
    call_command("api_token", "owner", "--name", "script", "--scope", "read", "--project", "ranking")
    raw = capsys.readouterr().out.strip()
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert [p["slug"] for p in api.get("/api/v1/projects").json()] == ["ranking"]
    assert api.post("/api/v1/projects/ranking/items", "[]", content_type="application/json").status_code == 403


def test_a_browser_session_reads_and_needs_the_csrf_token_to_write(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["owner"])
    assert browser.get("/api/v1/projects/pairwise").status_code == 200
    response = browser.patch("/api/v1/projects/pairwise", {"overlap": 3}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_an_id_reused_with_other_texts_is_refused_by_name(api_client, world):
    owner = api_client("owner")
    first = {"id": "same", "prompt": "p", "candidates": PAIR}
    assert _post(owner, "/api/v1/projects/pairwise/items", [first]).json()["added"] == 1
    other = first | {"candidates": [PAIR[0], PAIR[1] | {"text": "changed"}]}
    response = _post(owner, "/api/v1/projects/pairwise/items", [other])
    assert response.status_code == 422
    assert "used before with other candidates" in response.json()["errors"][0]["reason"]


def test_a_body_over_the_byte_cap_is_refused_whole(api_client, world, monkeypatch):
    import api.bodies

    monkeypatch.setattr(api.bodies, "MAX_STREAMED_BYTES", 100)
    items = [{"id": f"big-{i}", "prompt": "p", "candidates": PAIR} for i in range(5)]
    response = _post(api_client("owner"), "/api/v1/projects/pairwise/items", items)
    assert response.status_code == 413 and "MB" in response.json()["detail"]
    assert not Item.objects.filter(comparison__key__startswith="project:pairwise:big-").exists()


def test_bodies_are_objects_and_options_are_their_values(api_client, world):
    owner = api_client("owner")
    for body in ([], None, "x"):
        response = owner.patch("/api/v1/projects/pairwise", json.dumps(body), content_type="application/json")
        assert response.status_code == 422, body
    typo = _post(owner, "/api/v1/exports", {"format": "raw", "project": "pairwise", "gold": "exlcude"})
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "gold"


def test_progress_leaves_retired_items_out(api_client, world):
    owner = api_client("owner")
    before = owner.get("/api/v1/projects/pairwise/progress").json()["items"]
    first = Item.objects.filter(project=world.projects["pairwise"]).select_related("comparison").first()
    owner.post(f"/api/v1/projects/pairwise/items/{first.comparison.key}/retire")
    assert owner.get("/api/v1/projects/pairwise/progress").json()["items"] == before - 1


def test_a_model_the_registry_refuses_names_its_field(api_client, world):
    response = _post(api_client("staff"), "/api/v1/models", {"name": "remote", "backend": "openai"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "endpoint", "reason": "The openai backend needs an endpoint (its base URL)."}
    ]
