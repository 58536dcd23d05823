"""Battles through a real Celery worker process, and what they survive: a worker killed mid-stream,
database connections killed under it, a battle whose answers were never sent to the queue.

Nothing here waits for the clock to decide: the reaper is called with a ``now`` past the heartbeat's
window, or the data is set as it would be that long after.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, connections
from django.db.models import F
from kombu.exceptions import OperationalError as BrokerDown

from arena import generation, heartbeat, services, tasks
from arena.models import Answer, AnswerState, Battle, BattleState
from tests.arena.conftest import register_openai
from tests.arena.test_generation import ConnectionKiller, admin_connection, is_settle_lock, run_and_listen
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


def wait_for_tokens(answers: list[Answer], timeout: float = 30) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + timeout
    while not all(client.llen(buffer_key(a.pk)) > 0 for a in answers):
        assert time.monotonic() < deadline, "no tokens streamed"
        time.sleep(0.05)


def terminate_other_connections() -> int:
    """The server ends every connection to the test database but the one asking, as a restart would."""
    with admin_connection() as admin:
        return admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


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


def test_a_worker_killed_mid_stream_is_noticed_by_its_silent_heartbeat(celery_worker_process, fake_openai):
    # Stalling models with a long timeout: the answers stream until the worker dies, and their
    # deadline is far off, so only the heartbeat can tell.
    register_openai("Stalling A", "stall-a", fake_openai.url, timeout_s=120.0)
    register_openai("Stalling B", "stall-b", fake_openai.url, timeout_s=120.0)
    battle = services.battle_create(prompt="Take your time.", judge=JUDGE)
    answers = list(battle.answers.all())
    wait_for_tokens(answers)

    # The worker beats for both while they stream (that the reaper leaves a beating answer alone is
    # tests/arena/test_generation.py's).
    deadline = time.monotonic() + 30
    while not all(a.heartbeat_at > a.started_at for a in battle.answers.all()):
        assert time.monotonic() < deadline, "the worker does not beat"
        time.sleep(0.1)

    celery_worker_process.send_signal(signal.SIGKILL)
    celery_worker_process.wait(10)
    assert set(Answer.objects.filter(battle=battle).values_list("state", flat=True)) == {"generating"}

    # One window after the last beat: both are failed, and the page is told.
    last_beat = max(a.heartbeat_at for a in battle.answers.all())
    now = last_beat + timedelta(seconds=heartbeat.STALE_S + 1)
    assert now < min(a.deadline for a in answers)
    events = run_and_listen(
        battle.group_name,
        lambda: generation.answers_reap(now=now),
        until=lambda ev: sum(e["type"] == "arena.failed" for e in ev) == 2,
    )

    battle.refresh_from_db()
    assert battle.state == BattleState.FAILED and battle.error == generation.BATTLE_FAILED
    assert set(battle.answers.values_list("state", flat=True)) == {"failed"}
    assert all("stopped beating" in e for e in battle.answers.values_list("error", flat=True))
    assert sorted((e["side"], e["message"]) for e in events if e["type"] == "arena.failed") == [
        (0, generation.STOPPED),
        (1, generation.STOPPED),
    ]


def test_connections_the_server_kills_under_a_streaming_worker_cost_its_answers_nothing(celery_worker_process):
    with FakeOpenAIServer(tokens=60, rate=30) as slow:  # 2 s per answer: the kill lands mid-stream
        register_openai("Slow A", "slow-a", slow.url)
        register_openai("Slow B", "slow-b", slow.url)
        battle = services.battle_create(prompt="Hold on.", judge=JUDGE)
        wait_for_tokens(list(battle.answers.all()))
        # The worker's pooled connections (at least the pool's one kept open) die, as in a restart;
        # this test's own goes back to its pool first, where it is checked before its next use.
        connection.close()
        assert terminate_other_connections() >= 1
        wait_for_state(battle, {BattleState.READY}, timeout=60)
    assert all(text.endswith(" w59") for text in battle.answers.values_list("text", flat=True))


@pytest.mark.timeout(180)
def test_an_answer_its_task_could_not_save_is_saved_by_a_worker_with_its_outcome(
    transactional_db, two_models, fake_openai, monkeypatch
):
    monkeypatch.setattr(generation, "RECONNECT_DELAYS_S", (0.0, 0.0))
    monkeypatch.setattr(tasks, "SETTLE_RETRY_S", 0)
    battle = services.battle_create(prompt="Save me.", judge=JUDGE)
    requests = len(fake_openai.requests)

    # Every settle loses its connection, retries included: the task hands the outcome on and ends.
    killer = ConnectionKiller(is_settle_lock, times=None)
    with killer.around():
        for answer in battle.answers.all():
            tasks.generate_answer(answer.pk)
    assert killer.kills == 2 * (len(generation.RECONNECT_DELAYS_S) + 1)
    assert set(battle.answers.values_list("state", flat=True)) == {"generating"}

    # A worker finds the outcomes in the queue (and the battle's first tasks, now empty-handed).
    connections.close_all()
    with running_worker(connections["default"].settings_dict["NAME"], concurrency=2, log_name="worker-settle"):
        wait_for_state(battle, {BattleState.READY}, timeout=60)
    assert all(text.endswith(" w15") for text in battle.answers.values_list("text", flat=True))
    assert len(fake_openai.requests) == requests + 2


@pytest.mark.timeout(120)
def test_a_battle_whose_answers_never_reached_the_queue_is_started_by_the_reaper(
    celery_worker_process, celery_beat_process, two_models, client, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as broken:
        broken.setattr(tasks.generate_answer, "apply_async", broker_down)
        response = client.post("/arena/", {"prompt": "Anyone?"})
    # The battle was saved: the visitor goes to it, and the failure is in the log, not a 500.
    assert response.status_code == 302
    battle = Battle.objects.get()
    assert set(battle.answers.values_list("state", flat=True)) == {"queued"}
    assert caplog.text.count("could not send it to the queue") == 2

    # As it stands one window later: beat's reaper sends both again and the worker answers.
    Answer.objects.filter(battle=battle).update(heartbeat_at=F("heartbeat_at") - timedelta(seconds=heartbeat.STALE_S))
    wait_for_state(battle, {BattleState.READY}, timeout=60)
    assert all(text.endswith(" w15") for text in battle.answers.values_list("text", flat=True))


def test_a_pooled_connection_the_server_killed_costs_the_next_request_nothing(transactional_db, client):
    assert client.get("/healthz").status_code == 200
    connection.close()  # back to the pool, which keeps it open
    assert terminate_other_connections() >= 1
    # The pool checks the connection before lending it, and opens another.
    assert client.get("/healthz").status_code == 200
