"""The task queue: claim an item into a lease, submit or skip it, expire stale leases.

Concurrency, in one place:
- A claim picks the first open item the annotator has not had with one
  ``SELECT … FOR UPDATE SKIP LOCKED`` (two annotators claiming at once take different rows or
  wait for nothing) and, holding that row lock, counts the lease in ``item.taken``.
- ``taken`` (live leases + completed) and ``open`` (annotation/sql.py's ``item_open_sql``) change here, under
  the item's row lock, in the transaction that writes the assignment they count; ``done`` changes here on a
  submission. (projects.py's ``items_reopen`` also recomputes ``open`` when a project's overlap changes.)
- The statements are in annotation/sql.py.
- Lock order is assignment → item in submit, skip and expiry; a claim locks an item and then
  writes only assignments that none of those three touch (new rows, or its own expired one).
- The unique (item, annotator) assignment and (comparison, judge, source) judgment constraints
  are the last line against an item served twice to one person or an annotation stored twice.
"""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation import live
from annotation.ai_judge import route_after_human
from annotation.answers import Answer, answer_check
from annotation.models import (
    Assignment,
    AssignmentState,
    Item,
    JudgeKind,
    Judgment,
    Project,
    Score,
    Source,
    TaskType,
)
from annotation.sql import CLAIM_SQL, EXPIRE_SQL, LIVE_SQL, PROGRESS_SQL, item_open
from annotation.storable import text_refusal


class QueueError(Exception):
    status = 400


class QueueEmpty(QueueError):
    """Nothing to hand out now; the message says why, for the annotator."""

    status = 200


class LeaseLost(QueueError):
    status = 409


class TaskNotFound(QueueError):
    """No such task for this annotator (in this project): a page answers 404, whether it exists or not."""

    status = 404


MAX_SKIP_REASON_CHARS = Assignment._meta.get_field("skip_reason").max_length


def _live(project: Project, annotator, now) -> int | None:
    """The id of the annotator's oldest live lease in the project. Raw SQL, as every claim asks: compiling
    the equivalent queryset cost more than running it. Not prepared: a generic plan, made before the
    tables grow, could scan where a plan for the annotator's own id looks up a few rows."""
    with connection.cursor() as cursor:
        cursor.execute(LIVE_SQL, {"project": project.pk, "annotator": annotator.pk, "now": now})
        row = cursor.fetchone()
    return row[0] if row else None


def _prepared_one(sql: str, params: dict) -> tuple | None:
    """One row of a statement run as a prepared statement on this request's connection.

    PostgreSQL takes about 3 ms to plan ``CLAIM_SQL``, twice what running it takes, and would plan it
    again on every claim: Django binds parameters on the client, so nothing it sends is ever prepared.
    A cursor that binds on the server can prepare, and then each pooled connection plans the statement
    once (PostgreSQL switches to a generic plan after a few runs when it costs no more)."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def _claim(project: Project, annotator, gold: bool, now) -> int | None:
    row = _prepared_one(
        CLAIM_SQL,
        {
            "project": project.pk,
            "gold": gold,
            "annotator": annotator.pk,
            "judge": f"user:{annotator.pk}",
            "overlap": project.overlap,
            "now": now,
            "expires": now + timedelta(seconds=project.lease_seconds),
        },
    )
    return row[0] if row else None


def assignment_claim(*, project: Project, annotator, rng: random.Random | None = None) -> Assignment:
    """The annotator's live lease in the project, or a new one. Raises QueueEmpty with the reason.

    ``rng`` decides when a gold item is due; the candidates' order is drawn by the database."""
    rng = rng or random.Random()
    now = timezone.now()
    # No transaction around these: each claim is one statement, atomic on its own, and a transaction
    # would add two round trips to every claim while closing no race (read committed sees the same).
    assignment_id = _live(project, annotator, now)  # a paused project still lets a held task be finished
    if assignment_id is None and not project.active:
        raise QueueEmpty(queue_empty_reason(project=project, annotator=annotator))
    if assignment_id is None and project.gold_ratio > 0 and rng.random() < project.gold_ratio:
        assignment_id = _claim(project, annotator, True, now)
    if assignment_id is None:
        assignment_id = _claim(project, annotator, False, now)
    if assignment_id is None:
        raise QueueEmpty(queue_empty_reason(project=project, annotator=annotator))
    return Assignment.objects.select_related("item__comparison").get(pk=assignment_id)


def queue_empty_reason(*, project: Project, annotator) -> str:
    if not project.active:
        return "This project is paused: no new tasks are handed out."
    regular = project.items.filter(is_gold=False)
    if not regular.exists():
        return "This project has no items yet."
    mine = Assignment.objects.filter(item__project=project, annotator=annotator, item__is_gold=False)
    unseen = regular.exclude(assignments__in=mine.exclude(state=AssignmentState.EXPIRED))
    if not unseen.exists():
        return "You have done every item of this project. Thank you!"
    if unseen.filter(done__lt=project.overlap).exists():
        return (
            "Every remaining item is being worked on by someone else right now; "
            "leases run out after a while, so try again later."
        )
    return f"Every item already has its {project.overlap} annotation{'s' if project.overlap != 1 else ''}."


def _lock_own(assignment_id: int, annotator, project: Project | None = None) -> Assignment:
    where = {"pk": assignment_id, "annotator": annotator}
    if project is not None:
        where["item__project_id"] = project.pk
    try:
        return (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("item__project", "item__comparison")
            .get(**where)
        )
    except Assignment.DoesNotExist:
        raise TaskNotFound("This task is not yours, or it does not exist.") from None


def _reclaim_expired(assignment: Assignment) -> None:
    """A late submission on a lease the reaper already ended: accepted only if the item still has room."""
    item = Item.objects.select_for_update().get(pk=assignment.item_id)
    project = assignment.item.project
    if not item.is_gold and item.taken >= project.overlap:
        raise LeaseLost(
            "Your time on this task ran out and it went to other annotators; your answer was not "
            "stored. The next task is ready."
        )
    Item.objects.filter(pk=item.pk).update(
        taken=F("taken") + 1, open=item_open(overlap=project.overlap, taken_change=1)
    )


def assignment_submit(
    *, assignment_id: int, annotator, data: dict, time_spent_ms: int | None = None, project: Project | None = None
) -> tuple[Judgment, bool]:
    """Store the annotation once. Returns (judgment, created); a retried identical submit returns the first.
    With ``project``, a task of another project is not found (TaskNotFound), as one of another annotator."""
    with transaction.atomic():
        assignment = _lock_own(assignment_id, annotator, project)
        project = assignment.item.project
        answer = answer_check(project, assignment.display_order, data)
        if assignment.state == AssignmentState.DONE:
            if _same(assignment.judgment, answer):
                return assignment.judgment, False
            raise QueueError("You already answered this task; an answer cannot be changed here.")
        if assignment.state == AssignmentState.SKIPPED:
            raise QueueError("You skipped this task.")
        if assignment.state == AssignmentState.EXPIRED:
            _reclaim_expired(assignment)
        now = timezone.now()
        judgment = _judgment_create(assignment, annotator, answer, now, time_spent_ms)
        Assignment.objects.filter(pk=assignment.pk).update(
            state=AssignmentState.DONE, finished_at=now, judgment=judgment
        )
        Item.objects.filter(pk=assignment.item_id).update(done=F("done") + 1)
        if assignment.item.suggestion and assignment.item.done == 0:
            route_after_human(assignment.item, answer.outcome)
    return judgment, True


def _same(judgment: Judgment | None, answer: Answer) -> bool:
    if judgment is None:
        return False
    scores = sorted((s.position, s.attribute, s.value) for s in judgment.scores.all())
    stored = Answer(
        outcome=judgment.outcome,
        strength=judgment.strength,
        ranking=judgment.ranking,
        principles=judgment.principles,
        scores=scores,
        rationale=judgment.rationale,
    )
    return stored.comparable() == answer.comparable()


def _judgment_create(assignment: Assignment, annotator, answer: Answer, now, time_spent_ms: int | None) -> Judgment:
    project = assignment.item.project
    judgment = Judgment.objects.create(
        comparison=assignment.item.comparison,
        source=Source.QUEUE,
        judge_kind=JudgeKind.USER,
        judge=f"user:{annotator.pk}",
        user=annotator,
        display_order=assignment.display_order,
        outcome=answer.outcome,
        strength=answer.strength,
        ranking=answer.ranking,
        principles=answer.principles,
        rationale=answer.rationale,
        time_spent_ms=time_spent_ms
        if time_spent_ms is not None
        else int((now - assignment.leased_at).total_seconds() * 1000),
        metadata={
            "project": project.slug,
            "item": assignment.item_id,
            "gold": assignment.item.is_gold,
            "task_type": project.task_type,
        },
        created_at=now,
    )
    if answer.scores:
        Score.objects.bulk_create(
            Score(judgment=judgment, position=p, attribute=a, value=v) for p, a, v in answer.scores
        )
    live.votes_arrived()
    return judgment


def assignment_skip(*, assignment_id: int, annotator, reason: str) -> Assignment:
    reason = (reason or "").strip()
    if not reason:
        raise QueueError("Say briefly why you skip this task (it helps the project's owners).")
    refusal = text_refusal(reason, what="The reason", max_chars=MAX_SKIP_REASON_CHARS)
    if refusal:
        raise QueueError(f"{refusal}.")
    with transaction.atomic():
        assignment = _lock_own(assignment_id, annotator)
        if assignment.state != AssignmentState.LEASED:
            raise QueueError("Only a task you are working on can be skipped.")
        project = assignment.item.project
        Item.objects.select_for_update().filter(pk=assignment.item_id).first()
        Item.objects.filter(pk=assignment.item_id).update(
            taken=F("taken") - 1, open=item_open(overlap=project.overlap, taken_change=-1)
        )
        Assignment.objects.filter(pk=assignment.pk).update(
            state=AssignmentState.SKIPPED, skip_reason=reason, finished_at=timezone.now()
        )
    assignment.refresh_from_db()
    return assignment


def leases_expire(*, now=None) -> int:
    """End every lease past its time and give its item back. Returns how many items got a slot back."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(EXPIRE_SQL, {"now": now or timezone.now()})
        return cursor.rowcount


def project_progress(*, project: Project, annotator) -> dict:
    """Annotations done / wanted in the project, and the annotator's (all, and today's): one statement, as the
    annotator page asks for it on every task."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    done, items, mine, mine_today = _prepared_one(
        PROGRESS_SQL, {"project": project.pk, "annotator": annotator.pk, "today": today}
    )
    return {"done": done, "total": items * project.overlap, "mine": mine, "mine_today": mine_today}


__all__ = [
    "QueueEmpty",
    "QueueError",
    "LeaseLost",
    "TaskNotFound",
    "assignment_claim",
    "assignment_submit",
    "assignment_skip",
    "leases_expire",
    "queue_empty_reason",
    "project_progress",
    "TaskType",
]
