"""The leaderboard page: who may do what, what it shows, and that nothing on it is raw."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from annotation.candidates import style_fields
from annotation.models import Candidate, Comparison, Judgment, Source
from ratings import services
from ratings.boards import Board
from ratings.models import RatingRun, RunState

pytestmark = pytest.mark.django_db

EVIL = '<script>alert("x")</script>'


def _battles(models: list[str], n: int = 30) -> None:
    from django.utils import timezone

    now = timezone.now()
    for i in range(n):
        a, b = models[i % len(models)], models[(i + 1) % len(models)]
        c = Comparison.objects.create(
            key=f"t:{i}", context=[{"role": "user", "content": "hi"}], prompt="hi", source=Source.ARENA, created_at=now
        )
        for position, model in enumerate((a, b)):
            Candidate.objects.create(
                comparison=c, position=position, model=model, text="x" * (i + 1), **style_fields("x" * (i + 1))
            )
        Judgment.objects.create(
            comparison=c,
            source=Source.ARENA,
            judge_kind="voter",
            judge=f"voter:{i % 3}",
            outcome=["a", "b", "tie"][i % 3],
            display_order=[0, 1],
            created_at=now,
        )


def _fitted(board: Board) -> RatingRun:
    return services.run_execute(services.run_create(board=board, trigger="manual", enqueue=False).pk)


def test_the_board_shows_ratings_chart_heatmap_and_biases_escaped(client):
    _battles(["alpha", "beta", EVIL])
    run = _fitted(Board())
    assert run.state == RunState.DONE
    page = client.get("/leaderboard/").content.decode()
    assert "Rank (UB)" in page and "alpha" in page and "ci-chart" in page and "heatmap" in page
    assert "Position: share of decisive votes" in page and "NaN" not in page and "nan" not in page
    assert EVIL not in page and "&lt;script&gt;" in page
    assert "Refit now" not in page


def test_a_board_never_fitted_queues_one_fit_and_shows_observed_results(client, django_capture_on_commit_callbacks):
    _battles(["alpha", "beta"])
    with django_capture_on_commit_callbacks(execute=False):
        page = client.get("/leaderboard/?ties=davidson").content.decode()
        client.get("/leaderboard/?ties=davidson")
    assert "No fit of this board yet" in page and "alpha" in page
    assert RatingRun.objects.filter(board="davidson", state=RunState.QUEUED).count() == 1


def test_a_page_view_fits_only_boards_of_known_categories(client, django_capture_on_commit_callbacks):
    _battles(["alpha", "beta"])
    Comparison.objects.filter(key="t:0").update(category="coding")
    with django_capture_on_commit_callbacks(execute=False):
        for typed in ("anything new", "another", "\x00", "x" * 5000):
            response = client.get("/leaderboard/", {"category": typed})
            assert response.status_code == 404
            assert "No judgments have that category; showing all categories." in response.content.decode()
        assert client.get("/leaderboard/", {"category": "coding"}).status_code == 200
    # The nearest board (all categories) and the known one, each queued once; nothing for the typed texts.
    assert sorted(RatingRun.objects.values_list("board", flat=True)) == ["bt", "bt|category=coding"]
    User.objects.create_user("sam", password="pw-sam-123", is_staff=True)
    client.login(username="sam", password="pw-sam-123")
    assert client.post("/leaderboard/refit/", {"category": "\x00"}).status_code == 404
    assert RatingRun.objects.count() == 2


def test_only_staff_refit(client, django_capture_on_commit_callbacks):
    _battles(["alpha", "beta"])
    _fitted(Board())
    before = RatingRun.objects.count()
    assert client.post("/leaderboard/refit/", {"ties": "half"}).status_code == 302
    User.objects.create_user("annie", password="pw-annie-123")
    client.login(username="annie", password="pw-annie-123")
    client.post("/leaderboard/refit/", {"ties": "half"})
    assert RatingRun.objects.count() == before
    User.objects.create_user("sam", password="pw-sam-123", is_staff=True)
    client.login(username="sam", password="pw-sam-123")
    assert "Refit now" in client.get("/leaderboard/").content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/leaderboard/refit/", {"ties": "half", "query": "ties=half"})
    assert response.status_code == 302 and response["Location"].endswith("?ties=half")
    assert RatingRun.objects.count() == before + 1


def test_groups_view_and_a_failed_fit_say_what_happened(client):
    _battles(["alpha", "beta", "gamma"], n=60)
    run = _fitted(Board(method="mixture"))
    assert run.state == RunState.DONE
    page = client.get("/leaderboard/?view=groups").content.decode()
    assert "Preference groups" in page and "Group 1" in page and "held-out log-likelihood" in page
    failed = _fitted(Board(category="none-here"))
    assert failed.state == RunState.FAILED and "no judgments" in failed.error
