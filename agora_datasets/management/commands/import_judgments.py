"""python manage.py import_judgments SOURCE --format FORMAT [--judge LABEL] [--split SPLIT] [--skip-invalid]

SOURCE is a JSON, JSONL, CSV or Parquet file, a folder saved with ``datasets``' ``save_to_disk``
(or holding data files), or a Hugging Face Hub name, which ``datasets.load_dataset`` fetches.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agora_datasets.imports.files import DatasetSource, source_for
from agora_datasets.imports.service import FORMATS, ImportOptionError, ImportRejected, detect_format, judgments_import

SHOWN_ERRORS = 20


class ProgressBar:
    """A one-line bar on a terminal; a line every few seconds otherwise."""

    def __init__(self, stream, total_bytes: int):
        self.stream, self.total = stream, max(total_bytes, 1)
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, phase: str, position: int, count: int) -> None:
        now = time.monotonic()
        done = position < 0
        if not done and now - self.last < (0.2 if self.tty else 5):
            return
        self.last = now
        share = 1.0 if done else min(position / self.total, 1.0)
        bar = "#" * int(share * 30)
        text = f"{phase:>9} [{bar:<30}] {share:6.1%}" + ("" if done else f"  {count:,} records")
        if self.tty:
            self.stream.write("\r" + text.ljust(70) + ("\n" if done else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import judgments from a file; the whole file is accepted or none of it."

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="SOURCE", help="a file, a dataset folder, or a Hub name (owner/name)")
        parser.add_argument("--split", help="the split of a dataset folder or Hub dataset with several (e.g. train)")
        parser.add_argument(
            "--format",
            required=True,
            choices=["auto", *sorted(FORMATS)],
            help="auto: recognise the format from the first record's fields",
        )
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the valid records and report the others"
        )
        parser.add_argument(
            "--judge",
            help="the judge of formats whose records name none ("
            + ", ".join(sorted(name for name, cls in FORMATS.items() if getattr(cls, "takes_judge", False)))
            + "); default: the file's or dataset's name without its extension",
        )
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--report", type=Path, help="write every invalid record's line and reason here")

    def handle(
        self,
        *args,
        path: str,
        format: str,
        skip_invalid: bool,
        no_progress: bool,
        report: Path | None = None,
        judge: str | None = None,
        split: str | None = None,
        **options,
    ):
        self.report_path = report
        try:
            path = source_for(path, split)
        except (FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from None
        if format == "auto":
            try:
                format, fields = detect_format(path)
            except ImportOptionError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{path}: format {format} (its records have {', '.join(fields)})")
        # A dataset's records say their progress in thousandths of its rows; a file's, in bytes.
        total = 1000 if isinstance(path, DatasetSource) else path.stat().st_size
        progress = None if no_progress else ProgressBar(sys.stderr, total)
        try:
            report = judgments_import(
                path=path, format=format, skip_invalid=skip_invalid, progress=progress, judge=judge
            )
        except ImportRejected as rejected:
            self._errors(path, rejected.report)
            raise CommandError(
                f"{path}: {rejected.report.invalid} invalid record(s) out of {rejected.report.records}; "
                "nothing was imported" + ("" if skip_invalid else " (use --skip-invalid to import the rest)")
            ) from None
        except (FileNotFoundError, ImportOptionError) as error:
            raise CommandError(str(error)) from None
        self._errors(path, report)
        self.stdout.write(
            f"{path}: {report.records} records, {report.judgments_added} judgments added, "
            f"{report.comparisons_added} comparisons added, {report.judgments_present} already present, "
            f"{report.invalid} skipped as invalid"
        )
        if report.outcomes:
            counts = ", ".join(f"{kind} {n}" for kind, n in report.outcomes.most_common())
            self.stdout.write(f"{path}: verdicts: {counts}")
        for (name, reason), n in sorted(report.dropped.items()):
            self.stdout.write(f"{path}: dropped {name} from {n} record(s): {reason}")

    def _errors(self, path: Path, report) -> None:
        lines = [f"{path}:{f'line {line}' if line else 'import'}: {reason}" for line, reason in report.errors]
        for text in lines[:SHOWN_ERRORS]:
            self.stderr.write(text)
        if report.invalid > SHOWN_ERRORS:
            more = report.invalid - SHOWN_ERRORS
            hint = f"; see {self.report_path}" if self.report_path else "; --report FILE lists them"
            self.stderr.write(f"… and {more} more{hint}")
        if self.report_path and lines:
            self.report_path.write_text("\n".join(lines) + "\n")
