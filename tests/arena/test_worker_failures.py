"""Battles through a real Celery worker process, including one killed mid-generation."""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connections

from arena import services
from arena.models import Answer, AnswerState, Battle, BattleState
from tests.arena.conftest import register_openai
from tests.conftest import running_worker
from tests.fakes.openai_server import FakeOpenAIServer
from workers.publishing import buffer_key

JUDGE = "voter:worker-tests"


def wait_for_state(battle: Battle, states: set[str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        battle.refresh_from_db()
        if battle.state in states:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"battle still {battle.state} after {timeout}s: {list(battle.answers.values())}")


def test_a_worker_streams_a_battle_to_ready(celery_worker_process, two_models):
    battle = services.battle_create(prompt="Hello, worker.", judge=JUDGE)
    wait_for_state(battle, {BattleState.READY}, timeout=30)
    assert set(battle.answers.values_list("state", flat=True)) == {AnswerState.DONE}


def test_an_erroring_model_through_the_worker_ends_the_battle_and_keeps_the_other_side(
    celery_worker_process, fake_openai
):
    register_openai("Steady", "steady", fake_openai.url)
    register_openai("Faulty", "error-faulty", fake_openai.url)
    battle = services.battle_create(prompt="Hello?", judge=JUDGE)
    wait_for_state(battle, {BattleState.FAILED}, timeout=30)
    # The healthy side finishes even though the battle already failed.
    deadline = time.monotonic() + 10
    while Answer.objects.filter(battle=battle, state__in=["queued", "generating"]).exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    states = {a.model.name: (a.state, a.text) for a in battle.answers.select_related("model")}
    assert states["Faulty"][0] == "failed"
    assert states["Steady"][0] == "done" and states["Steady"][1].endswith(" w15")


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_generation_leaves_nothing_stuck(celery_worker_process, celery_beat_process, settings):
    settings.AGORA_ARENA_DEADLINE_GRACE_S = 1.0
    with FakeOpenAIServer(tokens=400, rate=20) as slow:  # 20 s per answer: long enough to kill mid-way
        register_openai("Slow A", "slow-a", slow.url, timeout_s=4.0)
        register_openai("Slow B", "slow-b", slow.url, timeout_s=4.0)
        battle = services.battle_create(prompt="Take your time.", judge=JUDGE)
        answers = list(battle.answers.all())

        # Wait until tokens flow, then kill the worker without letting it clean up.
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        deadline = time.monotonic() + 20
        while not all(client.llen(buffer_key(a.pk)) > 0 for a in answers):
            assert time.monotonic() < deadline, "no tokens streamed"
            time.sleep(0.05)
        celery_worker_process.send_signal(signal.SIGKILL)
        celery_worker_process.wait(10)
        assert set(Answer.objects.filter(battle=battle).values_list("state", flat=True)) == {"generating"}

    # The reaper is a task: a worker must run it. Start a fresh one, as a supervisor would.
    connections.close_all()
    with running_worker(connections["default"].settings_dict["NAME"], concurrency=2, log_name="worker-reaper"):
        waited = wait_for_state(battle, {BattleState.FAILED}, timeout=30)
    # Deadline = created + 4 s timeout + 1 s grace; beat runs the reaper every 0.5 s.
    assert waited < 15
    assert battle.state == BattleState.FAILED
    assert set(battle.answers.values_list("state", flat=True)) == {"failed"}
    assert all("its worker stopped" in e for e in battle.answers.values_list("error", flat=True))
