"""The raw format through the export machinery: one line per judgment with everything (see
agora_datasets/exports/raw.py), re-importable with ``import_judgments --format agora``. JSONL only; every
judgment is its own line (no aggregation). Judges keep their stored labels, except in release mode.
"""

from __future__ import annotations

from collections.abc import Iterator

from agora_datasets.exports.formats import Format, Options
from agora_datasets.exports.privacy import scrub_raw
from agora_datasets.exports.raw import judgment_to_raw
from agora_datasets.exports.selection import Group


def raw_rows(group: Group, options: Options) -> Iterator[dict]:
    for judgment in group.judgments:
        row = scrub_raw(judgment_to_raw(judgment))
        row["judgment"] = options.privacy.judgment_fields(row["judgment"], judgment)
        yield row


FORMAT = Format(
    "raw", raw_rows, lambda options: None, aggregations=("each",), file_formats=("jsonl",), sort_keys=True, doc=__doc__
)
