"""Celery tasks for the exports: a thin shell over agora_datasets.exports.jobs."""

from __future__ import annotations

from celery import shared_task

from agora_datasets.exports.jobs import export_job_run


# The name it had in the annotation app, so that jobs queued before the move still run.
@shared_task(name="annotation.run_export")
def run_export(job_id: int) -> str:
    return export_job_run(job_id).state
