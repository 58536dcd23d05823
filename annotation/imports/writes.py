"""Writing checked rows in bulk: comparisons (with their candidates) found by key or added with COPY.

The ids of new comparisons are drawn from their sequence first, so their candidates (and whatever the
caller writes next: judgments, items) can name them in the same pass. Every value was checked against
the columns before (annotation/imports/rows.py); the constraints stay the last line of defence.
"""

from __future__ import annotations

import hashlib
import json

from django.db import connection
from django.db.models.functions import MD5

from annotation.candidates import style_values
from annotation.imports import sql
from annotation.imports.records import RowError
from annotation.imports.rows import ComparisonRow
from annotation.models import Candidate, Comparison, Item, Judgment

# The JSON columns of each table: written as JSON text, which COPY hands to jsonb as it is.
JSON_COLUMNS = {
    name
    for model in (Comparison, Candidate, Judgment, Item)
    for name in (f.column for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField")
}

_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder for every value (json.dumps makes one per call)


def comparisons_write(comparisons: list[ComparisonRow], *, same_texts: bool = False) -> tuple[dict[str, int], int]:
    """Each comparison's id by key, the new ones written; and how many were new. A key already stored, or
    twice in ``comparisons``, must name the same models at the same positions, and with ``same_texts`` the
    same texts too (RowError otherwise).

    Must run in a transaction: it takes a lock that two bulk writes hold one after the other until they
    commit. Without it, two writes of the same new keys at once (a client's retry racing its first try)
    would both find them absent and one would fail on the unique key; with it, the second finds the first's
    rows and adds nothing."""
    with connection.cursor() as cursor:
        cursor.execute(sql.BULK_WRITE_LOCK_SQL)
    keys = {c.key for c in comparisons}
    existing = dict(Comparison.objects.filter(key__in=keys).values_list("key", "id"))
    _check_same_candidates(comparisons, existing, same_texts)
    new: dict[str, ComparisonRow] = {}
    for c in comparisons:
        if c.key in existing:
            continue
        if c.key in new and _models(new[c.key]) != _models(c):
            raise RowError(f"comparison {c.key} appears twice in the file with other models")
        new.setdefault(c.key, c)
    for c, id in zip(new.values(), next_ids(Comparison, len(new)), strict=True):
        existing[c.key] = id
    copy_rows(
        sql.COPY_COMPARISONS_SQL,
        ((existing[c.key], c.prompt, *values(c, sql.COMPARISON_COLUMNS[2:])) for c in new.values()),
    )
    copy_rows(
        sql.COPY_CANDIDATES_SQL,
        (
            (existing[c.key], *values(k, sql.CANDIDATE_ROW_COLUMNS), *style_values(k.text, k.output_tokens))
            for c in new.values()
            for k in c.candidates
        ),
    )
    return existing, len(new)


def values(row, columns: tuple[str, ...]) -> list:
    return [json_text(getattr(row, c)) if c in JSON_COLUMNS else getattr(row, c) for c in columns]


def json_text(value):
    """A jsonb value as COPY takes it; None is SQL NULL, as Django stores None in a nullable JSONField."""
    return None if value is None else _JSON.encode(value)


def next_ids(model, count: int) -> list[int]:
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql.NEXT_IDS_SQL, [model._meta.db_table, "id", count])
        return [id for (id,) in cursor.fetchall()]


def copy_rows(statement: str, rows) -> None:
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _models(comparison: ComparisonRow) -> list[tuple[int, str]]:
    return sorted((c.position, c.model) for c in comparison.candidates)


def _check_same_candidates(comparisons: list[ComparisonRow], existing: dict[str, int], same_texts: bool) -> None:
    """A key already in the database must name the same models at the same positions (and texts)."""
    if not existing:
        return
    stored: dict[int, list[tuple]] = {}
    # The texts compared by digest, made by PostgreSQL: a retried push reads back no texts.
    columns = ("comparison_id", "position", "model", *(("digest",) if same_texts else ()))
    rows = Candidate.objects.filter(comparison_id__in=existing.values())
    if same_texts:
        rows = rows.annotate(digest=MD5("text"))
    for cid, *candidate in rows.values_list(*columns).order_by("comparison_id", "position"):
        stored.setdefault(cid, []).append(tuple(candidate))
    for c in comparisons:
        cid = existing.get(c.key)
        if cid is None:
            continue
        if same_texts:
            given = sorted((k.position, k.model, hashlib.md5(k.text.encode()).hexdigest()) for k in c.candidates)
            if stored.get(cid) != given:
                raise RowError(f"id {c.key} was used before with other candidates (models or texts)")
        elif stored.get(cid) != _models(c):
            raise RowError(f"comparison {c.key} already exists with other models")
