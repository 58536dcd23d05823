"""Generation for real against our loopback OpenAI server: streaming, settling, failures, the reaper.

The task body runs in the test process (the Celery transport is covered by the
worker tests); events are read from the real Redis channel layer.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.db import connections
from django.utils import timezone

from arena import services
from arena.models import Answer, AnswerState, Battle, BattleState
from tests.arena.conftest import MODEL_IDS, MODEL_NAMES, register_openai
from workers import generation
from workers.tasks import generate_answer

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


def run_battle(battle: Battle) -> list[dict]:
    def work():
        for answer in battle.answers.all():
            generate_answer(answer.pk)

    return run_and_listen(battle.group_name, work, until=lambda ev: any(e["type"] == "arena.state" for e in ev))


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
    started = timezone.now()
    events = run_battle(battle)
    assert (timezone.now() - started).total_seconds() < 5

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
    Answer.objects.filter(battle=stale, side=0).update(state=AnswerState.GENERATING, started_at=timezone.now())
    Answer.objects.filter(battle=stale).update(deadline=timezone.now() - timedelta(seconds=1))

    events = run_and_listen(stale.group_name, generation.answers_reap,
                            until=lambda ev: sum(e["type"] == "arena.failed" for e in ev) == 2)

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
    assert generation.answers_reap() == 0
    # A worker that shows up late finds nothing to do.
    assert generation.answer_claim(answer_id=stale.answers.first().pk) is None


def test_a_local_transformers_model_battles_a_remote_one(db, fake_openai, tmp_path):
    from arena.registry import model_register
    from tests.fakes.tiny_model import build_tiny_model

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
