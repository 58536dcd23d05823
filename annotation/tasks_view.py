"""What the annotator page shows for a lease: candidates in the lease's order and the task's inputs."""

from __future__ import annotations

from annotation.models import Assignment, AssignmentState, Candidate, Judgment, Project, TaskType
from annotation.sql import CANDIDATES_SQL

GRADED_SCALE = [
    (-3, "Left is much better"),
    (-2, "Left is better"),
    (-1, "Left is slightly better"),
    (0, "About the same"),
    (1, "Right is slightly better"),
    (2, "Right is better"),
    (3, "Right is much better"),
]


# Raw SQL (annotation/sql.py), not a queryset: the annotator page reads the candidates on every task, and
# compiling the queryset took longer than running it.


def task_context(project: Project, assignment: Assignment, user) -> dict:
    comparison = assignment.item.comparison
    by_position = {c.position: c for c in Candidate.objects.raw(CANDIDATES_SQL, [comparison.pk])}
    shown = [by_position[p] for p in assignment.display_order if p in by_position]
    low, high = project.config.get("scale") or [1, 5]
    context = {
        "assignment": assignment,
        "comparison": comparison,
        "messages_before": comparison.context,
        "candidates": [{"index": i, "label": _label(i, len(shown)), "candidate": c} for i, c in enumerate(shown)],
        "stacked": len(shown) > 2,
        "kind": project.task_type,
        "graded_scale": GRADED_SCALE,
        "attributes": project.config.get("attributes") or ["overall"],
        "scale": list(range(int(low), int(high) + 1)),
        "ranks": list(range(1, len(shown) + 1)),
        "principles": project.config.get("principles") or [],
        "suggestion": _suggestion(assignment) if project.config.get("show_suggestions") else None,
        "earlier": [],
    }
    if not project.blind:
        # Visible projects show what earlier annotators said (never who they are).
        context["earlier"] = list(
            Judgment.objects.filter(assignment__item=assignment.item, assignment__state=AssignmentState.DONE)
            .exclude(user=user)
            .values("outcome", "strength", "rationale")[:10]
        )
    return context


def _suggestion(assignment: Assignment) -> str | None:
    """The AI judge's suggestion in screen terms (the lease shows the candidates in its own order)."""
    outcome = (assignment.item.suggestion or {}).get("outcome")
    if outcome == "tie":
        return "a tie"
    if outcome not in ("a", "b") or len(assignment.display_order) != 2:
        return None
    shown = assignment.display_order.index(0 if outcome == "a" else 1)
    return f"{_label(shown, 2).lower()} is better"


def _label(index: int, count: int) -> str:
    if count == 2:
        return "Left" if index == 0 else "Right"
    return f"Response {index + 1}"


__all__ = ["task_context", "TaskType"]
