"""The open leaderboard changes when a fit lands, with no reload and no polling: headless Chromium
against the ASGI server, with a real Celery worker fitting the board and the news on the real
channel layer (Redis).

Votes and the refit are made from another thread while the browser is open: Playwright's sync API
keeps an asyncio loop running in this one, and Django then refuses database calls here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from agora_datasets.imports.service import judgments_import
from ratings import services
from ratings.boards import board_from_query
from ratings.models import RatingRun, RunState
from tests.conftest import running_worker
from tests.e2e.browser import TIMEOUT_MS, browser_context
from tests.e2e.test_errors_in_browser import in_other_thread

pytestmark = pytest.mark.browser

MODELS = ("alpha", "beta", "gamma")


def votes_file(folder: Path, name: str, count: int) -> Path:
    """``count`` arena-format votes, each its own battle, every pair of models in turn."""
    path = folder / f"{name}.jsonl"
    with path.open("w") as out:
        for i in range(count):
            a, b = MODELS[i % 3], MODELS[(i + 1) % 3]
            prompt = f"{name} question {i}"
            record = {
                "model_a": a,
                "model_b": b,
                "winner": ("model_a", "model_b", "tie")[i % 4 % 3],
                "judge": f"{name}_voter_{i}",
                "conversation_a": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"{a} says"}],
                "conversation_b": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"{b} says"}],
            }
            out.write(json.dumps(record) + "\n")
    return path


def test_the_open_leaderboard_shows_new_votes_and_the_new_fit_without_a_reload(asgi_server, tmp_path):
    board = board_from_query({})
    assert judgments_import(path=votes_file(tmp_path, "first", 30), format="arena").judgments_added == 30
    first = services.run_execute(services.run_create(board=board, trigger="manual", enqueue=False).pk)
    assert first.state == RunState.DONE and first.judgments == 30
    later = votes_file(tmp_path, "later", 12)

    worker = running_worker(connection.settings_dict["NAME"])
    with worker, browser_context(f"http://{asgi_server}", TIMEOUT_MS) as context:
        page = context.new_page()
        page.goto("/leaderboard/")
        expect(page.locator("#fit-status")).to_contain_text("over 30 judgments")
        expect(page.locator("#votes-since")).to_have_text("0 votes since.")
        expect(page.locator("body")).to_have_attribute("data-leaderboard-socket", "open")
        # Gone if the page reloads: the changes below must come to this very document.
        page.evaluate("() => { window.sameDocument = true; }")

        in_other_thread(lambda: judgments_import(path=later, format="arena"))
        expect(page.locator("#votes-since")).to_have_text("12 votes since.")

        in_other_thread(lambda: services.run_create(board=board, trigger="manual"))  # the worker fits it
        expect(page.locator("#fit-status")).to_contain_text("over 42 judgments")
        expect(page.locator("#votes-since")).to_have_text("0 votes since.")
        expect(page.locator("table.leaderboard tbody tr")).to_have_count(3)
        assert page.evaluate("() => window.sameDocument === true")

    latest = RatingRun.objects.filter(board=board.key, state=RunState.DONE).first()
    assert latest.pk != first.pk and latest.judgments == 42
