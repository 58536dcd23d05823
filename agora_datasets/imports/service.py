"""Importing judgments: check the whole file, then write it in one transaction.

Pass 1 reads every record and checks it, holding nothing but the error list.
Unless ``skip_invalid``, any error stops the import before a row is written.
Pass 2 reads the file again and writes in batches inside one transaction, so
the file is accepted whole or not at all. Comparisons are found by their key
and judgments by (comparison, judge, source), so importing the same file twice
adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import IntegrityError, transaction

from agora_datasets.imports.agora import AgoraFormat
from agora_datasets.imports.arena import ArenaFormat
from agora_datasets.imports.arena_hard import ArenaHardFormat
from agora_datasets.imports.files import DatasetSource, first_record
from agora_datasets.imports.hh_rlhf import HhRlhfFormat
from agora_datasets.imports.llmfao import LlmfaoFormat
from agora_datasets.imports.lmarena import LmarenaFormat, LmarenaKaggleFormat
from agora_datasets.imports.nectar import NectarFormat
from agora_datasets.imports.trl import TrlKtoFormat, TrlPreferenceFormat
from annotation.candidates import style_fields
from annotation.imports.records import Record, RowError
from annotation.imports.rows import Row, check_row, field_values
from annotation.models import Candidate, Comparison, Judgment, Score

BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 1000


FORMATS = {
    "arena": ArenaFormat,
    "arena-hard": ArenaHardFormat,
    "llmfao": LlmfaoFormat,
    "lmarena": LmarenaFormat,
    "lmarena-kaggle": LmarenaKaggleFormat,
    "agora": AgoraFormat,
    "hh-rlhf": HhRlhfFormat,
    "nectar": NectarFormat,
    "trl-preference": TrlPreferenceFormat,
    "trl-kto": TrlKtoFormat,
}

# --format auto: the fields each format's records must have (and must not), most specific first.
# "judge_hash" counts as "judge"; a "chosen" that is a list of messages adds MESSAGES_MARK.
MESSAGES_MARK = "chosen as messages"
SIGNATURES: dict[str, tuple[frozenset, frozenset]] = {
    "agora": (frozenset({"agora_raw", "comparison", "candidates", "judgment"}), frozenset()),
    "lmarena-kaggle": (
        frozenset({"id", "model_a", "model_b", "prompt", "response_a", "response_b"})
        | frozenset({"winner_model_a", "winner_model_b", "winner_tie"}),
        frozenset(),
    ),
    "lmarena": (
        frozenset({"question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b"}),
        frozenset(),
    ),
    "arena": (frozenset({"model_a", "model_b", "winner", "judge"}), frozenset()),
    "arena-hard": (
        frozenset({"question_id", "model_a", "model_b", "winner"}),
        frozenset({"judge", "conversation_a", "conversation_b", "prompt", "response_a", "response_b"}),
    ),
    "llmfao": (frozenset({"id", "prompt", "model_x", "model_y", "winner"}), frozenset()),
    "trl-kto": (frozenset({"prompt", "completion", "label"}), frozenset()),
    # HH-RLHF's sides are whole transcripts as text; TRL's may be messages, with or without a prompt.
    "hh-rlhf": (frozenset({"chosen", "rejected"}), frozenset({"prompt", MESSAGES_MARK})),
    "trl-preference": (frozenset({"chosen", "rejected"}), frozenset()),
    "nectar": (frozenset({"prompt", "answers"}), frozenset()),
}


class ImportOptionError(ValueError):
    """The format or an option does not fit the file; said before anything is read."""


def detect_format(path: Path) -> tuple[str, list[str]]:
    """The format whose fields the file's first record has, and those fields; else
    ImportOptionError naming the nearest format and the fields it lacks."""
    record = first_record(_source(path))
    if record is None:
        raise ImportOptionError(f"{path} has no records to recognise a format from")
    if record.data is None:
        raise ImportOptionError(f"cannot recognise the format: record {record.line}: {record.error}")
    keys = set(record.data) | ({"judge"} if "judge_hash" in record.data else set())
    if isinstance(record.data.get("chosen"), list):
        keys.add(MESSAGES_MARK)
    for name, (required, forbidden) in SIGNATURES.items():
        if required <= keys and not forbidden & keys:
            return name, sorted(required)
    nearest = max(SIGNATURES, key=lambda name: len(SIGNATURES[name][0] & keys) / len(SIGNATURES[name][0]))
    lacking = sorted(SIGNATURES[nearest][0] - keys)
    extra = sorted(SIGNATURES[nearest][1] & keys)
    why = f"lacks {', '.join(lacking)}" if lacking else f"does not have {', '.join(extra)}"
    raise ImportOptionError(
        f"{path} matches no format (its fields: {', '.join(sorted(record.data))}); "
        f"the nearest is {nearest}, whose records have {', '.join(sorted(SIGNATURES[nearest][0]))} "
        f"and this one {why}"
    )


class ImportRejected(Exception):
    """The file has errors and nothing was imported."""

    def __init__(self, report: ImportReport):
        super().__init__(f"{report.invalid} invalid record(s); nothing was imported")
        self.report = report


@dataclass
class ImportReport:
    records: int = 0
    invalid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), the first ones
    comparisons_added: int = 0
    judgments_added: int = 0
    judgments_present: int = 0  # already in the database, or twice in the file
    format: str = ""
    outcomes: Counter = field(default_factory=Counter)  # valid records per kind of verdict
    dropped: Counter = field(default_factory=Counter)  # (field, reason) -> records that carried it

    def count_row(self, row: Row) -> None:
        self.outcomes[verdict_kind(row.judgment)] += 1
        for name, reason in row.dropped.items():
            self.dropped[(name, reason)] += 1

    def add_error(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, reason))


def verdict_kind(judgment) -> str:
    """What a judgment says, in the words the import report counts it under."""
    if judgment.outcome:
        return "both bad" if judgment.both_bad else {"a": "A", "b": "B", "tie": "tie"}[judgment.outcome]
    if judgment.preference is not None:
        return "preference"
    if judgment.ranking is not None:
        return "ranking"
    if judgment.scores:
        return "scores"
    if judgment.principles:
        return "principles"
    if "thumbs" in judgment.metadata:
        return "label"
    return "no verdict"


Progress = Callable[[str, int, int], None]  # (phase, bytes read, records so far)


def reader_for(format: str, path: Path, judge: str | None = None):
    """The format's reader; ``judge`` names the judge of formats whose records name none."""
    if format not in FORMATS:
        raise ImportOptionError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    cls = FORMATS[format]
    if getattr(cls, "takes_judge", False):
        return cls(_source(path), judge=judge)
    if judge:
        raise ImportOptionError(
            f"the {format} format names its judges in the file; --judge goes with formats that do not"
        )
    return cls(_source(path))


def _source(path):
    return path if isinstance(path, DatasetSource) else Path(path)


def judgments_import(
    *,
    path: Path,
    format: str,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    judge: str | None = None,
) -> ImportReport:
    if format == "auto":
        format, _ = detect_format(path)
    reader = reader_for(format, path, judge)
    now = datetime.now(tz=UTC)
    report = ImportReport(format=format)

    for record, row, error in _rows(reader, now, "checking", progress):
        report.records += 1
        if error:
            report.add_error(record.line, error)
        else:
            report.count_row(row)
    if report.invalid and not skip_invalid:
        raise ImportRejected(report)

    good = (row for _, row, error in _rows(reader, now, "importing", progress) if not error)
    try:
        with transaction.atomic():
            for batch in _batches(good, BATCH_SIZE):
                _write_batch(batch, report)
    except IntegrityError as error:
        # Checks in pass 1 mirror the constraints; reaching here means a concurrent
        # writer or a conflict with existing rows. The transaction rolled back whole.
        report.add_error(0, f"the database refused the import ({error.__cause__ or error}); nothing was imported")
        raise ImportRejected(report) from error
    except RowError as error:
        report.add_error(0, f"{error}; nothing was imported")
        raise ImportRejected(report) from error
    return report


def _rows(
    reader, now: datetime, phase: str, progress: Progress | None
) -> Iterator[tuple[Record, Row | None, str | None]]:
    for count, record in enumerate(reader.records(), start=1):
        if progress and count % 200 == 0:
            progress(phase, record.position, count)
        if record.error:
            yield record, None, record.error
            continue
        try:
            yield record, check_row(reader.parse(record, now)), None
        except RowError as error:
            yield record, None, str(error)
    if progress:
        progress(phase, -1, 0)


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_batch(batch: list[Row], report: ImportReport) -> None:
    keys = {row.comparison.key for row in batch}
    existing = dict(Comparison.objects.filter(key__in=keys).values_list("key", "id"))
    _check_same_candidates(batch, existing)

    new = {}
    for row in batch:
        c = row.comparison
        if c.key in existing:
            continue
        if c.key in new and _models(new[c.key]) != _models(c):
            raise RowError(f"comparison {c.key} appears twice in the file with other models")
        new.setdefault(c.key, c)
    created = Comparison.objects.bulk_create(
        Comparison(prompt=c.prompt, **field_values(c, exclude=("candidates",))) for c in new.values()
    )
    for comparison in created:
        existing[comparison.key] = comparison.id
    Candidate.objects.bulk_create(
        Candidate(comparison_id=existing[c.key], **field_values(k), **style_fields(k.text, k.output_tokens))
        for c in new.values()
        for k in c.candidates
    )
    report.comparisons_added += len(created)

    ids = set(existing.values())
    seen = set(Judgment.objects.filter(comparison_id__in=ids).values_list("comparison_id", "judge", "source"))
    fresh = []
    for row in batch:
        j = row.judgment
        identity = (existing[row.comparison.key], j.judge, j.source)
        if identity in seen:
            report.judgments_present += 1
            continue
        seen.add(identity)
        fresh.append((identity[0], j))
    judgments = Judgment.objects.bulk_create(
        Judgment(comparison_id=cid, **field_values(j, exclude=("scores",))) for cid, j in fresh
    )
    Score.objects.bulk_create(
        Score(judgment=judgment, **field_values(s))
        for judgment, (_, j) in zip(judgments, fresh, strict=True)
        for s in j.scores
    )
    report.judgments_added += len(judgments)


def _models(comparison) -> list[tuple[int, str]]:
    return sorted((c.position, c.model) for c in comparison.candidates)


def _check_same_candidates(batch: list[Row], existing: dict[str, int]) -> None:
    """A key already in the database must name the same models at the same positions."""
    if not existing:
        return
    stored: dict[int, list[tuple[int, str]]] = {}
    for cid, position, model in (
        Candidate.objects.filter(comparison_id__in=existing.values())
        .values_list("comparison_id", "position", "model")
        .order_by("comparison_id", "position")
    ):
        stored.setdefault(cid, []).append((position, model))
    for row in batch:
        cid = existing.get(row.comparison.key)
        if cid is None:
            continue
        if stored.get(cid) != _models(row.comparison):
            raise RowError(f"comparison {row.comparison.key} already exists with other models")
