"""The Python client (client/agora_client) against the real stack: uvicorn on the test database, a Celery
worker for the export and the fit, PostgreSQL and Redis. Items go in through the client, are annotated through
the queue's services as the task page would, and come back out through the client as judgments, an export and
a leaderboard. Only the client's own retry logic is tested against a mock transport."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import datasets
import httpx
import pytest

if importlib.util.find_spec("agora_client") is None:  # not installed (pip install -e ./client): the tree's copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client"))

from agora_client import AgoraError, Client, Forbidden, Invalid, NotFound, PushReport, RateLimited, Unauthorized

from annotation.models import Project
from annotation.queue import assignment_claim, assignment_submit
from ratings.models import RatingRun

SLUG = "client-e2e"
# Items go round the pairs; the stronger model wins but in the fourth round, so each pair ends 3 to 1: a clear
# order, with upsets so that no model beats another every time (the fit then has a finite answer).
STRENGTH = {"alpha": 3, "beta": 2, "gamma": 1}
PAIRS = [("alpha", "beta"), ("beta", "gamma"), ("gamma", "alpha")]
DEADLINE_S = 120


def records(prefix: str, count: int, start: int = 0) -> list[dict]:
    """Items ``{prefix}{start}`` and on, with a pair of candidates each; every other one is a chat (``messages``,
    no ``prompt``) without a category."""
    rows = []
    for n in range(start, start + count):
        a, b = PAIRS[n % 3]
        question = f"{prefix} question {n} — ünïcode"
        row = {
            "id": f"{prefix}{n}",
            "candidates": [{"model": a, "text": f"{a} answers {prefix}{n}"}, {"model": b, "text": f"{b} answers"}],
        }
        if n % 2 == 0:
            row |= {"prompt": question, "category": "coding"}
        else:
            row["messages"] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]
        rows.append(row)
    return rows


def question(record: dict) -> str:
    return record.get("prompt") or record["messages"][-1]["content"]


def expected_winner(item_id: str, model_a: str, model_b: str) -> str:
    """ "a" or "b": the stronger model, except in the fourth round (items 9 to 11)."""
    upset = int(item_id[1:]) // 3 == 3
    stronger_first = STRENGTH[model_a] > STRENGTH[model_b]
    return "a" if stronger_first != upset else "b"


def annotate_all(project: Project, annotator) -> dict[str, str]:
    """Answer every item of the project as the annotator, through the queue's services; returns the outcome
    stored for each comparison key."""
    outcomes = {}
    for _ in range(project.items.count()):
        lease = assignment_claim(project=project, annotator=annotator)
        comparison = lease.item.comparison
        models = {c.position: c.model for c in comparison.candidates.all()}
        winner = 0 if expected_winner(comparison.key.rsplit(":", 1)[1], models[0], models[1]) == "a" else 1
        choice = "left" if lease.display_order[0] == winner else "right"  # the side the winner is shown on
        judgment, created = assignment_submit(
            assignment_id=lease.pk, annotator=annotator, data={"choice": choice}, time_spent_ms=1500
        )
        assert created
        outcomes[comparison.key] = judgment.outcome
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_items_pushed_through_the_client_come_back_as_judgments_an_export_and_a_board(
    asgi_server, celery_worker_process, world, token_for, tmp_path
):
    base = f"http://{asgi_server}"
    with Client(base, token_for("staff")) as staff, Client(base, token_for("owner")) as owner:
        created = staff.projects.create(slug=SLUG, name="Client end to end", task_type="pairwise", overlap=1)
        assert created["slug"] == SLUG and created["role"] == "owner"
        assert staff.projects.set_member(SLUG, "owner", "owner") == {"username": "owner", "role": "owner"}
        staff.projects.set_member(SLUG, "annotator", "annotator")
        assert {m["username"] for m in owner.projects.members(SLUG)} == {"staff", "owner", "annotator"}
        assert owner.projects.update(SLUG, guidelines="Pick the better answer.")["guidelines"].startswith("Pick")

        # 1. Push a list and a Dataset; the same again adds nothing, in any batch size.
        listed, tabled = records("l", 6), records("d", 6, start=6)
        assert owner.items.push(SLUG, listed) == PushReport(read=6, added=6, already=0)
        # A table has every column in every row: the chats' prompt and category, the others' messages, are None.
        table = datasets.Dataset.from_list([{"prompt": None, "messages": None, "category": None} | r for r in tabled])
        assert table[1]["prompt"] is None and table[0]["messages"] is None
        assert owner.items.push(SLUG, table) == PushReport(6, 6, 0)
        assert owner.items.push(SLUG, listed + tabled, batch_size=5) == PushReport(read=12, added=0, already=12)
        items = list(owner.items.list(SLUG))
        assert sorted(i["id"] for i in items) == sorted(r["id"] for r in listed + tabled)
        item = owner.items.get(SLUG, "d7")
        assert item["category"] == "" and [c["model"] for c in item["candidates"]] == ["beta", "gamma"]
        assert item["context"] == tabled[1]["messages"]
        assert owner.items.get(SLUG, "d6")["context"] == [{"role": "user", "content": tabled[0]["prompt"]}]
        assert owner.projects.progress(SLUG)["items"] == 12

        # 2. The annotator answers every item, as the task page would.
        outcomes = annotate_all(Project.objects.get(slug=SLUG), world.users["annotator"])
        assert len(outcomes) == 12 and set(outcomes.values()) == {"a", "b"}
        assert owner.projects.progress(SLUG)["annotations"] == 12

        # 3. The judgments come back, as pages, a stream, a Dataset and a DataFrame.
        judged = owner.judgments.to_datasets(project=SLUG)
        assert judged.num_rows == 12
        assert judged.column_names[:3] == ["id", "comparison_key", "prompt"]
        pushed = {f"project:{SLUG}:{r['id']}": r for r in listed + tabled}
        for row in judged:
            record = pushed[row["comparison_key"]]
            assert row["prompt"] == question(record)
            assert (row["model_a"], row["model_b"]) == tuple(c["model"] for c in record["candidates"])
            assert row["text_a"] == record["candidates"][0]["text"]
            assert row["outcome"] == outcomes[row["comparison_key"]]
            assert row["outcome"] == expected_winner(record["id"], row["model_a"], row["model_b"])
            assert row["source"] == "queue" and row["judge"] == f"user:{world.users['annotator'].pk}"
            assert row["category"] == record.get("category", "") and row["time_spent_ms"] == 1500
            assert len(row["candidates"]) == 2 and row["scores"] == []
        frame = owner.judgments.to_pandas(project=SLUG, model="gamma")
        assert len(frame) == 8 and set(frame["comparison_key"]) == {k for k, r in pushed.items() if _has(r, "gamma")}
        paged = list(owner.judgments.list(project=SLUG, model=["alpha", "beta"]))
        assert len(paged) == 12 and {r["id"] for r in paged} == set(judged["id"])

        # 4. An export of the project, run by the worker, downloaded and read.
        export = owner.exports.create(format="raw", project=SLUG).wait(progress=False, timeout=DEADLINE_S)
        assert export.state == "done" and export.rows == 12 and export.files[0] == "manifest.json"
        paths = export.download_all(tmp_path / "export")
        assert [p.name for p in paths] == export.files and all(p.is_file() for p in paths)
        assert json.loads(paths[0].read_text()) == export.manifest()
        lines = [json.loads(line) for p in paths[1:] for line in p.read_text().splitlines()]
        assert len(lines) == 12
        assert {(r["comparison"]["key"], r["judgment"]["outcome"]) for r in lines} == set(outcomes.items())
        assert owner.exports.get(export.id).state == "done" and export.id in {e.id for e in owner.exports.list()}

        # 5. The leaderboard, fitted by the worker on a staff refit.
        with pytest.raises(NotFound):
            staff.ratings.board()
        run = staff.ratings.refit()
        board = _board_when_fitted(staff, run["run"])
        assert board["run"] == run["run"] and board["judgments"] == 12
        rating = {m["model"]: m["rating"] for m in board["models"]}
        assert rating["alpha"] > rating["beta"] > rating["gamma"] and len(rating) == 3
        assert run["board"] in {b["key"] for b in staff.ratings.boards()}


def _has(record: dict, model: str) -> bool:
    return model in {c["model"] for c in record["candidates"]}


def _board_when_fitted(client: Client, run_id: int) -> dict:
    """The board once the worker has fitted it; a board never fitted answers 404 until then."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            return client.ratings.board()
        except NotFound:
            run = RatingRun.objects.get(pk=run_id)
            assert run.state != "failed", run.error
            assert time.monotonic() < deadline, f"no fit after {DEADLINE_S} s; the run is {run.state}"
            time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_the_client_raises_the_apis_problems(asgi_server, world, token_for):
    base = f"http://{asgi_server}"
    slug = world.projects["pairwise"].slug
    good = records("e", 2)

    with Client(base, token_for("owner", scope="read")) as reader, pytest.raises(Forbidden) as refused:
        reader.items.push(slug, good)
    assert refused.value.status == 403 and "read-only" in refused.value.detail

    bad = [good[0], {"id": "no-prompt", "candidates": good[1]["candidates"]}]
    with Client(base, token_for("owner")) as owner:
        with pytest.raises(Invalid) as invalid:
            owner.items.push(slug, bad)
        assert invalid.value.status == 422
        assert invalid.value.errors == [{"field": "line 2", "reason": "a record needs a prompt (or messages)"}]
        assert "line 2: a record needs a prompt" in str(invalid.value)
        assert owner.items.push(slug, good).added == 2  # the refused push wrote nothing, not even its good line

        with pytest.raises(NotFound) as missing:
            owner.projects.get("no-such-project")
        assert missing.value.status == 404 and missing.value.title == "Not Found"

    with Client(base, "agora_000000000000_not-a-token") as stranger, pytest.raises(Unauthorized) as unknown:
        stranger.projects.list()
    assert unknown.value.status == 401

    # Two requests a minute, and no retries: the third (or, across a minute's end, the fifth) is refused.
    with Client(base, token_for("owner", rate_limit=2), max_retries=0) as limited, pytest.raises(RateLimited) as over:
        for _ in range(5):
            limited.projects.list()
    assert over.value.status == 429 and 0 <= over.value.retry_after <= 60
    assert isinstance(over.value, AgoraError)


def test_the_client_waits_as_retry_after_says_then_tries_again():
    answers = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={"title": "Too Many Requests", "status": 429}),
        httpx.Response(503, headers={"Retry-After": "0"}, json={"title": "Service Unavailable", "status": 503}),
        httpx.Response(200, json=[{"slug": "p"}]),
    ]
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    with Client("http://agora.test", "agora_x_y", transport=httpx.MockTransport(handler)) as client:
        assert client.projects.list() == [{"slug": "p"}]
    assert len(seen) == 3
    assert all(r.headers["Authorization"] == "Bearer agora_x_y" for r in seen)
    assert seen[0].url == "http://agora.test/api/v1/projects"


def test_the_client_gives_up_after_max_retries_and_resends_a_push_whole():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return httpx.Response(
            429,
            headers={"Retry-After": "0", "Content-Type": "application/problem+json"},
            json={"title": "Too Many Requests", "status": 429, "detail": "Over this token's limit.", "errors": []},
        )

    with Client("http://agora.test", "t", max_retries=2, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RateLimited) as over:
            client.items.push("p", records("m", 3))
    assert over.value.detail == "Over this token's limit." and over.value.retry_after == 0
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert [json.loads(line)["id"] for line in bodies[0].splitlines()] == ["m0", "m1", "m2"]


def test_the_client_retries_a_lost_connection_for_reads_only():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, json={"slug": "p"})

    with Client("http://agora.test", "t", transport=httpx.MockTransport(handler)) as client:
        assert client.projects.get("p") == {"slug": "p"}
        calls.clear()
        with pytest.raises(httpx.ReadError):
            client.projects.create(slug="p", name="P")  # a create might have happened: not sent twice
    assert calls == ["POST"]
