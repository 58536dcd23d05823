"""Writing one batch of checked rows: comparisons found by key, judgments by (comparison, judge, source).

The rows go in with COPY, the fastest way into PostgreSQL: the ids of new comparisons and judgments
are drawn from their sequences first, so candidates and scores can name them in the same pass. Every
value was checked against the columns before (annotation/imports/rows.py's check_row); the
constraints stay the last line of defence, and a refusal rolls the whole import back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection

from agora_datasets.imports import sql
from annotation.candidates import style_values
from annotation.imports.records import RowError
from annotation.imports.rows import Row
from annotation.models import Candidate, Comparison, Judgment

# The JSON columns of each table: written as JSON text, which COPY hands to jsonb as it is.
JSON_COLUMNS = {
    name
    for model in (Comparison, Candidate, Judgment)
    for name in (f.column for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField")
}

_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder for every value (json.dumps makes one per call)


@dataclass
class Written:
    comparisons_added: int = 0
    judgments_added: int = 0
    judgments_present: int = 0


def write_batch(batch: list[Row]) -> Written:
    written = Written()
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
    for c, id in zip(new.values(), _next_ids(Comparison, len(new)), strict=True):
        existing[c.key] = id
    _copy(
        sql.COPY_COMPARISONS_SQL,
        ((existing[c.key], c.prompt, *_values(c, sql.COMPARISON_COLUMNS[2:])) for c in new.values()),
    )
    _copy(
        sql.COPY_CANDIDATES_SQL,
        (
            (existing[c.key], *_values(k, sql.CANDIDATE_ROW_COLUMNS), *style_values(k.text, k.output_tokens))
            for c in new.values()
            for k in c.candidates
        ),
    )
    written.comparisons_added = len(new)

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
    judgment_ids = _next_ids(Judgment, len(fresh))
    _copy(
        sql.COPY_JUDGMENTS_SQL,
        ((id, cid, *_values(j, sql.JUDGMENT_COLUMNS[2:])) for id, (cid, j) in zip(judgment_ids, fresh, strict=True)),
    )
    _copy(
        sql.COPY_SCORES_SQL,
        (
            (id, *_values(s, sql.SCORE_COLUMNS[1:]))
            for id, (_, j) in zip(judgment_ids, fresh, strict=True)
            for s in j.scores
        ),
    )
    written.judgments_added = len(fresh)
    return written


def _values(row, columns: tuple[str, ...]) -> list:
    return [_json(getattr(row, c)) if c in JSON_COLUMNS else getattr(row, c) for c in columns]


def _json(value):
    # None is SQL NULL, as Django stores None in a nullable JSONField.
    return None if value is None else _JSON.encode(value)


def _next_ids(model, count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql.NEXT_IDS_SQL, [model._meta.db_table, "id", count])
        return [id for (id,) in cursor.fetchall()]


def _copy(statement: str, rows) -> None:
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(statement) as copy:
        for values in rows:
            copy.write_row(values)


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
