"""The export formats: each turns one comparison's group of judgments into rows with a fixed schema.

A format is its row function (``Group`` → dicts, in a stable order) and its Arrow schema (the Parquet
columns; the JSONL rows have the same keys in the same order). ``FORMATS`` names them for the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from agora_datasets.exports.privacy import Privacy
from agora_datasets.exports.selection import Group, Verdict
from annotation.imports.rows import message_text

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))

TIES = ("drop", "both-bad-pair")


@dataclass(frozen=True)
class Options:
    privacy: Privacy
    aggregate: str = "each"
    ties: str = "drop"
    margin: bool = False
    rationales: bool = False
    attributes: tuple[str, ...] = ()  # the Score attributes, for the ratings columns


@dataclass(frozen=True)
class Format:
    name: str
    rows: Callable[[Group, Options], Iterator[dict]]
    schema: Callable[[Options], pa.Schema]
    aggregations: tuple[str, ...] = ("each", "majority", "mean")
    file_formats: tuple[str, ...] = ("jsonl", "parquet")
    rationales: bool = True  # whether --rationales applies
    sort_keys: bool = False  # JSONL keys sorted (raw: the bytes the import and the round trip expect)
    values: bool = False  # reads only the fields of selection.JudgmentValues/ComparisonValues/CandidateValues
    doc: str = field(default="", compare=False)


def messages(context) -> list[dict]:
    """OpenAI messages as plain role/content pairs (content parts joined as text)."""
    return [{"role": str(m.get("role", "")), "content": message_text(m)} for m in context or []]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def rationale(verdict: Verdict, options: Options) -> str:
    """The judgment's rationale; an aggregate's are its judgments' non-empty ones, a blank line apart."""
    texts = [options.privacy.rationale(j) for j in verdict.judgments]
    return "\n\n".join(t for t in texts if t)


def judge(verdict: Verdict, options: Options) -> str | None:
    """The judge's pseudonym when the verdict is one judgment's; None for an aggregate."""
    return options.privacy.judge(verdict.judgment) if options.aggregate == "each" else None


def with_extras(row: dict, verdict: Verdict, group: Group, options: Options) -> dict:
    """The columns every pairwise format ends with."""
    row["comparison"] = group.comparison.key
    row["judge"] = options.privacy.pseudonym(verdict.judgments[0].judge) if options.aggregate == "each" else None
    if options.rationales:
        row["rationale"] = rationale(verdict, options)
    return row


def extra_fields(options: Options) -> list:
    fields = [("comparison", pa.string()), ("judge", pa.string())]
    return fields + ([("rationale", pa.string())] if options.rationales else [])


def _registry() -> dict[str, Format]:
    from agora_datasets.exports.formats import rankings, ratings, raw, reward, trl  # here: they import this module

    formats = [raw.FORMAT, trl.PREFERENCE, trl.KTO, reward.PAIRS, ratings.FORMAT, rankings.FORMAT]
    return {f.name: f for f in formats}


FORMAT_NAMES = ("raw", "trl-preference", "trl-kto", "reward-pairs", "ratings", "rankings")


def get_format(name: str) -> Format:
    return _registry()[name]
