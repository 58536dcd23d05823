"""Generating one side's answer: claim it, stream it, settle it.

The three steps are split so that the ORM stays in the Celery thread
(``answer_claim``, ``answer_settle``) and only the streaming runs on the
process's event loop (``answer_stream``). Every state change goes through a
conditional UPDATE or a row lock, so a redelivered task, the reaper and a
late worker cannot both settle the same answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from annotation.markdown import render_markdown
from arena.models import Answer, AnswerState, Battle, BattleState
from arena.services import conversation
from workers import publishing, stream_loop
from workers.backends import backend_for
from workers.backends.base import BackendError, Finished, ModelSpec

log = logging.getLogger(__name__)

# What the visitor reads. Never a model name, never the backend's own words.
TIMED_OUT = "This answer took too long, so the battle stopped here."
FAILED = "This model could not answer, so the battle stopped here."
BATTLE_FAILED = "One of the models did not answer. This battle will not count; start a new one."


@dataclass
class Job:
    answer_id: int
    group: str
    turn: int
    side: int
    spec: ModelSpec
    messages: list[dict]
    # The model's timeout counts from the moment the visitor asked, queueing included.
    stream_deadline: datetime


@dataclass
class Outcome:
    parts: list[str] = field(default_factory=list)
    finished: Finished | None = None
    error: str = ""
    timed_out: bool = False
    first_token_ms: int | None = None
    duration_ms: int | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def answer_claim(*, answer_id: int) -> Job | None:
    """Move a queued answer to generating. None if it was already taken, settled or reaped."""
    now = timezone.now()
    claimed = Answer.objects.filter(pk=answer_id, state=AnswerState.QUEUED, deadline__gt=now).update(
        state=AnswerState.GENERATING, started_at=now
    )
    if not claimed:
        return None
    answer = Answer.objects.select_related("battle", "model").get(pk=answer_id)
    earlier = list(Answer.objects.filter(battle_id=answer.battle_id, side=answer.side, turn__lt=answer.turn))
    return Job(
        answer_id=answer.pk,
        group=answer.battle.group_name,
        turn=answer.turn,
        side=answer.side,
        spec=answer.model.spec(),
        messages=conversation(earlier, answer.side) + [{"role": "user", "content": answer.prompt}],
        stream_deadline=answer.created_at + timedelta(seconds=answer.model.timeout_s),
    )


class ChunkSender:
    """Publishes an answer's deltas as they come, coalescing only under load.

    Each delta goes out at once while the previous message is delivered; deltas that
    arrive during a send wait and leave together as the next message. An idle system
    adds no latency, and a busy one sends fewer, larger messages instead of queueing
    one per token. Messages are numbered per answer (``seq``), the unit the stream
    buffer and the consumer's de-duplication count in.
    """

    def __init__(self, job: Job):
        self.job = job
        self.pending: list[str] = []
        self.seq = 0
        self.closed = False
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def add(self, text: str) -> None:
        self.pending.append(text)
        self.wake.set()

    async def close(self) -> None:
        self.closed = True
        self.wake.set()
        await self.task

    async def _run(self) -> None:
        job = self.job
        while True:
            if not self.pending:
                if self.closed:
                    return
                await self.wake.wait()
                self.wake.clear()
                continue
            text, self.pending = "".join(self.pending), []
            try:
                await publishing.chunk(
                    group=job.group, answer_id=job.answer_id, turn=job.turn, side=job.side, seq=self.seq, text=text
                )
            except Exception:  # the answer is still saved and sent whole when done; the page catches up then
                log.exception("answer %s: could not publish a chunk", job.answer_id)
            self.seq += 1


async def answer_stream(job: Job) -> Outcome:
    """Stream the answer to the battle's group; never raises, the outcome says what happened."""
    outcome = Outcome()
    started = time.monotonic()
    remaining = (job.stream_deadline - timezone.now()).total_seconds()
    sender = ChunkSender(job)
    try:
        async with asyncio.timeout(max(remaining, 0.0)):
            async for item in backend_for(job.spec).stream(job.messages):
                if isinstance(item, Finished):
                    outcome.finished = item
                    continue
                if not item:
                    continue
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = int((time.monotonic() - started) * 1000)
                outcome.parts.append(item)
                sender.add(item)
        if outcome.finished is None:
            outcome.error = "the backend ended without finishing the answer"
    except TimeoutError:
        outcome.timed_out = True
        outcome.error = f"no complete answer within {job.spec.timeout_s:g} s"
    except BackendError as error:
        outcome.error = str(error)
    except Exception as error:  # a backend bug must still settle the answer, not leave it generating
        log.exception("answer %s: unexpected error from the %s backend", job.answer_id, job.spec.backend)
        outcome.error = f"unexpected {type(error).__name__}: {error}"
    finally:
        await sender.close()
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _battle_state(answers: list[Answer]) -> str:
    latest = max(a.turn for a in answers)
    current = [a for a in answers if a.turn == latest]
    if any(a.state == AnswerState.FAILED for a in current):
        return BattleState.FAILED
    if all(a.state == AnswerState.DONE for a in current):
        return BattleState.READY
    return BattleState.GENERATING


def _settle(answer_id: int, allowed: tuple[str, ...], apply) -> None:
    """Lock battle then answer (always in that order), apply the change, update the battle, publish."""
    with transaction.atomic():
        battle_id = Answer.objects.values_list("battle_id", flat=True).get(pk=answer_id)
        battle = Battle.objects.select_for_update().get(pk=battle_id)
        answer = Answer.objects.select_for_update().get(pk=answer_id)
        if answer.state not in allowed:
            return  # someone settled it first (the reaper, or the worker just before it); theirs stands
        event = apply(answer)
        answer.finished_at = timezone.now()
        answer.save()
        events = [event]
        answers = list(battle.answers.all())
        state = _battle_state(answers) if battle.state != BattleState.VOTED else battle.state
        if state != battle.state:
            battle.state = state
            battle.error = BATTLE_FAILED if state == BattleState.FAILED else ""
            battle.ready_at = answer.finished_at if state == BattleState.READY else None
            battle.save(update_fields=["state", "error", "ready_at"])
            events.append({"type": "arena.state", "state": state, "message": battle.error})
        group = battle.group_name
        transaction.on_commit(lambda: stream_loop.run(publishing.events(group, events)))


def answer_settle(*, job: Job, outcome: Outcome) -> None:
    def apply(answer: Answer) -> dict:
        answer.text = outcome.text
        answer.first_token_ms = outcome.first_token_ms
        answer.duration_ms = outcome.duration_ms
        if outcome.error:
            answer.state = AnswerState.FAILED
            answer.error = outcome.error
            message = TIMED_OUT if outcome.timed_out else FAILED
            return {"type": "arena.failed", "turn": answer.turn, "side": answer.side, "message": message}
        answer.state = AnswerState.DONE
        answer.finish_reason = outcome.finished.finish_reason if outcome.finished else ""
        answer.output_tokens = outcome.finished.output_tokens if outcome.finished else None
        return {"type": "arena.done", "turn": answer.turn, "side": answer.side, "html": render_markdown(answer.text)}

    if outcome.error:
        log.warning("answer %s (%s) failed: %s", job.answer_id, job.spec.name, outcome.error)
    _settle(job.answer_id, (AnswerState.GENERATING,), apply)


def answer_fail(*, answer_id: int, error: str) -> None:
    """Fail an answer nobody finished (its worker died, or its task never ran)."""

    def apply(answer: Answer) -> dict:
        answer.state = AnswerState.FAILED
        answer.error = error
        return {"type": "arena.failed", "turn": answer.turn, "side": answer.side, "message": TIMED_OUT}

    _settle(answer_id, (AnswerState.QUEUED, AnswerState.GENERATING), apply)


def answers_reap(*, now: datetime | None = None) -> int:
    """Fail every unfinished answer past its deadline; returns how many."""
    now = now or timezone.now()
    stale = list(
        Answer.objects.filter(state__in=[AnswerState.QUEUED, AnswerState.GENERATING], deadline__lt=now).values_list(
            "pk", "state"
        )
    )
    for answer_id, state in stale:
        where = "its worker stopped while generating" if state == AnswerState.GENERATING else "no worker started it"
        answer_fail(answer_id=answer_id, error=f"past its deadline: {where}")
    return len(stale)
