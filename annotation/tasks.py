"""Celery tasks for the annotation queues: thin shells over annotation.queue."""

from __future__ import annotations

from celery import shared_task

from annotation.queue import leases_expire


@shared_task(name="annotation.expire_leases")
def expire_leases() -> int:
    return leases_expire()


@shared_task(name="annotation.pre_annotate")
def pre_annotate(project_id: int, model_name: str, limit: int = 1000) -> dict:
    from annotation.ai_judge import project_pre_annotate
    from annotation.models import Project

    report = project_pre_annotate(project=Project.objects.get(pk=project_id), model_name=model_name, limit=limit)
    return report.__dict__
