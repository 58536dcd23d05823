"""Gold items, read from a queue judgment's row: the answer the item expects and the answer given.

A row is a ``values()`` dict of a judgment with its ``outcome`` and ``strength`` and its item's
``assignment__item__gold_answer``. The dashboard and the exports' gold filter score annotators with
these, so both count a gold answer the same way.
"""

from __future__ import annotations

from annotation.models import TaskType


def judgment_answer(row: dict, kind: str):
    """The judgment's main categorical answer for the task type: the outcome, or the graded strength."""
    if kind in (TaskType.PAIRWISE, TaskType.TERNARY):
        return row["outcome"]
    if kind == TaskType.GRADED:
        return row["strength"]
    return None


def gold_expected(row: dict):
    """The answer the gold item expects: its outcome, choice or strength, or the bare value stored."""
    answer = row["assignment__item__gold_answer"]
    if isinstance(answer, dict):
        return answer.get("outcome", answer.get("choice", answer.get("strength")))
    return answer


def gold_value(row: dict, kind: str):
    """The judgment's answer in the terms of the gold answer: the strength when gold names one."""
    expected = row["assignment__item__gold_answer"]
    if isinstance(expected, dict) and "strength" in expected:
        return row["strength"]
    return judgment_answer(row, kind)
