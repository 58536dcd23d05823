"""Importing judgments: read, check and write the file in one pass, inside one transaction.

Each record is checked as it is read, and the valid ones are written in batches of
``BATCH_SIZE``. Unless ``skip_invalid``, the first bad record stops the writing (the rest is
still read, so the report lists every bad record) and the transaction is rolled back: the file
is accepted whole or not at all, and a file with errors leaves nothing behind. Reading once
keeps memory bounded and halves the parsing a two-pass import would do. Comparisons are found
by their key and judgments by (comparison, judge, source), so importing the same file twice
adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import IntegrityError, transaction

from agora_datasets.imports.agora import AgoraFormat
from agora_datasets.imports.arena import ArenaFormat
from agora_datasets.imports.arena_hard import ArenaHardFormat
from agora_datasets.imports.copilot_arena import CopilotArenaFormat
from agora_datasets.imports.files import DatasetSource, first_record
from agora_datasets.imports.helpsteer import HelpSteer2Format, HelpSteer2PreferenceFormat
from agora_datasets.imports.hh_rlhf import HhRlhfFormat
from agora_datasets.imports.llmfao import LlmfaoFormat
from agora_datasets.imports.lmarena import LmarenaFormat, LmarenaKaggleFormat
from agora_datasets.imports.mtbench import MtBenchFormat, MtBenchJudgeFormat
from agora_datasets.imports.nectar import NectarFormat
from agora_datasets.imports.trl import TrlKtoFormat, TrlPreferenceFormat
from agora_datasets.imports.ultrafeedback import UltraFeedbackFormat
from agora_datasets.imports.writes import write_batch
from annotation import live
from annotation.imports.records import Record, RowError
from annotation.imports.rows import Row, check_row

BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 1000


FORMATS = {
    "arena": ArenaFormat,
    "arena-hard": ArenaHardFormat,
    "llmfao": LlmfaoFormat,
    "lmarena": LmarenaFormat,
    "lmarena-kaggle": LmarenaKaggleFormat,
    "mt-bench": MtBenchFormat,
    "mt-bench-judge": MtBenchJudgeFormat,
    "copilot-arena": CopilotArenaFormat,
    "agora": AgoraFormat,
    "hh-rlhf": HhRlhfFormat,
    "nectar": NectarFormat,
    "ultrafeedback": UltraFeedbackFormat,
    "helpsteer2": HelpSteer2Format,
    "helpsteer2-preference": HelpSteer2PreferenceFormat,
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
    # MT-Bench's records have lmarena's fields and turn, but none of the Arena's tstamp/anony/language.
    "mt-bench": (
        frozenset({"question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn"}),
        frozenset({"tstamp", "anony", "language"}),
    ),
    "mt-bench-judge": (
        frozenset({"question_id", "model_1", "model_2", "g1_winner", "g2_winner", "judge"}),
        frozenset(),
    ),
    "copilot-arena": (
        frozenset({"prefix", "suffix", "model_a", "model_b", "acceptedIndex", "completion_a", "completion_b"}),
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
    "ultrafeedback": (frozenset({"instruction", "completions"}), frozenset()),
    "helpsteer2": (
        frozenset({"prompt", "response", "helpfulness", "correctness", "coherence", "complexity", "verbosity"}),
        frozenset(),
    ),
    "helpsteer2-preference": (
        frozenset({"prompt", "response_1", "response_2", "preference_strength"}),
        frozenset(),
    ),
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

    def nothing_written(self) -> None:
        self.comparisons_added = self.judgments_added = self.judgments_present = 0

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
    return judgments_write(reader=reader_for(format, path, judge), skip_invalid=skip_invalid, progress=progress)


def judgments_write(*, reader, skip_invalid: bool = False, progress: Progress | None = None) -> ImportReport:
    """Check and write what a reader gives (a file's, or a request body's records): all or, with errors and
    without ``skip_invalid``, nothing."""
    format = reader.name
    now = datetime.now(tz=UTC)
    report = ImportReport(format=format)

    try:
        with transaction.atomic():
            batch: list[Row] = []
            for record, row, error in _rows(reader, now, "importing", progress):
                report.records += 1
                if error:
                    report.add_error(record.line, error)
                    continue
                report.count_row(row)
                if report.invalid and not skip_invalid:
                    continue  # it will be rolled back: check the rest, write nothing more
                batch.append(row)
                if len(batch) == BATCH_SIZE:
                    _write(batch, report)
                    batch = []
            if report.invalid and not skip_invalid:
                raise _RollBack
            if batch:
                _write(batch, report)
            if report.judgments_added:
                live.votes_arrived(report.judgments_added)
    except _RollBack:
        report.nothing_written()
        raise ImportRejected(report) from None
    except IntegrityError as error:
        # The checks mirror the constraints; reaching here means a concurrent writer or a
        # conflict with existing rows. The transaction rolled back whole.
        report.nothing_written()
        report.add_error(0, f"the database refused the import ({error.__cause__ or error}); nothing was imported")
        raise ImportRejected(report) from error
    except RowError as error:
        report.nothing_written()
        report.add_error(0, f"{error}; nothing was imported")
        raise ImportRejected(report) from error
    return report


class _RollBack(Exception):
    """Leaves the import's transaction, rolling back what it wrote."""


def _write(batch: list[Row], report: ImportReport) -> None:
    written = write_batch(batch)
    report.comparisons_added += written.comparisons_added
    report.judgments_added += written.judgments_added
    report.judgments_present += written.judgments_present


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
