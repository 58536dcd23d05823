"""python manage.py export_dataset --format FORMAT --output PATH [filters] [--test-share 0.1] …

Formats: raw, trl-preference, trl-kto, reward-pairs, ratings, rankings (agora_datasets/exports/formats);
files: JSONL or Parquet, streamed; a manifest beside them (agora_datasets/exports/manifest.py).
And battles-per-day: the arena's voted battles per model per UTC day (agora_datasets/exports/battles.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agora_datasets.exports.battles import battles_per_day
from agora_datasets.exports.dataset import export_dataset, export_rows
from agora_datasets.exports.formats import FORMAT_NAMES, TIES
from agora_datasets.exports.jobs import JOB_PARAMS, ExportError, export_spec, moment
from agora_datasets.exports.selection import AGGREGATIONS
from agora_datasets.exports.writers import FILE_FORMATS, jsonl_line
from annotation.models import Source

BATTLES_PER_DAY = "battles-per-day"
# The selection and row options of the training-set formats (what an export job keeps) that a per-day table
# has no use for: given, they are refused. "ties" has a default, so it cannot tell given from not.
AGGREGATE_REFUSES = tuple(p for p in JOB_PARAMS if p not in ("format", "file_format", "since", "until", "ties"))


def battles_schema():
    import pyarrow as pa  # only when Parquet is asked for

    counts = [(name, pa.int64()) for name in ("battles", "wins", "losses", "ties")]
    return pa.schema([("day", pa.string()), ("model", pa.string()), *counts])


class Command(BaseCommand):
    help = "Export judgments as a dataset (streamed, constant memory), with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=(*FORMAT_NAMES, BATTLES_PER_DAY))
        parser.add_argument("--file-format", default="jsonl", choices=FILE_FORMATS)
        parser.add_argument(
            "--output",
            required=True,
            help="a file (with a split: PATH-train/PATH-test), an existing folder, or - for stdout",
        )
        filters = parser.add_argument_group("selection")
        filters.add_argument("--project", help="a project's slug: its queue's judgments")
        filters.add_argument("--source", action="append", default=[], choices=Source.values, help="repeat for several")
        filters.add_argument("--since", help="created at or after this date / date-time (UTC)")
        filters.add_argument("--until", help="created before this date / date-time (UTC)")
        filters.add_argument("--model", action="append", default=[], help="either candidate is this model")
        filters.add_argument("--category", action="append", default=[])
        filters.add_argument("--language", action="append", default=[])
        filters.add_argument(
            "--gold", choices=("include", "exclude"), help="judgments on gold items (default: exclude; raw: include)"
        )
        filters.add_argument(
            "--min-gold-accuracy", type=float, help="drop annotators whose accuracy on gold items is below this"
        )
        filters.add_argument(
            "--min-gold-answers",
            type=int,
            default=3,
            help="gold answers an annotator needs before the accuracy counts (3)",
        )
        filters.add_argument("--min-seconds", type=float, help="drop answers given faster than this")
        filters.add_argument(
            "--min-agreement", type=float, help="keep comparisons whose majority outcome has at least this share"
        )
        filters.add_argument(
            "--aggregate", choices=AGGREGATIONS, help="each (default), majority or mean; ratings are always the mean"
        )
        filters.add_argument("--dedup-prompts", action="store_true", help="keep the first comparison per prompt")
        filters.add_argument("--test-share", type=float, default=0.0, help="share of prompts in the test split")
        shape = parser.add_argument_group("rows")
        shape.add_argument("--ties", default="drop", choices=TIES)
        shape.add_argument("--margin", action="store_true", help="trl-preference: add a margin column")
        shape.add_argument("--rationales", action="store_true", help="add a rationale column")
        shape.add_argument(
            "--release",
            action="store_true",
            help="drop the fields projects mark private; pseudonymous judges in raw too",
        )
        shape.add_argument("--salt", help="the pseudonym salt (default: random; never written down)")
        parser.add_argument("--chunk-size", type=int, default=2000, help="judgments read per query")

    def handle(self, *args, **o):
        if o["format"] == BATTLES_PER_DAY:
            return self.battles_per_day(o)
        try:
            spec = export_spec(o)
        except ExportError as error:
            raise CommandError(str(error)) from None
        fmt, file_format, filters, options = spec.fmt, spec.file_format, spec.filters, spec.options
        if o["output"] == "-":
            if file_format != "jsonl" or filters.test_share:
                raise CommandError("standard output takes one JSONL stream: no Parquet, no split")
            for _, row in export_rows(fmt, filters, options, chunk_size=spec.chunk_size, json_texts=True):
                sys.stdout.write(jsonl_line(row, sort_keys=fmt.sort_keys).decode())
            return
        try:
            manifest = export_dataset(
                fmt, filters, options, Path(o["output"]), file_format=file_format, chunk_size=spec.chunk_size
            )
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        for entry in manifest["files"]:
            self.stdout.write(f"{entry['path']}: {entry['rows']} rows ({entry['split']})")

    def battles_per_day(self, o) -> None:
        """The arena's voted battles per model per UTC day (agora_datasets/exports/battles.py): a table,
        not a training set, so of the selection only --since and --until apply."""
        others = [f"--{name.replace('_', '-')}" for name in AGGREGATE_REFUSES if o.get(name)]
        if others:
            raise CommandError(f"{BATTLES_PER_DAY} takes --since, --until and --file-format; not {', '.join(others)}")
        try:
            rows = list(battles_per_day(since=moment(o["since"], "since"), until=moment(o["until"], "until")))
        except ExportError as error:
            raise CommandError(str(error)) from None
        if o["output"] == "-":
            for row in rows:
                sys.stdout.write(jsonl_line(row).decode())
            return
        path = Path(o["output"])
        if path.is_dir():
            path = path / f"{BATTLES_PER_DAY}.{o['file_format']}"
        if o["file_format"] == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows, schema=battles_schema()), path)
        else:
            path.write_bytes(b"".join(jsonl_line(row) for row in rows))
        self.stdout.write(f"{path}: {len(rows)} rows")
