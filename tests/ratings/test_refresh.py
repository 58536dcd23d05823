"""Ratings over the stored judgments: the loader, the command, the stored runs and the refresh."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from ratings import selectors, services
from ratings.boards import Board
from ratings.models import RatingRun, RunState
from tests.conftest import running_worker
from tests.datasets.test_import import LLMFAO, run_import
from tests.ratings.data import golden

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd():
    run_import(LLMFAO / "crowd-comparisons.csv", "llmfao")


def fit(*args: str) -> tuple[dict, str]:
    out = io.StringIO()
    path = f"/tmp/agora-fit-{time.monotonic_ns()}.json"
    call_command("fit_ratings", *args, "--output", path, stdout=out)
    with open(path) as f:
        return json.load(f), out.getvalue()


def test_the_command_reproduces_the_golden_scores_from_postgresql(crowd):
    expected = golden("llmfao")
    result, printed = fit("--bootstrap", "20")
    assert result["judgments"] == 8931 and len(result["models"]) == 59
    strengths = {r["model"]: np.exp((r["rating"] - 1000) / (400 / np.log(10))) for r in result["models"]}
    total = sum(strengths.values())
    for model, score in expected["bradley_terry"].items():
        assert strengths[model] / total == pytest.approx(score, rel=1e-6)
    assert "8931 judgments, 59 models" in printed
    # Online Elo replays the votes in the file's order (k = 4 as in the golden file).
    elo, _ = fit("--method", "elo")
    assert elo["models"][0]["lower"] is None
    run = RatingRun.objects.get(pk=elo["run"])
    assert run.state == RunState.DONE and run.judgments == 8931
    for row in run.result["models"]:
        # The command's Elo uses the engine's default K = 4, the golden file's.
        assert row["rating"] == pytest.approx(expected["elo"][row["model"]], rel=1e-6)


def test_every_method_stores_a_finite_run(crowd):
    for args in (
        ["--method", "rao-kupper", "--bootstrap", "5"],
        ["--method", "davidson", "--ci", "none"],
        ["--style", "--bootstrap", "5"],
        ["--ci", "sandwich"],
        ["--method", "mixture", "--groups", "2"],
        ["--method", "winrate", "--baseline", "GPT 3.5 Turbo"],
    ):
        result, _ = fit(*args)
        json.dumps(result, allow_nan=False)
        assert result["models"], args
    style, _ = fit("--style", "--bootstrap", "5")
    assert set(style["style_coefficients"]) == {"tokens", "headers", "lists", "bold"}
    mixture, _ = fit("--method", "mixture", "--groups", "2")
    assert len(mixture["group_rankings"]) == 2


def test_bad_requests_get_clear_messages(crowd):
    with pytest.raises(CommandError, match="no judgments"):
        fit("--category", "no-such-category")
    with pytest.raises(CommandError, match="baseline"):
        fit("--method", "winrate")
    failed = RatingRun.objects.filter(state=RunState.FAILED)
    assert failed.count() == 2 and all(r.error for r in failed)


def test_a_database_without_judgments_is_a_message_not_a_crash():
    with pytest.raises(CommandError, match="no judgments"):
        fit()


def test_the_loader_reads_strengths_preferences_and_display_order(crowd):
    from annotation.models import Judgment

    j = Judgment.objects.order_by("id").first()
    Judgment.objects.filter(pk=j.pk).update(outcome="a", strength=-2, display_order=[1, 0])
    k = Judgment.objects.order_by("id")[1]
    Judgment.objects.filter(pk=k.pk).update(preference=0.8)
    Judgment.objects.filter(pk=Judgment.objects.order_by("id")[2].pk).update(display_order=None)
    graded = selectors.votes_load(Board(graded=True))
    plain = selectors.votes_load(Board())
    assert graded.votes.y[0] == pytest.approx(0.5 + 2 / 6) and plain.votes.y[0] == 1.0
    assert graded.votes.y[1] == pytest.approx(0.8) and not graded.votes.tie[1]
    assert plain.first_shown[0] == 1 and plain.first_shown[2] == -1
    assert plain.last_judgment_id == Judgment.objects.order_by("-id").first().pk


@override_settings(
    AGORA_RATINGS_EVERY_JUDGMENTS=100,
    AGORA_RATINGS_INTERVAL_S=3600,
    AGORA_RATINGS_BOARDS=[{"method": "bt", "bootstrap": 10}],
)
def test_a_refresh_is_due_after_enough_new_judgments(crowd, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = services.refresh_due()
    assert len(first) == 1
    assert services.refresh_due() == [], "never two fits of one board at once"
    services.run_execute(first[0].pk)
    assert services.refresh_due() == [], "nothing new since the fit"


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_fits_a_queued_run_with_progress(crowd):
    board = Board(bootstrap=50)
    with running_worker(connection.settings_dict["NAME"]):
        run = services.run_create(board=board, trigger="manual")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.state in (RunState.DONE, RunState.FAILED):
                break
            time.sleep(0.2)
    assert run.state == RunState.DONE, run.error
    assert run.progress == 1.0 and run.judgments == 8931 and run.duration_ms > 0
    assert set(run.timings) == {"read_s", "fit_s", "store_s"}
    assert selectors.run_latest(board).pk == run.pk
