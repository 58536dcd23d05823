"""The raw export: one JSON line per judgment, with everything.

Each line holds the comparison (key, context, category, language, source,
metadata, created_at), its candidates and the judgment (judge, display order,
outcome, strength, both-bad, preference, ranking, principles, scores,
rationale, time spent, metadata, created_at). Database ids are left out and rows
are ordered by comparison key, source and judge, so the same data gives the
same bytes in any database; ``import_judgments --format agora`` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db import connection
from django.db.models import Prefetch, QuerySet

from agora_datasets.exports.sql import JIT_OFF, JIT_SET_SQL, JIT_SHOW_SQL, raw_rows_sql
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, ScoreRow, field_names
from annotation.models import Candidate, Judgment, Score

FORMAT_VERSION = 1


def raw_queryset(queryset: QuerySet[Judgment] | None = None) -> QuerySet[Judgment]:
    queryset = Judgment.objects.all() if queryset is None else queryset
    return (
        queryset.select_related("comparison")
        .prefetch_related(
            Prefetch("comparison__candidates", queryset=Candidate.objects.order_by("position")),
            Prefetch("scores", queryset=Score.objects.order_by("position", "attribute")),
        )
        .order_by("comparison__key", "source", "judge")
    )


def _values(obj, row_class, exclude: tuple[str, ...] = ()) -> dict:
    # The raw format's keys are the import rows' fields, so export and import share one schema.
    values = {name: getattr(obj, name) for name in field_names(row_class, exclude)}
    if "created_at" in values:
        values["created_at"] = values["created_at"].isoformat()
    return values


def judgment_to_raw(judgment: Judgment) -> dict:
    comparison = judgment.comparison
    return {
        "agora_raw": FORMAT_VERSION,
        "comparison": _values(comparison, ComparisonRow, exclude=("candidates",)),
        "candidates": [_values(c, CandidateRow) for c in comparison.candidates.all()],
        "judgment": _values(judgment, JudgmentRow, exclude=("scores",))
        | {"scores": [_values(s, ScoreRow) for s in judgment.scores.all()]},
    }


def raw_json_chunks(queryset: QuerySet[Judgment], chunk_size: int = 2000) -> Iterator[bytes]:
    """The selected judgments as raw lines with their ``id``, in id order, each chunk of ``chunk_size`` lines
    as one bytes object: PostgreSQL builds every line (exports/sql.py's ``raw_rows_sql``) and the rows stream
    from it a chunk at a time, so memory holds one chunk whatever the selection's size. Same values as
    ``judgment_to_raw`` (nested jsonb keys in PostgreSQL's order, whole floats without their ``.0``)."""
    judgments_sql, params = queryset.order_by().values_list("id").query.sql_with_params()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        jit = cursor.execute(JIT_SHOW_SQL).fetchone()[0]
        cursor.execute(JIT_SET_SQL, [JIT_OFF])
        try:
            lines = []
            for (line,) in cursor.stream(raw_rows_sql(judgments_sql), params, size=chunk_size):
                lines.append(line)
                if len(lines) == chunk_size:
                    yield ("\n".join(lines) + "\n").encode()
                    lines = []
            if lines:
                yield ("\n".join(lines) + "\n").encode()
        finally:
            cursor.execute(JIT_SET_SQL, [jit])


def raw_lines(queryset: QuerySet[Judgment] | None = None, chunk_size: int = 2000) -> Iterator[str]:
    """JSON lines in a stable order, streamed from the database in chunks."""
    for judgment in raw_queryset(queryset).iterator(chunk_size=chunk_size):
        yield json.dumps(judgment_to_raw(judgment), ensure_ascii=False, sort_keys=True) + "\n"
