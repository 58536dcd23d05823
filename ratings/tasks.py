"""Celery tasks for the ratings: thin shells over ratings.services."""

from __future__ import annotations

from celery import shared_task

from ratings import services


@shared_task(name=services.FIT_TASK)
def fit_ratings(run_id: int) -> str:
    return services.run_execute(run_id).state


@shared_task(name="ratings.refresh_due")
def refresh_due() -> int:
    return len(services.refresh_due())


@shared_task(name="ratings.review_judges")
def review_judges() -> int:
    return len(services.judges_review_latest())
