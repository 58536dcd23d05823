"""Celery tasks for the annotation queues: thin shells over annotation.queue."""

from __future__ import annotations

from celery import shared_task

from annotation.queue import leases_expire


@shared_task(name="annotation.expire_leases")
def expire_leases() -> int:
    return leases_expire()
