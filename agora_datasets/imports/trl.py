"""TRL's preference and KTO (unpaired) datasets, as TRL documents them and as Agora exports them.

``trl-preference``: ``chosen`` and ``rejected``, with or without ``prompt``. Each is text (TRL's
"standard" form) or a list of ``{"role", "content"}`` messages ("conversational"); a text
prompt is one user turn, a text answer one assistant turn. When ``chosen`` already starts with
the prompt's turns (UltraFeedback-binarized writes the whole conversation) they are not added
twice; without ``prompt`` the turns both sides share are the prompt ("implicit prompt"). The
context is the shared turns up to the last user turn; each side's last turn is a candidate.

* Candidates are placed in a fixed order, by (model, text), so the two rows two judges wrote
  about the same pair (one preferring each side) meet on one comparison; the outcome is A or B
  by where ``chosen`` landed. ``chosen_model`` / ``rejected_model`` name the models (else
  ``unnamed model``).
* ``margin`` (Agora's export: |strength|, or |2p − 1|·3 from a soft preference): a whole 1..3 is
  the strength, another value in (0, 3] the preference p that gives it back, 0 nothing; any
  other margin stays in the judgment's metadata.
* ``score_chosen`` / ``score_rejected`` become the candidates' ``score``; ``rationale`` the
  rationale; ``judge`` (Agora's pseudonyms) the judge, else ``--judge`` or the file's name
  (judge kind ``external``); ``comparison`` (Agora's key) the key, else a hash of the context
  and both sides. Every other field goes to the judgment's metadata.

``trl-kto``: ``prompt``, ``completion`` and ``label`` (true: desirable). Rows that Agora wrote for
one judge on one comparison (consecutive rows with the same ``comparison`` and ``judge``) are one
comparison whose candidates are their completions (same fixed order) and one judgment holding
the labels as thumbs (``metadata["thumbs"] = {position: label}``), the very thing the trl-kto
export reads back; any other row is a comparison of one candidate. ``model`` names the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import JudgedFileFormat, read_records
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    MAX_CANDIDATES,
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    ScoreRow,
    check_messages,
    check_number,
    check_text,
    content_key,
    message_text,
)
from annotation.models import JudgeKind, Outcome, Source

MODEL = "unnamed model"
PREFERENCE_FIELDS = {"prompt", "chosen", "rejected", "chosen_model", "rejected_model", "margin"}
PREFERENCE_FIELDS |= {"score_chosen", "score_rejected", "comparison", "judge", "rationale"}
KTO_FIELDS = {"prompt", "completion", "label", "model", "comparison", "judge", "rationale"}


def messages_of(value, name: str, role: str) -> list[dict]:
    """Text as one message of ``role``, or a list of messages as they are."""
    if isinstance(value, str):
        return [{"role": role, "content": check_text(value, name)}]
    return check_messages(value, name)


def full_conversation(prompt: list[dict], side: list[dict]) -> list[dict]:
    return side if prompt and side[: len(prompt)] == prompt else prompt + side


def shared_context(conversations: list[list[dict]]) -> list[dict]:
    """The turns every conversation has before its last one, up to the last user turn."""
    shared = []
    for turns in zip(*(c[:-1] for c in conversations), strict=False):
        if any(t != turns[0] for t in turns):
            break
        shared.append(turns[0])
    while shared and shared[-1]["role"] != "user":
        shared.pop()
    return shared


def answer_of(conversation: list[dict], name: str) -> str:
    if conversation[-1]["role"] != "assistant":
        raise RowError(f"{name} must end with the assistant's answer, not a {conversation[-1]['role']} turn")
    return message_text(conversation[-1])


def judge_of(data: dict, default: str) -> str:
    return label(data["judge"], "judge") if data.get("judge") not in (None, "") else label(default, "judge")


def placed(sides: list[tuple]) -> list[tuple]:
    """Sides in the fixed order: by model, then text, then the whole conversation."""
    return sorted(sides, key=lambda s: (s[1], s[2], json.dumps(s[3], sort_keys=True, ensure_ascii=False)))


def candidate(position: int, model: str, text: str, conversation: list[dict], context: list[dict]) -> CandidateRow:
    own = None if conversation[:-1] == context else conversation
    return CandidateRow(position=position, model=model, text=text, conversation=own)


def margin_verdict(margin, chosen_is_a: bool) -> tuple[int | None, float | None, bool]:
    """(strength, preference, kept) from an export's margin; kept False: it fits neither."""
    value = check_number(margin, "margin")
    if value == 0:
        return None, None, True
    if not 0 < value <= 3:
        return None, None, False
    sign = -1 if chosen_is_a else 1
    if value.is_integer():
        return sign * int(value), None, True
    return None, 0.5 - sign * value / 6, True


class TrlPreferenceFormat(JudgedFileFormat):
    name = "trl-preference"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        missing = [name for name in ("chosen", "rejected") if data.get(name) in (None, "", [])]
        if missing:
            raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        prompt = [] if data.get("prompt") in (None, "") else messages_of(data["prompt"], "prompt", "user")
        conversations = {
            name: full_conversation(prompt, messages_of(data[name], name, "assistant"))
            for name in ("chosen", "rejected")
        }
        context = shared_context(list(conversations.values()))
        if not context:
            raise RowError("no prompt: give a prompt field, or chosen and rejected must open with the same user turn")
        sides = [
            (
                name,
                label(data.get(f"{name}_model") or MODEL, f"{name}_model"),
                answer_of(conversation, name),
                conversation,
            )
            for name, conversation in conversations.items()
        ]
        sides = placed(sides)
        chosen_is_a = sides[0][0] == "chosen"
        candidates = [candidate(p, model, text, conv, context) for p, (_, model, text, conv) in enumerate(sides)]
        metadata = {k: v for k, v in data.items() if k not in PREFERENCE_FIELDS}
        strength = preference = None
        if data.get("margin") is not None:
            strength, preference, kept = margin_verdict(data["margin"], chosen_is_a)
            if not kept:
                metadata["margin"] = data["margin"]
        scores = [
            ScoreRow(position, "score", check_number(data[f"score_{name}"], f"score_{name}"))
            for position, (name, *_) in enumerate(sides)
            if data.get(f"score_{name}") is not None
        ]
        key = data.get("comparison")
        comparison = ComparisonRow(
            key=label(key, "comparison")
            if key not in (None, "")
            else content_key("trl", context, [[s[1], s[3]] for s in sides]),
            context=context,
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "trl-preference"},
            candidates=candidates,
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=judge_of(data, self.judge),
            created_at=now,
            outcome=Outcome.A if chosen_is_a else Outcome.B,
            strength=strength,
            preference=preference,
            rationale=check_text(data.get("rationale"), "rationale", required=False),
            scores=scores,
            metadata=metadata,
        )
        return Row(comparison, judgment)


class TrlKtoFormat(JudgedFileFormat):
    name = "trl-kto"

    def records(self) -> Iterator[Record]:
        """Consecutive rows of one (comparison, judge) as one record of ``rows``; others alone."""
        group: list[Record] = []
        for record in read_records(self.path):
            if group and (record.data is None or _group_of(record) != _group_of(group[0])):
                yield _merged(group)
                group = []
            if record.data is None:
                yield record
            elif _group_of(record) is None:
                yield _merged([record])
            else:
                group.append(record)
        if group:
            yield _merged(group)

    def parse(self, record: Record, now: datetime) -> Row:
        rows = record.data["rows"]
        if len(rows) > MAX_CANDIDATES:
            raise RowError(f"{len(rows)} rows of one comparison and judge; at most {MAX_CANDIDATES}")
        first = rows[0]
        for index, data in enumerate(rows):
            missing = [name for name in ("prompt", "completion", "label") if data.get(name) in (None, "", [])]
            if missing:
                raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            if index and data["prompt"] != first["prompt"]:
                raise RowError(f"rows of comparison {first.get('comparison')} have different prompts")
        prompt = messages_of(first["prompt"], "prompt", "user")
        sides, labels = {}, {}
        for data in rows:
            conversation = full_conversation(prompt, messages_of(data["completion"], "completion", "assistant"))
            side = ("completion", label(data.get("model") or MODEL, "model"), answer_of(conversation, "completion"))
            identity = (*side[1:], json.dumps(conversation, sort_keys=True, ensure_ascii=False))
            value = _label(data["label"])
            if labels.get(identity, value) != value:
                raise RowError("the same completion is labelled both true and false")
            sides[identity], labels[identity] = (*side, conversation), value
        context = shared_context(list(s[3] for s in sides.values())) if len(sides) > 1 else prompt
        if not context or context[-1]["role"] != "user":
            raise RowError("the prompt must end with a user turn")
        order = placed(list(sides.values()))
        candidates = [candidate(p, model, text, conv, context) for p, (_, model, text, conv) in enumerate(order)]
        identities = {(s[1], s[2], json.dumps(s[3], sort_keys=True, ensure_ascii=False)): s for s in order}
        thumbs = {str(order.index(identities[i])): labels[i] for i in labels}
        key = first.get("comparison")
        comparison = ComparisonRow(
            key=label(key, "comparison")
            if key not in (None, "")
            else content_key("trl-kto", context, [[s[1], s[3]] for s in order]),
            context=context,
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "trl-kto"},
            candidates=candidates,
        )
        rationales = list(dict.fromkeys(r["rationale"] for r in rows if r.get("rationale")))
        extra = {k: v for k, v in first.items() if k not in KTO_FIELDS}
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=judge_of(first, self.judge),
            created_at=now,
            rationale=check_text("\n\n".join(rationales), "rationale"),
            metadata={**extra, "thumbs": dict(sorted(thumbs.items()))},
        )
        return Row(comparison, judgment)


def _group_of(record: Record):
    comparison = record.data.get("comparison")
    return None if comparison in (None, "") else (str(comparison), record.data.get("judge"))


def _merged(records: list[Record]) -> Record:
    return Record(records[0].line, {"rows": [r.data for r in records]}, None, records[-1].position)


def _label(value) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise RowError(f"label must be true or false, got {value!r}")
