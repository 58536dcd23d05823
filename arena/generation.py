"""Generating one side's answer: claim it, stream it, settle it.

The three steps are split so that the ORM stays in the Celery thread
(``answer_claim``, ``answer_settle``) and only the streaming runs on the
process's event loop (``answer_stream``). Every state change goes through a
conditional UPDATE or a row lock, so a redelivered task, the reaper and a
late worker cannot both settle the same answer.

The database steps outlive a lost connection (a PostgreSQL restart, a backend
killed by the server or a pooler): each runs again on a fresh connection after
a short pause, a few times (``_reconnecting``), and each is safe to run twice.
An answer whose worker died is noticed by its silent heartbeat
(arena/heartbeat.py) and failed by the reaper within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from django import db
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.markdown import render_markdown
from arena import heartbeat
from arena.models import Answer, AnswerState, Battle, BattleState
from arena.services import answers_enqueue, conversation
from arena.sql import POSTMASTER_START_SQL
from workers import publishing, stream_loop
from workers.backends import backend_for
from workers.backends.base import BackendError, Finished, ModelSpec

log = logging.getLogger(__name__)

# What PostgreSQL cannot hold in a text column (NUL) and what UTF-8 cannot encode (an unpaired
# surrogate, e.g. a JSON "\\ud800" from a model server). A model's answer is not refused for them:
# each becomes U+FFFD as it arrives, so the page, the saved answer and the exports all see the same text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# What the visitor reads. Never a model name, never the backend's own words.
TIMED_OUT = "This answer took too long, so the battle stopped here."
FAILED = "This model could not answer, so the battle stopped here."
STOPPED = "This answer was interrupted on our side, so the battle stopped here."
BATTLE_FAILED = "One of the models did not answer. This battle will not count; start a new one."

# What a lost connection looks like through Django: psycopg's errors on a dead connection (and the
# pool's timeout) come out as OperationalError, a connection Django already closed as InterfaceError.
LOST_CONNECTION = (db.OperationalError, db.InterfaceError)
# Pauses between the runs of a database step whose connection was lost: about 8 s in all, enough for
# a PostgreSQL restart, shorter than the reaper's patience (heartbeat.STALE_S) with a silent worker.
RECONNECT_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 4.0)

T = TypeVar("T")


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

    def to_dict(self) -> dict:
        """As plain data, for a task's arguments (the settle that outlives its worker's retries)."""
        return asdict(replace(self, parts=[self.text]))

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        finished = data.get("finished")
        return cls(**{**data, "finished": Finished(**finished) if finished else None})


def _reconnecting(step: Callable[[], T], what: str) -> T:
    """Run STEP; when its database connection is lost, run it again on a fresh one, a few times."""
    for delay in RECONNECT_DELAYS_S:
        try:
            return step()
        except LOST_CONNECTION as error:
            log.warning("%s: lost the database connection (%s); again in %g s", what, error, delay)
            # A broken connection goes back to the pool, which throws it away; the next query opens another.
            with contextlib.suppress(db.DatabaseError):
                db.connection.close()
            time.sleep(delay)
    return step()


def answer_claim(*, answer_id: int) -> Job | None:
    """Move a queued answer to generating. None if it was already taken, settled or reaped.

    The claim's time is also its token: when the UPDATE committed but the connection died before
    its reply came, the claim run again finds the answer generating since that very instant and
    takes it as its own, instead of leaving it to the reaper.
    """
    now = timezone.now()
    return _reconnecting(lambda: _claim(answer_id, now), f"answer {answer_id}: claim")


def _claim(answer_id: int, now: datetime) -> Job | None:
    ours = Q(state=AnswerState.QUEUED) | Q(state=AnswerState.GENERATING, started_at=now)
    claimed = Answer.objects.filter(ours, pk=answer_id, deadline__gt=now).update(
        state=AnswerState.GENERATING, started_at=now, heartbeat_at=now
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
                item = _UNSTORABLE.sub("\ufffd", item)
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
    if outcome.error:
        log.warning("answer %s (%s) failed: %s", job.answer_id, job.spec.name, outcome.error)
    return outcome


def _battle_state(answers: list[Answer]) -> str:
    latest = max(a.turn for a in answers)
    current = [a for a in answers if a.turn == latest]
    if any(a.state == AnswerState.FAILED for a in current):
        return BattleState.FAILED
    if all(a.state == AnswerState.DONE for a in current):
        return BattleState.READY
    return BattleState.GENERATING


def _settle(answer_id: int, change: Callable[[Answer], dict | None]) -> None:
    """Lock battle then answer (always in that order), apply CHANGE, update the battle, publish.

    CHANGE edits the locked answer and returns the event that tells the page, or None when there is
    nothing to tell (someone settled it first: the reaper, or the worker just before it; theirs
    stands). An event with the answer's state unchanged is a settle told again (see answer_settle).
    """
    with transaction.atomic():
        battle_id = Answer.objects.values_list("battle_id", flat=True).get(pk=answer_id)
        battle = Battle.objects.select_for_update().get(pk=battle_id)
        answer = Answer.objects.select_for_update().get(pk=answer_id)
        was = answer.state
        event = change(answer)
        if event is None:
            return
        events = [event]
        if answer.state == was:
            if battle.state != BattleState.GENERATING:
                events.append({"type": "arena.state", "state": battle.state, "message": battle.error})
        else:
            answer.finished_at = timezone.now()
            answer.save()
            answers = list(battle.answers.all())
            state = _battle_state(answers) if battle.state != BattleState.VOTED else battle.state
            if state != battle.state:
                battle.state = state
                battle.error = BATTLE_FAILED if state == BattleState.FAILED else ""
                battle.ready_at = answer.finished_at if state == BattleState.READY else None
                battle.save(update_fields=["state", "error", "ready_at"])
                events.append({"type": "arena.state", "state": state, "message": battle.error})
        group = battle.group_name
        # robust: the answer is saved whatever happens to the channel layer; the page reads it on reload.
        transaction.on_commit(lambda: stream_loop.run(publishing.events(group, events)), robust=True)


def answer_settle(*, answer_id: int, outcome: Outcome) -> None:
    """Save a generating answer's outcome and tell the page; the text is never dropped.

    Run again after a lost connection, it may find its own earlier commit (the reply was lost, not
    the COMMIT): it tells the page again, since the first telling never happened. Found failed by the
    reaper (its worker went silent while the database was away, or it passed its deadline), the
    answer keeps that verdict but takes the text and figures, for operators and exports.
    """

    def record(answer: Answer) -> None:
        answer.text = outcome.text
        answer.first_token_ms = outcome.first_token_ms
        answer.duration_ms = outcome.duration_ms
        answer.finish_reason = outcome.finished.finish_reason if outcome.finished else ""
        answer.output_tokens = outcome.finished.output_tokens if outcome.finished else None

    def event(answer: Answer) -> dict:
        if outcome.error:
            message = TIMED_OUT if outcome.timed_out else FAILED
            return {"type": "arena.failed", "turn": answer.turn, "side": answer.side, "message": message}
        return {"type": "arena.done", "turn": answer.turn, "side": answer.side, "html": render_markdown(answer.text)}

    def change(answer: Answer) -> dict | None:
        if answer.state == AnswerState.GENERATING:
            record(answer)
            answer.state = AnswerState.FAILED if outcome.error else AnswerState.DONE
            answer.error = outcome.error
            return event(answer)
        # Only this answer's one claimant settles it DONE, and the reaper's errors are its own words.
        if answer.state == AnswerState.DONE and not outcome.error and answer.text == outcome.text:
            return event(answer)
        if answer.state == AnswerState.FAILED and outcome.error and answer.error == outcome.error:
            return event(answer)
        if answer.state == AnswerState.FAILED and not answer.text and outcome.text:
            record(answer)
            answer.save(update_fields=["text", "first_token_ms", "duration_ms", "finish_reason", "output_tokens"])
        return None

    _reconnecting(lambda: _settle(answer_id, change), f"answer {answer_id}: settle")


def answer_fail(*, answer_id: int, error: str, message: str = TIMED_OUT, silent_since: datetime | None = None) -> None:
    """Fail an answer nobody finished (its worker died, or its task never ran).

    With SILENT_SINCE, only if it is still generating and its worker has not beaten since then
    (it may have, between the reaper's look and this lock).
    """

    def change(answer: Answer) -> dict | None:
        if not answer.is_open:
            return None
        if silent_since is not None and (
            answer.state != AnswerState.GENERATING or (answer.heartbeat_at and answer.heartbeat_at >= silent_since)
        ):
            return None
        answer.state = AnswerState.FAILED
        answer.error = error
        return {"type": "arena.failed", "turn": answer.turn, "side": answer.side, "message": message}

    _reconnecting(lambda: _settle(answer_id, change), f"answer {answer_id}: fail")


def _database_up_since() -> datetime:
    with db.connection.cursor() as cursor:
        cursor.execute(POSTMASTER_START_SQL)
        return cursor.fetchone()[0]


def answers_reap(*, now: datetime | None = None) -> int:
    """Act on open answers past their deadline or gone silent; returns how many.

    Past its deadline (the model's timeout plus grace), an answer is failed. Silent for
    heartbeat.STALE_S (see arena/heartbeat.py), a queued answer is sent to the queue again (its
    battle was saved but never enqueued, or its worker died holding the task) and a generating one
    is failed: its worker died. After a PostgreSQL restart no worker could beat, so silence counts
    only once the server has been up that long.
    """
    now = now or timezone.now()
    open_answers = Answer.objects.filter(state__in=[AnswerState.QUEUED, AnswerState.GENERATING])
    late = list(open_answers.filter(deadline__lt=now).values_list("pk", "state"))
    for answer_id, state in late:
        where = "its worker stopped while generating" if state == AnswerState.GENERATING else "no worker started it"
        answer_fail(answer_id=answer_id, error=f"past its deadline: {where}")

    quiet = now - timedelta(seconds=heartbeat.STALE_S)
    silent = open_answers.filter(deadline__gte=now, heartbeat_at__lt=quiet)
    unsent = list(silent.filter(state=AnswerState.QUEUED).select_related("model"))
    if unsent:
        # Marked first: each is sent again at most once per STALE_S, however the sending goes.
        Answer.objects.filter(pk__in=[a.pk for a in unsent], state=AnswerState.QUEUED).update(heartbeat_at=now)
        log.warning("sending %d queued answers to the queue again: %s", len(unsent), [a.pk for a in unsent])
        answers_enqueue(answers=unsent)
    stopped: list[int] = []
    if _database_up_since() < quiet:
        stopped = list(silent.filter(state=AnswerState.GENERATING).values_list("pk", flat=True))
    for answer_id in stopped:
        answer_fail(
            answer_id=answer_id,
            error=f"its worker stopped beating for {heartbeat.STALE_S:g} s while generating",
            message=STOPPED,
            silent_since=quiet,
        )
    return len(late) + len(unsent) + len(stopped)
