"""Celery tasks. Thin shells: load by id, call a service, own retries and limits."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django import db


@shared_task(name="workers.ping")
def ping(group: str, token: str) -> str:
    """Answer a health probe through the channel layer: web → broker → worker → layer → web."""
    async_to_sync(get_channel_layer().group_send)(group, {"type": "pong", "token": token})
    return token


@shared_task(name="workers.generate_answer", ignore_result=True)
def generate_answer(answer_id: int) -> None:
    """Stream one side's answer into its battle. Limits live in the answer's deadline, not here."""
    from workers import generation, stream_loop

    job = generation.answer_claim(answer_id=answer_id)
    if job is None:
        return  # taken, settled or reaped already: a redelivery must not stream twice
    # Hand the connection back to the pool while streaming: an answer takes seconds and
    # needs no database until it settles, so a small pool serves many streaming threads.
    db.connection.close()
    outcome = stream_loop.run(generation.answer_stream(job))
    generation.answer_settle(job=job, outcome=outcome)


@shared_task(name="workers.reap_stale_answers", ignore_result=True)
def reap_stale_answers() -> int:
    from workers import generation

    return generation.answers_reap()
