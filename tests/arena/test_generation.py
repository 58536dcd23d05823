"""Generation for real against our loopback OpenAI server: streaming, settling, failures, the reaper.

The task body runs in the test process (the Celery transport is covered by the
worker tests); events are read from the real Redis channel layer. A lost database
connection is a real one: the server terminates the backend under the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from channels.layers import get_channel_layer
from django.db import connection, connections
from django.utils import timezone

from arena import generation, heartbeat, services
from arena.models import Answer, AnswerState, Battle, BattleState
from arena.registry import model_register
from arena.tasks import generate_answer
from tests.arena.conftest import MODEL_IDS, MODEL_NAMES, register_openai
from tests.fakes.tiny_model import build_tiny_model
from workers.backends.base import Finished

pytestmark = pytest.mark.django_db(transaction=True)
JUDGE = "voter:generation-tests"


def run_and_listen(group: str, work, until=lambda events: False, timeout: float = 20) -> list[dict]:
    """Run WORK in a thread while collecting the group's events; stop when it is done and UNTIL holds."""

    async def main() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        events: list[dict] = []
        job = asyncio.get_running_loop().run_in_executor(None, _closing_connections, work)
        deadline = asyncio.get_running_loop().time() + timeout
        while not (job.done() and until(events)):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"events so far: {events}")
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), 0.2))
            except TimeoutError:
                continue
        job.result()
        await layer.group_discard(group, channel)
        return events

    return asyncio.run(main())


def _closing_connections(work) -> None:
    try:
        work()
    finally:
        connections.close_all()  # this thread's connection would otherwise hold the test database open


def run_battle(
    battle: Battle,
    around: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> list[dict]:
    """Run both answers' task bodies in a thread, inside AROUND (entered in that thread)."""

    def work():
        with around():
            for answer in battle.answers.all():
                generate_answer(answer.pk)

    return run_and_listen(battle.group_name, work, until=lambda ev: any(e["type"] == "arena.state" for e in ev))


def admin_connection() -> psycopg.Connection:
    """A connection of its own to the test database, outside Django and its pool."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"], autocommit=True
    )


def terminate_backend(pid: int) -> None:
    """The server ends this backend, as a PostgreSQL restart or a pooler's timeout would; returns once it is gone."""
    with admin_connection() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone()[0]


class ConnectionKiller:
    """An execute wrapper that has the server kill this thread's connection at a chosen statement.

    BEFORE: the statement then runs on the dead connection and fails. AFTER: the statement runs
    and commits, and the one after it fails (a reply lost after the work was done). TIMES: how many
    matching statements (None: all of them).
    """

    def __init__(self, match: Callable[[str], bool], when: str = "before", times: int | None = 1):
        self.match, self.when, self.left, self.kills = match, when, times, 0

    def __call__(self, execute, sql, params, many, context):
        if self.left == 0 or not self.match(sql):
            return execute(sql, params, many, context)
        if self.left is not None:
            self.left -= 1
        pid = context["connection"].connection.info.backend_pid
        if self.when == "before":
            self.kills += 1
            terminate_backend(pid)
            return execute(sql, params, many, context)
        result = execute(sql, params, many, context)
        self.kills += 1
        terminate_backend(pid)
        return result

    def around(self) -> contextlib.AbstractContextManager:
        return connection.execute_wrapper(self)


def is_claim(sql: str) -> bool:
    return sql.startswith('UPDATE "arena_answer" SET "state" = ')


def is_settle_lock(sql: str) -> bool:
    return sql.startswith("SELECT") and sql.endswith("FOR UPDATE")


@pytest.fixture
def quick_reconnects(monkeypatch):
    monkeypatch.setattr(generation, "RECONNECT_DELAYS_S", (0.0, 0.0))


def test_both_answers_stream_to_the_battle_group_and_are_saved(two_models, fake_openai):
    battle = services.battle_create(prompt="Say something.", judge=JUDGE)
    events = run_battle(battle)

    for side in (0, 1):
        chunks = [e for e in events if e["type"] == "arena.chunk" and e["side"] == side]
        # One message per token unless the system is busy; numbered without gaps either way.
        assert len(chunks) >= 2 and [c["seq"] for c in chunks] == list(range(len(chunks)))
        answer = Answer.objects.get(battle=battle, side=side)
        assert answer.state == AnswerState.DONE
        assert answer.text == "".join(c["text"] for c in chunks)
        assert re.fullmatch(r"\[[0-9a-f]+\] w0( w\d+){15}", answer.text)
        assert answer.output_tokens == 16 and answer.finish_reason == "stop"
        assert answer.first_token_ms is not None and answer.duration_ms >= answer.first_token_ms
        done = [e for e in events if e["type"] == "arena.done" and e["side"] == side]
        assert len(done) == 1 and answer.text.split()[-1] in done[0]["html"]
    assert events[-1] == {"type": "arena.state", "state": "ready", "message": ""}
    battle.refresh_from_db()
    assert battle.state == BattleState.READY and battle.ready_at is not None
    # Nothing that names a model travels on the group.
    flat = repr(events).lower()
    assert not any(name.lower() in flat for name in MODEL_NAMES + MODEL_IDS)


@pytest.mark.parametrize(
    ("model_id", "public", "operator"),
    [
        ("error-model", "could not answer", "500"),
        ("cut-model", "could not answer", "ended before the answer was complete"),
        ("stall-model", "took too long", "no complete answer within 1 s"),
    ],
)
def test_a_failing_model_ends_the_battle_cleanly_and_the_other_side_is_kept(
    db, fake_openai, model_id, public, operator
):
    healthy = register_openai("Healthy", "healthy", fake_openai.url)
    broken = register_openai("Broken", model_id, fake_openai.url, timeout_s=1.0)
    battle = services.battle_create(prompt="Go.", judge=JUDGE)
    events = run_battle(battle)

    battle.refresh_from_db()
    assert battle.state == BattleState.FAILED
    assert "will not count" in battle.error and "Broken" not in battle.error
    bad_side = 0 if battle.model_a == broken else 1
    failed = [e for e in events if e["type"] == "arena.failed"]
    assert [(e["side"], public in e["message"]) for e in failed] == [(bad_side, True)]
    bad = Answer.objects.get(battle=battle, side=bad_side)
    assert bad.state == AnswerState.FAILED and operator in bad.error
    good = Answer.objects.get(battle=battle, side=1 - bad_side)
    assert good.state == AnswerState.DONE and good.text.endswith(" w15") and good.model == healthy
    assert [e["state"] for e in events if e["type"] == "arena.state"] == ["failed"]
    with pytest.raises(services.VoteRefused, match="failed"):
        services.vote_record(battle=battle, judge=JUDGE, vote=services.Vote(choice="a"))


def test_a_redelivered_task_does_not_stream_twice(two_models, fake_openai):
    battle = services.battle_create(prompt="Once.", judge=JUDGE)
    run_battle(battle)
    requests = len(fake_openai.requests)
    answer = battle.answers.first()
    generate_answer(answer.pk)
    assert len(fake_openai.requests) == requests
    answer.refresh_from_db()
    assert answer.state == AnswerState.DONE


def test_the_reaper_fails_answers_past_their_deadline_and_only_those(two_models):
    stale = services.battle_create(prompt="Nobody works on me.", judge=JUDGE)
    fresh = services.battle_create(prompt="Still in time.", judge=JUDGE)
    now = timezone.now()
    Answer.objects.filter(battle=stale, side=0).update(state=AnswerState.GENERATING, started_at=now)
    Answer.objects.filter(battle=stale).update(deadline=now - timedelta(seconds=1))
    Answer.objects.update(heartbeat_at=now)  # every answer just showed a sign of life: only deadlines count

    events = run_and_listen(
        stale.group_name,
        lambda: generation.answers_reap(now=now),
        until=lambda ev: sum(e["type"] == "arena.failed" for e in ev) == 2,
    )

    assert {(a.side, a.state) for a in stale.answers.all()} == {(0, "failed"), (1, "failed")}
    errors = sorted(stale.answers.values_list("error", flat=True))
    assert errors == [
        "past its deadline: its worker stopped while generating",
        "past its deadline: no worker started it",
    ]
    stale.refresh_from_db()
    assert stale.state == BattleState.FAILED
    assert sorted(e["side"] for e in events if e["type"] == "arena.failed") == [0, 1]
    assert set(fresh.answers.values_list("state", flat=True)) == {"queued"}
    assert generation.answers_reap(now=now) == 0
    # A worker that shows up late finds nothing to do.
    assert generation.answer_claim(answer_id=stale.answers.first().pk) is None


def test_a_local_transformers_model_battles_a_remote_one(db, fake_openai, tmp_path):
    path = build_tiny_model(tmp_path / "tiny")
    model_register(name="Tiny Local", backend="transformers", model_id=str(path), params={"max_tokens": 12})
    register_openai("Remote", "remote", fake_openai.url)
    battle = services.battle_create(prompt="hello there", judge=JUDGE)
    events = run_battle(battle)

    battle.refresh_from_db()
    assert battle.state == BattleState.READY
    local = Answer.objects.get(battle=battle, model__name="Tiny Local")
    assert local.text.strip() and local.output_tokens == 12 and local.finish_reason == "length"
    chunks = [e for e in events if e["type"] == "arena.chunk" and e["side"] == local.side]
    assert len(chunks) > 1 and "".join(c["text"] for c in chunks) == local.text


# ---------------------------------------------------------------- a lost database connection


@pytest.mark.parametrize(
    ("match", "when"),
    [(is_claim, "before"), (is_claim, "after"), (is_settle_lock, "before")],
    ids=["claim", "claim-reply-lost", "settle"],
)
def test_a_step_whose_connection_dies_runs_again_and_the_answer_settles_with_its_text(
    two_models, fake_openai, quick_reconnects, match, when
):
    battle = services.battle_create(prompt="Keep going.", judge=JUDGE)
    requests = len(fake_openai.requests)
    killer = ConnectionKiller(match, when)
    events = run_battle(battle, around=killer.around)

    assert killer.kills == 1
    battle.refresh_from_db()
    assert battle.state == BattleState.READY
    for answer in battle.answers.all():
        assert answer.state == AnswerState.DONE and re.fullmatch(r"\[[0-9a-f]+\] w0( w\d+){15}", answer.text)
    # Each answer streamed once: a claim run again after its reply was lost knew the answer as its own.
    assert len(fake_openai.requests) == requests + 2
    assert sorted(e["side"] for e in events if e["type"] == "arena.done") == [0, 1]
    assert [e["state"] for e in events if e["type"] == "arena.state"] == ["ready"]


def test_a_settle_run_again_after_its_commit_tells_the_page_again(two_models, fake_openai):
    battle = services.battle_create(prompt="Once more.", judge=JUDGE)
    run_battle(battle)
    answer = battle.answers.get(side=1)
    finished = answer.finished_at
    outcome = generation.Outcome(parts=[answer.text], finished=Finished("stop", 16))

    # What a settle finds when its COMMIT went through but the reply was lost with the connection.
    events = run_and_listen(
        battle.group_name,
        lambda: generation.answer_settle(answer_id=answer.pk, outcome=outcome),
        until=lambda ev: any(e["type"] == "arena.state" for e in ev),
    )

    assert [(e["type"], e.get("side")) for e in events] == [("arena.done", 1), ("arena.state", None)]
    assert events[-1]["state"] == "ready"
    answer.refresh_from_db()
    assert answer.finished_at == finished


def test_an_answer_the_reaper_failed_still_keeps_the_text_its_worker_settles_late(two_models):
    battle = services.battle_create(prompt="Too late.", judge=JUDGE)
    answer = battle.answers.get(side=0)
    assert generation.answer_claim(answer_id=answer.pk) is not None
    generation.answer_fail(answer_id=answer.pk, error="its worker stopped beating", message=generation.STOPPED)

    outcome = generation.Outcome(parts=["All ", "done."], finished=Finished("stop", 2), first_token_ms=5)
    generation.answer_settle(answer_id=answer.pk, outcome=outcome)

    answer.refresh_from_db()
    assert (answer.state, answer.error) == (AnswerState.FAILED, "its worker stopped beating")
    assert (answer.text, answer.output_tokens, answer.first_token_ms) == ("All done.", 2, 5)
    battle.refresh_from_db()
    assert battle.state == BattleState.FAILED


def test_an_outcome_travels_as_plain_data():
    outcome = generation.Outcome(parts=["a", "b"], finished=Finished("length", 2), first_token_ms=3, duration_ms=9)
    failed = generation.Outcome(parts=["a"], error="cut", timed_out=True)

    for original in (outcome, failed):
        copy = generation.Outcome.from_dict(original.to_dict())
        assert (copy.text, copy.finished, copy.error, copy.timed_out) == (
            original.text,
            original.finished,
            original.error,
            original.timed_out,
        )
        assert (copy.first_token_ms, copy.duration_ms) == (original.first_token_ms, original.duration_ms)


# ---------------------------------------------------------------- the heartbeat


def test_the_reaper_fails_a_generating_answer_whose_worker_went_silent_and_spares_a_beating_one(two_models):
    battle = services.battle_create(prompt="Anyone there?", judge=JUDGE)
    silent, beating = battle.answers.order_by("side")
    for answer in (silent, beating):
        assert generation.answer_claim(answer_id=answer.pk) is not None
    now = timezone.now() + timedelta(seconds=heartbeat.STALE_S + 1)
    heartbeat.answers_beat(answer_ids=[beating.pk])  # the other worker is alive...
    Answer.objects.filter(pk=beating.pk).update(heartbeat_at=now - timedelta(seconds=1))  # ...and beat a moment ago

    events = run_and_listen(
        battle.group_name,
        lambda: generation.answers_reap(now=now),
        until=lambda ev: any(e["type"] == "arena.state" for e in ev),
    )

    silent.refresh_from_db()
    beating.refresh_from_db()
    assert silent.state == AnswerState.FAILED and "stopped beating" in silent.error
    assert beating.state == AnswerState.GENERATING
    assert [e for e in events if e["type"] == "arena.failed"] == [
        {"type": "arena.failed", "turn": 0, "side": silent.side, "message": generation.STOPPED}
    ]
    assert events[-1]["state"] == "failed"


def test_the_reaper_sends_a_queued_answer_nobody_claimed_to_the_queue_again(two_models, monkeypatch):
    battle = services.battle_create(prompt="Lost on the way.", judge=JUDGE)
    created = battle.answers.first().heartbeat_at
    sent: list[int] = []
    monkeypatch.setattr(generate_answer, "apply_async", lambda args, **options: sent.append(args[0]))

    assert generation.answers_reap(now=created + timedelta(seconds=heartbeat.STALE_S - 1)) == 0
    now = created + timedelta(seconds=heartbeat.STALE_S + 1)
    assert generation.answers_reap(now=now) == 2
    assert sorted(sent) == sorted(battle.answers.values_list("pk", flat=True))
    # Sent again at most once a window.
    assert generation.answers_reap(now=now + timedelta(seconds=1)) == 0
    assert set(battle.answers.values_list("state", flat=True)) == {"queued"}


def test_an_answer_with_text_postgresql_cannot_hold_is_saved_with_replacement_characters(db, fake_openai):
    # The fake answers with a NUL and an unpaired surrogate; both must reach neither the database nor the page.
    register_openai("Healthy", "healthy", fake_openai.url)
    register_openai("Odd", "unstorable-model", fake_openai.url)
    battle = services.battle_create(prompt="Go.", judge=JUDGE)
    events = run_battle(battle)

    battle.refresh_from_db()
    assert battle.state == BattleState.READY
    odd = Answer.objects.get(battle=battle, model__name="Odd")
    assert odd.state == AnswerState.DONE
    assert odd.text == "[u] a\ufffdb c\ufffdd end"
    chunks = [e["text"] for e in events if e["type"] == "arena.chunk" and e["side"] == odd.side]
    assert "".join(chunks) == odd.text
