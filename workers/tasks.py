"""Celery tasks of the workers themselves (a health probe); an answer's tasks are in arena/tasks.py."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer


@shared_task(name="workers.ping")
def ping(group: str, token: str) -> str:
    """Answer a health probe through the channel layer: web → broker → worker → layer → web."""
    async_to_sync(get_channel_layer().group_send)(group, {"type": "pong", "token": token})
    return token
