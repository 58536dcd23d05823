"""What an annotator may answer for each task type, checked and turned into judgment fields.

Answers arrive in the terms of the screen ("left", "right", the n-th candidate shown) and are
stored in the terms of the data (candidate positions), through the lease's display order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from annotation.models import Project, RationaleMode, TaskType
from annotation.storable import text_refusal

MAX_RATIONALE_CHARS = 4000


class AnswerError(ValueError):
    """The answer does not fit the task; the message says what to fix."""


@dataclass
class Answer:
    outcome: str | None = None  # "a" / "b" / "tie" over positions 0 and 1
    strength: int | None = None  # negative favours position 0
    ranking: list[list[int]] | None = None  # groups of positions, best first
    principles: dict[str, bool] = field(default_factory=dict)
    scores: list[tuple[int, str, float]] = field(default_factory=list)  # (position, attribute, value)
    rationale: str = ""

    def comparable(self) -> dict:
        """The answer as plain data: a retry of the same submission compares equal."""
        return {
            "outcome": self.outcome,
            "strength": self.strength,
            "ranking": self.ranking,
            "principles": self.principles,
            "scores": sorted(self.scores),
            "rationale": self.rationale,
        }


def _position(order: list[int], shown: int) -> int:
    if not 0 <= shown < len(order):
        raise AnswerError(f"there is no candidate {shown + 1} on screen")
    return order[shown]


def _int(value, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise AnswerError(f"{name} must be a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise AnswerError(f"{name} must be from {low} to {high}")
    return number


def answer_check(project: Project, display_order: list[int], data: dict) -> Answer:
    """``data``: the submitted fields (a QueryDict-like mapping of strings or a dict)."""
    kind = project.task_type
    answer = Answer()
    if kind in (TaskType.PAIRWISE, TaskType.TERNARY):
        choice = data.get("choice")
        allowed = ["left", "right"] + (["tie"] if kind == TaskType.TERNARY else [])
        if choice not in allowed:
            raise AnswerError(f"choose {' or '.join(allowed)}")
        answer.outcome = (
            "tie" if choice == "tie" else ("a" if _position(display_order, int(choice == "right")) == 0 else "b")
        )
    elif kind == TaskType.GRADED:
        # -3 = left much better … +3 = right much better, on screen.
        shown = _int(data.get("strength"), "the preference", -3, 3)
        strength = shown if display_order[:2] == [0, 1] else -shown
        answer.strength = strength
        answer.outcome = "a" if strength < 0 else "b" if strength > 0 else "tie"
    elif kind == TaskType.LIKERT:
        attributes = project.config.get("attributes") or ["overall"]
        low, high = project.config.get("scale") or [1, 5]
        for shown in range(len(display_order)):
            for attribute in attributes:
                value = _int(data.get(f"score-{shown}-{attribute}"), f"{attribute} of candidate {shown + 1}", low, high)
                answer.scores.append((_position(display_order, shown), attribute, float(value)))
    elif kind == TaskType.RANKING:
        # rank-<shown> = 1 for the best; equal ranks are ties.
        ranks = {}
        for shown in range(len(display_order)):
            ranks[_position(display_order, shown)] = _int(
                data.get(f"rank-{shown}"), f"the rank of candidate {shown + 1}", 1, len(display_order)
            )
        answer.ranking = [sorted(p for p, r in ranks.items() if r == level) for level in sorted(set(ranks.values()))]
    elif kind == TaskType.PRINCIPLES:
        for principle in project.config.get("principles") or []:
            value = data.get(f"principle-{principle}")
            if value not in ("yes", "no"):
                raise AnswerError(f"answer yes or no for “{principle}”")
            answer.principles[principle] = value == "yes"
    else:  # pragma: no cover - the model's check constraint forbids it
        raise AnswerError(f"unknown task type {kind}")

    rationale = (data.get("rationale") or "").strip()
    if project.rationale == RationaleMode.REQUIRED and not rationale:
        raise AnswerError("this project asks for a rationale: say briefly why")
    if project.rationale == RationaleMode.OFF:
        rationale = ""
    refusal = text_refusal(rationale, what="the rationale", max_chars=MAX_RATIONALE_CHARS)
    if refusal:
        raise AnswerError(refusal)
    answer.rationale = rationale
    return answer
