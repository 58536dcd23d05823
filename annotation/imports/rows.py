"""The normalized shape every import format is turned into, and its checks.

The checks mirror the database constraints, so a bad row is reported with its
line number before anything is written; the constraints stay as the last line
of defence.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime

from annotation.imports.records import RowError
from annotation.models import JudgeKind, Outcome, Source
from annotation.storable import INT32_MAX, json_problem, json_storable, text_refusal

MAX_TEXT_CHARS = 1_000_000
MAX_CANDIDATES = 16
# A choices enum builds its .values list on every access; an import checks them per row.
SOURCES, JUDGE_KINDS, OUTCOMES = frozenset(Source.values), frozenset(JudgeKind.values), frozenset(Outcome.values)


@dataclass
class CandidateRow:
    position: int
    model: str
    text: str
    conversation: list | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    finish_reason: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class ComparisonRow:
    key: str
    context: list
    source: str
    created_at: datetime
    candidates: list[CandidateRow]
    category: str = ""
    language: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        for message in reversed(self.context):
            if message.get("role") == "user":
                return message_text(message)
        return ""


@dataclass
class ScoreRow:
    position: int
    attribute: str
    value: float


@dataclass
class JudgmentRow:
    source: str
    judge_kind: str
    judge: str
    created_at: datetime
    display_order: list | None = None
    outcome: str | None = None
    strength: int | None = None
    both_bad: bool = False
    preference: float | None = None
    ranking: list | None = None
    principles: dict = field(default_factory=dict)
    rationale: str = ""
    time_spent_ms: int | None = None
    metadata: dict = field(default_factory=dict)
    scores: list[ScoreRow] = field(default_factory=list)


@dataclass
class Row:
    comparison: ComparisonRow
    judgment: JudgmentRow
    # Fields of the source record that Agora keeps nowhere, each with the reason; the import
    # report counts them, so nothing is lost without being said.
    dropped: dict[str, str] = field(default_factory=dict)


def field_names(row_class, exclude: tuple[str, ...] = ()) -> list[str]:
    """The fields of a row class: the same names as the model's columns and the raw format's keys."""
    return [f.name for f in fields(row_class) if f.name not in exclude]


def field_values(row, exclude: tuple[str, ...] = ()) -> dict:
    return {name: getattr(row, name) for name in field_names(type(row), exclude)}


def message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def content_key(prefix: str, *parts) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{prefix}:{digest[:40]}"


# --- checks -----------------------------------------------------------------------------------


def check_messages(messages, name: str) -> list:
    if not isinstance(messages, list) or not messages:
        raise RowError(f"{name} must be a non-empty list of messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RowError(f"{name}[{index}] must be an object with a role and content")
        if message["role"] not in {"system", "user", "assistant", "tool"}:
            raise RowError(f"{name}[{index}] has unknown role {message['role']!r}")
        if not isinstance(message.get("content"), (str, list)):
            raise RowError(f"{name}[{index}] has no text content")
        check_text(message_text(message), f"{name}[{index}].content")
    return messages


def check_text(value, name: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise RowError(f"{name} must be text, got {type(value).__name__}")
    refusal = text_refusal(value, what=name, max_chars=MAX_TEXT_CHARS)
    if refusal:
        raise RowError(refusal)
    return value


def check_label(value, name: str, *, max_length: int = 200, required: bool = True) -> str:
    if not required and value in (None, ""):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"{name} must be a non-empty string")
    refusal = text_refusal(value, what=name, max_chars=max_length)
    if refusal:
        raise RowError(refusal)
    return value


def check_json(value, name: str):
    """A value for a jsonb column: every string storable, every number finite."""
    if json_storable(value):  # the common case, at the cost of one dumps; else say what and where
        return value
    problem = json_problem(value, name)
    if problem:
        raise RowError(problem)
    return value


def check_int(value, name: str, *, low: int | None = None, high: int | None = INT32_MAX) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise RowError(f"{name} must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise RowError(f"{name} must be {span}, got {value}")
    return value


def check_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError(f"{name} must be a number, got {value!r}")
    return float(value)


def _int_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)


def check_row(row: Row) -> Row:
    """Everything the database would refuse, said in words and before writing."""
    comparison, judgment = row.comparison, row.judgment
    check_label(comparison.key, "comparison key")
    check_messages(comparison.context, "context")
    check_json(comparison.context, "context")
    check_label(comparison.category, "category", max_length=100, required=False)
    check_label(comparison.language, "language", max_length=50, required=False)
    check_json(comparison.metadata, "comparison metadata")
    if not isinstance(comparison.source, str) or comparison.source not in SOURCES:
        raise RowError(f"source must be one of {', '.join(Source.values)}, got {comparison.source!r}")
    positions = [
        check_int(c.position, "candidate position", low=0, high=MAX_CANDIDATES - 1) for c in comparison.candidates
    ]
    if None in positions:
        raise RowError("every candidate needs a position")
    # One candidate is a comparison too when the verdict is about it alone (a KTO label, principle
    # checks); a preference or a ranking needs two at least.
    alone = judgment.outcome is None and judgment.preference is None and judgment.ranking is None
    if not (1 if alone else 2) <= len(positions) <= MAX_CANDIDATES:
        least = "1" if alone else "2"
        raise RowError(f"a comparison needs {least} to {MAX_CANDIDATES} candidates, got {len(positions)}")
    if sorted(positions) != list(range(len(positions))):
        raise RowError(f"candidate positions must be 0..{len(positions) - 1} once each, got {positions}")
    for candidate in comparison.candidates:
        check_label(candidate.model, f"candidate {candidate.position} model")
        check_text(candidate.text, f"candidate {candidate.position} text")
        if candidate.conversation is not None:
            check_messages(candidate.conversation, f"candidate {candidate.position} conversation")
            check_json(candidate.conversation, f"candidate {candidate.position} conversation")
        check_label(candidate.finish_reason, "finish_reason", max_length=30, required=False)
        check_json(candidate.metadata, f"candidate {candidate.position} metadata")
        check_int(candidate.output_tokens, "output_tokens", low=0)
        check_int(candidate.latency_ms, "latency_ms", low=0)

    if not isinstance(judgment.source, str) or judgment.source not in SOURCES:
        raise RowError(f"source must be one of {', '.join(Source.values)}, got {judgment.source!r}")
    if not isinstance(judgment.judge_kind, str) or judgment.judge_kind not in JUDGE_KINDS:
        raise RowError(f"judge_kind must be one of {', '.join(JudgeKind.values)}, got {judgment.judge_kind!r}")
    check_label(judgment.judge, "judge")
    count = len(positions)
    if not isinstance(judgment.both_bad, bool):
        raise RowError(f"both_bad must be true or false, got {judgment.both_bad!r}")
    if judgment.display_order is not None and (
        not _int_list(judgment.display_order) or sorted(judgment.display_order) != list(range(count))
    ):
        raise RowError(f"display_order must list the positions 0..{count - 1} once each")
    if judgment.outcome is not None and (not isinstance(judgment.outcome, str) or judgment.outcome not in OUTCOMES):
        raise RowError(f"outcome must be one of {', '.join(Outcome.values)}")
    if judgment.outcome is not None and count != 2:
        raise RowError("a pairwise outcome needs exactly two candidates")
    check_int(judgment.strength, "strength", low=-3, high=3)
    if judgment.strength is not None:
        expected = Outcome.A if judgment.strength < 0 else Outcome.B if judgment.strength > 0 else Outcome.TIE
        if judgment.outcome != expected:
            raise RowError(
                f"strength {judgment.strength} means {Outcome(expected).label.lower()}, "
                f"but the outcome is {judgment.outcome or 'missing'}"
            )
    if judgment.both_bad and judgment.outcome != Outcome.TIE:
        raise RowError("both-bad is a kind of tie, but the outcome is not a tie")
    if judgment.preference is not None:
        value = check_number(judgment.preference, "preference")
        if not 0 <= value <= 1:
            raise RowError(f"preference must be a probability from 0 to 1, got {value:g}")
    if judgment.ranking is not None:
        groups = judgment.ranking if isinstance(judgment.ranking, list) else [None]
        flat = [p for group in groups for p in (group if isinstance(group, list) else [None])]
        if sorted(x for x in flat if isinstance(x, int)) != list(range(count)) or len(flat) != count:
            raise RowError(f"ranking must group the positions 0..{count - 1}, each once, best first")
    if not isinstance(judgment.principles, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in judgment.principles.items()
    ):
        raise RowError("principles must map each principle to true or false")
    check_json(judgment.principles, "principles")
    check_json(judgment.metadata, "judgment metadata")
    check_text(judgment.rationale, "rationale")
    check_int(judgment.time_spent_ms, "time_spent_ms", low=0)
    seen = set()
    for score in judgment.scores:
        if isinstance(score.position, bool) or score.position not in range(count):
            raise RowError(f"a score names candidate {score.position}, which does not exist")
        check_label(score.attribute, "score attribute", max_length=100)
        check_number(score.value, f"score {score.attribute}")
        if (score.position, score.attribute) in seen:
            raise RowError(f"two scores for candidate {score.position} on {score.attribute}")
        seen.add((score.position, score.attribute))
    return row
