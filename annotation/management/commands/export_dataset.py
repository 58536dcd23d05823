"""python manage.py export_dataset --format FORMAT --output PATH [filters] [--test-share 0.1] …

Formats: raw, trl-preference, trl-kto, reward-pairs, ratings, rankings (annotation/exports/formats);
files: JSONL or Parquet, streamed; a manifest beside them (annotation/exports/manifest.py).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from annotation.exports.dataset import export_dataset, export_rows, score_attributes
from annotation.exports.formats import FORMAT_NAMES, TIES, Options, get_format
from annotation.exports.privacy import Privacy
from annotation.exports.selection import AGGREGATIONS, ExportFilters, SelectionError
from annotation.exports.writers import FILE_FORMATS
from annotation.models import Project, Source


def moment(value: str | None, option: str) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC when it names no zone)."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime.combine(day, time())
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"{option} {value!r}: give a date (2025-01-31) or a date-time (2025-01-31T12:00)")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class Command(BaseCommand):
    help = "Export judgments as a dataset (streamed, constant memory), with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=FORMAT_NAMES)
        parser.add_argument("--file-format", default="jsonl", choices=FILE_FORMATS)
        parser.add_argument("--output", required=True,
                            help="a file (with a split: PATH-train/PATH-test), an existing folder, or - for stdout")
        filters = parser.add_argument_group("selection")
        filters.add_argument("--project", help="a project's slug: its queue's judgments")
        filters.add_argument("--source", action="append", default=[], choices=Source.values,
                             help="repeat for several")
        filters.add_argument("--since", help="created at or after this date / date-time (UTC)")
        filters.add_argument("--until", help="created before this date / date-time (UTC)")
        filters.add_argument("--model", action="append", default=[], help="either candidate is this model")
        filters.add_argument("--category", action="append", default=[])
        filters.add_argument("--language", action="append", default=[])
        filters.add_argument("--gold", choices=("include", "exclude"),
                             help="judgments on gold items (default: exclude; raw: include)")
        filters.add_argument("--min-gold-accuracy", type=float,
                             help="drop annotators whose accuracy on gold items is below this")
        filters.add_argument("--min-gold-answers", type=int, default=3,
                             help="gold answers an annotator needs before the accuracy counts (3)")
        filters.add_argument("--min-seconds", type=float, help="drop answers given faster than this")
        filters.add_argument("--min-agreement", type=float,
                             help="keep comparisons whose majority outcome has at least this share")
        filters.add_argument("--aggregate", choices=AGGREGATIONS,
                             help="each (default), majority or mean; ratings are always the mean")
        filters.add_argument("--dedup-prompts", action="store_true", help="keep the first comparison per prompt")
        filters.add_argument("--test-share", type=float, default=0.0, help="share of prompts in the test split")
        shape = parser.add_argument_group("rows")
        shape.add_argument("--ties", default="drop", choices=TIES)
        shape.add_argument("--margin", action="store_true", help="trl-preference: add a margin column")
        shape.add_argument("--rationales", action="store_true", help="add a rationale column")
        shape.add_argument("--release", action="store_true",
                           help="drop the fields projects mark private; pseudonymous judges in raw too")
        shape.add_argument("--salt", help="the pseudonym salt (default: random; never written down)")
        parser.add_argument("--chunk-size", type=int, default=2000, help="judgments read per query")

    def handle(self, *args, **o):
        fmt = get_format(o["format"])
        file_format = o["file_format"]
        if file_format not in fmt.file_formats:
            raise CommandError(f"{fmt.name} is written as {', '.join(fmt.file_formats)} only")
        aggregate = o["aggregate"] or fmt.aggregations[0]
        if aggregate not in fmt.aggregations:
            raise CommandError(f"{fmt.name} takes --aggregate {' or '.join(fmt.aggregations)}")
        if o["rationales"] and not fmt.rationales:
            raise CommandError(f"--rationales does not apply to {fmt.name}")
        if o["project"] and not Project.objects.filter(slug=o["project"]).exists():
            raise CommandError(f"no project {o['project']!r}")
        if o["salt"] is not None and not o["salt"]:
            raise CommandError("--salt must not be empty")
        if o["chunk_size"] < 1 or o["min_gold_answers"] < 1:
            raise CommandError("--chunk-size and --min-gold-answers must be 1 or more")
        gold = o["gold"] or ("include" if fmt.name == "raw" else "exclude")
        filters = ExportFilters(
            project=o["project"], sources=tuple(o["source"]), since=moment(o["since"], "--since"),
            until=moment(o["until"], "--until"), models=tuple(o["model"]), categories=tuple(o["category"]),
            languages=tuple(o["language"]), exclude_gold=gold == "exclude", min_gold_accuracy=o["min_gold_accuracy"],
            min_gold_answers=o["min_gold_answers"], min_seconds=o["min_seconds"], min_agreement=o["min_agreement"],
            aggregate=aggregate, dedup_prompts=o["dedup_prompts"], test_share=o["test_share"],
        )
        try:
            filters.check()
        except SelectionError as error:
            raise CommandError(str(error)) from None
        options = Options(privacy=Privacy.create(salt=o["salt"], release=o["release"]), aggregate=aggregate,
                          ties=o["ties"], margin=o["margin"], rationales=o["rationales"],
                          attributes=score_attributes(filters) if fmt.name == "ratings" else ())
        if o["output"] == "-":
            if file_format != "jsonl" or filters.test_share:
                raise CommandError("standard output takes one JSONL stream: no Parquet, no split")
            for _, row in export_rows(fmt, filters, options, chunk_size=o["chunk_size"]):
                sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=fmt.sort_keys) + "\n")
            return
        try:
            manifest = export_dataset(fmt, filters, options, Path(o["output"]), file_format=file_format,
                                      chunk_size=o["chunk_size"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        for entry in manifest["files"]:
            self.stdout.write(f"{entry['path']}: {entry['rows']} rows ({entry['split']})")
