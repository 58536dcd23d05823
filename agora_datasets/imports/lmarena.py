"""LMArena (Chatbot Arena) battle releases, read as published.

``lmarena`` — the conversation releases (``chatbot_arena_conversations``, 33k; the later
human-preference releases name the voter ``judge_hash``): ``question_id``, ``model_a``,
``model_b``, ``winner``, ``judge`` or ``judge_hash``, ``conversation_a``/``conversation_b``
(lists of ``{"role", "content"}``, several turns), ``turn``, ``anony``, ``language``,
``tstamp``, ``openai_moderation``, ``toxic_chat_tag``, category tags. These are read by the
``arena`` format's rules (agora_datasets/imports/arena.py): the context is conversation_a up
to its last user turn, each side's answer a candidate, every field without a column
(``anony``, ``openai_moderation``, ``toxic_chat_tag``, ``category_tag``, ``turn``…) kept in
the judgment's metadata.

``lmarena-kaggle`` — the 55k Kaggle competition file: ``id``, ``model_a``, ``model_b``,
``prompt``, ``response_a``, ``response_b`` (each a JSON-encoded list of turns, as text), and
one-hot ``winner_model_a``/``winner_model_b``/``winner_tie``. The voters are anonymous: the
judge is ``--judge`` or the file's name. A turn the release has as ``null`` (an answer that
failed) is stored as empty text and listed in the judgment's metadata (``null_turns``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from agora_datasets.imports import arena
from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import JudgedFileFormat, decoded, file_kind, read_records, require_fields
from annotation.imports.records import Record, RowError
from annotation.imports.rows import Row

JSON_FIELDS = ("conversation_a", "conversation_b", "openai_moderation", "toxic_chat_tag", "category_tag")
KAGGLE_FIELDS = ("id", "model_a", "model_b", "prompt", "response_a", "response_b")
ONE_HOT = {"winner_model_a": "model_a", "winner_model_b": "model_b", "winner_tie": "tie"}


class LmarenaFormat:
    name = "lmarena"

    def __init__(self, path: Path):
        self.path = path
        self.csv = file_kind(path) == "csv"

    def records(self) -> Iterator[Record]:
        return read_records(self.path)

    def parse(self, record: Record, now: datetime) -> Row:
        data = dict(record.data)
        if "judge" not in data and "judge_hash" in data:
            data["judge"] = data.pop("judge_hash")
        for name in JSON_FIELDS:
            if name in data and (self.csv or name.startswith("conversation")):
                data[name] = decoded(data[name], name)
        if self.csv:
            data = _csv_values(data)
        return arena.parse(Record(record.line, data, None, record.position), now)


def _csv_values(data: dict) -> dict:
    """CSV holds every value as text: numbers and true/false back to what the release wrote."""
    for name in ("tstamp", "turn"):
        if isinstance(data.get(name), str) and data[name].strip():
            try:
                number = float(data[name])
            except ValueError:
                raise RowError(f"{name} must be a number, got {data[name]!r}") from None
            data[name] = int(number) if name == "turn" and number.is_integer() else number
    for name, value in list(data.items()):
        if value in ("True", "False", "true", "false"):
            data[name] = value.lower() == "true"
        elif value == "":
            data[name] = None
    return {k: v for k, v in data.items() if v is not None or k == "winner"}


class LmarenaKaggleFormat(JudgedFileFormat):
    name = "lmarena-kaggle"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, (*KAGGLE_FIELDS, *ONE_HOT))
        identity = label(data["id"], "id")
        winners = [winner for name, winner in ONE_HOT.items() if _flag(data[name], name)]
        if len(winners) != 1:
            raise RowError("exactly one of winner_model_a, winner_model_b and winner_tie must be 1")
        turns, null_turns = {}, {}
        for name in ("prompt", "response_a", "response_b"):
            value = decoded(data[name], name)
            if not isinstance(value, list) or not value:
                raise RowError(f"{name} must be a JSON list of texts, one per turn")
            nulls = [index for index, turn in enumerate(value) if turn is None]
            if nulls:
                null_turns[name] = nulls
            turns[name] = ["" if turn is None else turn for turn in value]
        battle = {
            "question_id": identity,
            "model_a": data["model_a"],
            "model_b": data["model_b"],
            "winner": winners[0],
            "judge": self.judge,
            **turns,
        }
        row = arena.parse(Record(record.line, battle, None, record.position), now)
        row.comparison.key = f"lmarena-kaggle:{identity}"
        row.judgment.metadata = {k: v for k, v in data.items() if k not in (*KAGGLE_FIELDS, *ONE_HOT)}
        if null_turns:
            row.judgment.metadata["null_turns"] = null_turns
        return row


def _flag(value, name: str) -> bool:
    if value in (0, 1, "0", "1") and not isinstance(value, float):
        return value in (1, "1")
    raise RowError(f"{name} must be 0 or 1, got {value!r}")
