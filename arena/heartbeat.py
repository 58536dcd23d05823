"""An open answer's sign of life, so one whose worker died is noticed in seconds, not at its deadline.

A worker process beats for every answer it is streaming: one thread per process writes
``Answer.heartbeat_at`` for all of them every BEAT_S, in one UPDATE (a process streaming 64
answers costs one statement per beat, not 64). A queued answer's sign of life is its last sending
to the queue: its creation, then each time the reaper sends it again. The reaper
(``generation.answers_reap``, on beat every AGORA_REAP_INTERVAL_S) acts on an answer silent for
STALE_S: a queued one is sent to the queue again (the claim is a conditional UPDATE, so a second
delivery is harmless), a generating one is failed with its message. A visitor then waits at most
STALE_S plus the reaper's interval (8 + 5 s) on an answer whose worker was killed, or whose battle
was saved by a web process that died before enqueueing it, or while the broker was down.

The beat proves the process and its database connection are alive, not that the stream moves:
a stalled stream is bounded by the model's timeout, as before. A silent answer is failed rather
than started again because the page already shows part of it: a second stream would not match.
The broker's redelivery of a dead worker's task (late acknowledgement) comes much later, and its
claim then finds the answer settled and does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from django import db
from django.utils import timezone

from arena.models import Answer, AnswerState

log = logging.getLogger(__name__)

BEAT_S = 2.0
# Four beats missed. A PostgreSQL restart that silences every worker is not read as their death:
# the reaper waits until the server has been up this long (answers_reap).
STALE_S = 8.0

_streaming: set[int] = set()
_lock = threading.Lock()
_thread: threading.Thread | None = None


@contextlib.contextmanager
def beating(answer_id: int) -> Iterator[None]:
    """Beat for ANSWER_ID while inside: its worker is streaming or saving it."""
    global _thread
    with _lock:
        _streaming.add(answer_id)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="agora-heartbeat", daemon=True)
            _thread.start()
    try:
        yield
    finally:
        with _lock:
            _streaming.discard(answer_id)


def answers_beat(*, answer_ids: list[int]) -> int:
    """Mark these answers alive now; those no longer generating (settled, reaped) are left alone."""
    return Answer.objects.filter(pk__in=answer_ids, state=AnswerState.GENERATING).update(heartbeat_at=timezone.now())


def _run() -> None:
    while True:
        time.sleep(BEAT_S)
        with _lock:
            answer_ids = sorted(_streaming)
        if not answer_ids:
            continue
        try:
            answers_beat(answer_ids=answer_ids)
        except db.DatabaseError as error:  # the database is away: the next beat tries a fresh connection
            log.warning("could not beat for %d answers: %s", len(answer_ids), error)
        except Exception:  # anything else must not end the thread: its answers would be reaped as dead
            log.exception("could not beat for %d answers", len(answer_ids))
        finally:
            # Back to the pool between beats, broken or not.
            with contextlib.suppress(db.DatabaseError):
                db.connection.close()
