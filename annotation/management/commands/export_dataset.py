"""python manage.py export_dataset --format raw --output PATH"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.exports.raw import raw_lines

FORMATS = {"raw": raw_lines}


class Command(BaseCommand):
    help = "Export judgments as a dataset file (streamed, constant memory)."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--output", required=True, help="a file path, or - for standard output")

    def handle(self, *args, format: str, output: str, **options):
        lines = FORMATS[format]()
        if output == "-":
            for line in lines:
                sys.stdout.write(line)
            return
        path = Path(output)
        if not path.parent.exists():
            raise CommandError(f"{path.parent}: no such folder")
        # Write beside the target and rename, so a failed export never leaves half a file.
        partial = path.with_name(path.name + ".partial")
        count = 0
        with open(partial, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                count += 1
        os.replace(partial, path)
        self.stdout.write(f"{path}: {count} judgments")
