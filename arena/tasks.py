"""Celery tasks of the arena. Thin shells: load by id, call a service, own retries and limits.

Each keeps the name it had when it lived in workers/tasks.py (pre_annotate: in annotation/tasks.py):
tasks already queued in the broker, and the beat schedule (CELERY_BEAT_SCHEDULE in
config/settings.py), name them that way.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django import db

from annotation.models import Project
from arena import generation, heartbeat
from arena.pre_annotation import project_pre_annotate
from workers import stream_loop

log = logging.getLogger(__name__)


@shared_task(name="workers.generate_answer", ignore_result=True)
def generate_answer(answer_id: int) -> None:
    """Stream one side's answer into its battle. Limits live in the answer's deadline, not here."""
    job = generation.answer_claim(answer_id=answer_id)
    if job is None:
        return  # taken, settled or reaped already: a redelivery must not stream twice
    # Hand the connection back to the pool while streaming: an answer takes seconds and
    # needs no database until it settles, so a small pool serves many streaming threads.
    db.connection.close()
    with heartbeat.beating(answer_id):
        outcome = stream_loop.run(generation.answer_stream(job))
        try:
            generation.answer_settle(answer_id=answer_id, outcome=outcome)
        except generation.LOST_CONNECTION:
            # The database is still away after the settle's own retries: the outcome travels on in
            # a task of its own rather than being dropped with this one.
            log.warning("answer %s: saving it later, in workers.settle_answer", answer_id)
            try:
                settle_answer.apply_async(args=[answer_id, outcome.to_dict()], countdown=SETTLE_RETRY_S)
            except Exception:  # the broker is away too: the log is the outcome's last home
                log.exception("answer %s: could not save its outcome; it was %r", answer_id, outcome.to_dict())


# A settle that could not reach the database tries again every SETTLE_RETRY_S, for about ten minutes.
SETTLE_RETRY_S = 5
SETTLE_RETRIES = 120


@shared_task(name="workers.settle_answer", bind=True, ignore_result=True, max_retries=SETTLE_RETRIES)
def settle_answer(self, answer_id: int, outcome: dict) -> None:
    """Save an answer whose generation ended while the database was away; the outcome is the argument."""
    try:
        generation.answer_settle(answer_id=answer_id, outcome=generation.Outcome.from_dict(outcome))
    except generation.LOST_CONNECTION as error:
        if self.request.retries >= SETTLE_RETRIES:
            log.error("answer %s: could not save its outcome; it was %r", answer_id, outcome)
            raise
        raise self.retry(exc=error, countdown=SETTLE_RETRY_S) from error


@shared_task(name="workers.reap_stale_answers", ignore_result=True)
def reap_stale_answers() -> int:
    return generation.answers_reap()


@shared_task(name="annotation.pre_annotate")
def pre_annotate(project_id: int, model_name: str, limit: int = 1000) -> dict:
    report = project_pre_annotate(project=Project.objects.get(pk=project_id), model_name=model_name, limit=limit)
    return report.__dict__
