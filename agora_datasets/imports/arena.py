"""Chatbot Arena battle records, as FastChat publishes them.

Fields: ``model_a``, ``model_b``, ``winner`` (``model_a`` / ``model_b`` / ``tie`` /
``tie (bothbad)``), the conversations (``conversation_a``/``conversation_b`` as
message lists, or ``prompt``/``response_a``/``response_b`` as text or lists of
text per turn), ``judge``, ``turn``, ``language``, ``tstamp``, ``category``, and
``question_id`` when present. Agora's optional fields: ``strength`` (−3..+3,
negative favours ``model_a``), ``scores`` ({"model_a": {attr: value}, "model_b": …}),
``rationale``, ``preference`` (probability that ``model_a`` is better),
``judge_kind``, ``display_order`` and ``time_spent_ms``. Other fields are kept
in the judgment's metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agora_datasets.imports.files import FileFormat
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    ScoreRow,
    check_label,
    check_messages,
    check_number,
    check_text,
    content_key,
    message_text,
)
from annotation.models import JudgeKind, Outcome, Source

WINNERS = {
    "model_a": (Outcome.A, False),
    "model_b": (Outcome.B, False),
    "tie": (Outcome.TIE, False),
    "tie (bothbad)": (Outcome.TIE, True),
}
KNOWN = {
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "judge",
    "judge_kind",
    "conversation_a",
    "conversation_b",
    "prompt",
    "response_a",
    "response_b",
    "turn",
    "language",
    "tstamp",
    "category",
    "strength",
    "scores",
    "rationale",
    "preference",
    "display_order",
    "time_spent_ms",
}
SIDES = {"model_a": 0, "model_b": 1}


def parse(record: Record, now: datetime) -> Row:
    data = record.data
    missing = [name for name in ("model_a", "model_b", "judge") if name not in data]
    if "winner" not in data and data.get("preference") is None:
        missing.append("winner")
    if missing:
        raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    model_a = check_label(data["model_a"], "model_a")
    model_b = check_label(data["model_b"], "model_b")
    judge = check_label(str(data["judge"]) if isinstance(data["judge"], int) else data["judge"], "judge")

    outcome, both_bad = None, False
    if data.get("winner") is not None:
        if not isinstance(data["winner"], str) or data["winner"] not in WINNERS:
            raise RowError(f"winner must be one of {', '.join(WINNERS)}, got {data['winner']!r}")
        outcome, both_bad = WINNERS[data["winner"]]

    conversation_a, conversation_b = _conversations(data)
    context = conversation_a[:-1]
    if [m for m in conversation_a if m["role"] == "user"] != [m for m in conversation_b if m["role"] == "user"]:
        raise RowError("conversation_a and conversation_b must share the same user turns")

    created_at = unix_time(data.get("tstamp"), now)
    key = (
        f"arena:{check_label(str(data['question_id']), 'question_id')}"
        if data.get("question_id") is not None
        else content_key("arena", model_a, model_b, conversation_a, conversation_b)
    )
    comparison = ComparisonRow(
        key=key,
        context=context,
        source=Source.IMPORT,
        created_at=created_at,
        category=_optional_label(data.get("category"), "category", 100),
        language=_optional_label(data.get("language"), "language", 50),
        candidates=[
            _candidate(0, model_a, conversation_a, context),
            _candidate(1, model_b, conversation_b, context),
        ],
    )
    judge_kind = data.get("judge_kind") or JudgeKind.EXTERNAL
    judgment = JudgmentRow(
        source=Source.IMPORT,
        judge_kind=judge_kind,
        judge=judge,
        created_at=created_at,
        display_order=data.get("display_order"),
        outcome=outcome,
        strength=data.get("strength"),
        both_bad=both_bad,
        preference=None if data.get("preference") is None else check_number(data["preference"], "preference"),
        rationale=check_text(data.get("rationale"), "rationale", required=False),
        time_spent_ms=data.get("time_spent_ms"),
        scores=_scores(data.get("scores")),
        metadata={k: v for k, v in data.items() if k not in KNOWN},
    )
    if "turn" in data:
        judgment.metadata["turn"] = data["turn"]
    return Row(comparison, judgment)


def _conversations(data: dict) -> tuple[list, list]:
    if "conversation_a" in data or "conversation_b" in data:
        a = check_messages(data.get("conversation_a"), "conversation_a")
        b = check_messages(data.get("conversation_b"), "conversation_b")
        for name, conversation in (("conversation_a", a), ("conversation_b", b)):
            if conversation[-1]["role"] != "assistant" or len(conversation) < 2:
                raise RowError(f"{name} must end with the model's answer")
        return a, b
    if "prompt" not in data or "response_a" not in data or "response_b" not in data:
        raise RowError("needs conversation_a and conversation_b, or prompt, response_a and response_b")
    prompts, answers_a, answers_b = (_turns(data[name], name) for name in ("prompt", "response_a", "response_b"))
    if not len(prompts) == len(answers_a) == len(answers_b):
        raise RowError("prompt, response_a and response_b must have the same number of turns")

    def build(answers: list[str]) -> list[dict]:
        messages = []
        for prompt, answer in zip(prompts, answers, strict=True):
            messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        return messages

    return build(answers_a), build(answers_b)


def _turns(value, name: str) -> list[str]:
    turns = [value] if isinstance(value, str) else value
    if not isinstance(turns, list) or not turns:
        raise RowError(f"{name} must be text or a list of texts, one per turn")
    return [check_text(t, name) for t in turns]


def _candidate(position: int, model: str, conversation: list, context: list) -> CandidateRow:
    text = message_text(conversation[-1])
    # Each side of a multi-turn battle saw its own earlier answers: keep that side's
    # conversation whenever it is not just the shared context plus the answer.
    own = conversation if conversation[:-1] != context or conversation[-1].keys() != {"role", "content"} else None
    return CandidateRow(position=position, model=model, text=text, conversation=own)


def _scores(value) -> list[ScoreRow]:
    if value is None:
        return []
    if not isinstance(value, dict) or not set(value) <= set(SIDES):
        raise RowError('scores must look like {"model_a": {"attribute": value}, "model_b": {...}}')
    rows = []
    for side, attributes in value.items():
        if not isinstance(attributes, dict):
            raise RowError(f"scores.{side} must map attributes to numbers")
        for attribute, number in attributes.items():
            rows.append(ScoreRow(SIDES[side], attribute, check_number(number, f"scores.{side}.{attribute}")))
    return rows


def unix_time(value, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RowError(f"tstamp must be a Unix time in seconds, got {value!r}")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError(f"tstamp {value!r} is not a valid time") from None


def _optional_label(value, name: str, max_length: int) -> str:
    if value in (None, ""):
        return ""
    return check_label(value, name, max_length=max_length)


class ArenaFormat(FileFormat):
    name = "arena"
    parse = staticmethod(parse)
