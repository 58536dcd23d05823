"""Writing one batch of checked rows: comparisons found by key (annotation/imports/writes.py), judgments
by (comparison, judge, source).

The rows go in with COPY, the fastest way into PostgreSQL: the ids of new judgments are drawn from their
sequence first, so scores can name them in the same pass. Every value was checked against the columns
before (annotation/imports/rows.py's check_row); the constraints stay the last line of defence, and a
refusal rolls the whole import back.
"""

from __future__ import annotations

from dataclasses import dataclass

from agora_datasets.imports import sql
from annotation.imports.rows import Row
from annotation.imports.writes import comparisons_write, copy_rows, next_ids, values
from annotation.models import Judgment


@dataclass
class Written:
    comparisons_added: int = 0
    judgments_added: int = 0
    judgments_present: int = 0


def write_batch(batch: list[Row]) -> Written:
    written = Written()
    existing, written.comparisons_added = comparisons_write([row.comparison for row in batch])

    ids = set(existing.values())
    seen = set(Judgment.objects.filter(comparison_id__in=ids).values_list("comparison_id", "judge", "source"))
    fresh = []
    for row in batch:
        j = row.judgment
        identity = (existing[row.comparison.key], j.judge, j.source)
        if identity in seen:
            written.judgments_present += 1
            continue
        seen.add(identity)
        fresh.append((identity[0], j))
    judgment_ids = next_ids(Judgment, len(fresh))
    copy_rows(
        sql.COPY_JUDGMENTS_SQL,
        ((id, cid, *values(j, sql.JUDGMENT_COLUMNS[2:])) for id, (cid, j) in zip(judgment_ids, fresh, strict=True)),
    )
    copy_rows(
        sql.COPY_SCORES_SQL,
        (
            (id, *values(s, sql.SCORE_COLUMNS[1:]))
            for id, (_, j) in zip(judgment_ids, fresh, strict=True)
            for s in j.scores
        ),
    )
    written.judgments_added = len(fresh)
    return written
