"""The exports' hand-written SQL, in one place.

The judgment rows an export streams are selected by the ORM (selection.py's filters); this module wraps
that statement in the one that adds each row's candidates, and holds the statements that switch JIT
compilation off for the stream. Table names come from the models (tests/test_sql.py checks them).
"""

from __future__ import annotations

from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, ScoreRow, field_names
from annotation.models import Candidate, Comparison, Judgment, Outcome, Score, Source
from annotation.sql import literal

CANDIDATES = Candidate._meta.db_table
COMPARISONS = Comparison._meta.db_table
JUDGMENTS = Judgment._meta.db_table
SCORES = Score._meta.db_table

# A streamed read of every row gains nothing from JIT compilation, which costs seconds up front.
JIT_SHOW_SQL = "SELECT current_setting('jit')"
JIT_SET_SQL = "SELECT set_config('jit', %s, false)"
JIT_OFF = "off"


def candidate_columns_sql(json_texts: bool) -> str:
    """A comparison's candidates beside each judgment row (of the subquery ``judgments``): positions 0 and 1
    as columns (model, text; the pairwise formats' pair), any others as a JSON array of [position, model,
    text]. ``json_texts``: the two texts as JSON string literals (json values)."""

    def text(position: int) -> str:
        column = f"max(text) FILTER (WHERE position = {position})"
        return f"to_json({column})" if json_texts else column

    return f"""
        SELECT max(model) FILTER (WHERE position = 0), {text(0)}, max(model) FILTER (WHERE position = 1), {text(1)},
               (json_agg(json_build_array(position, model, text) ORDER BY position)
                   FILTER (WHERE position NOT IN (0, 1)))::text
        FROM {CANDIDATES} WHERE comparison_id = judgments.comparison_id"""


def rows_with_candidates_sql(judgments_sql: str, order_positions: list[int], json_texts: bool) -> str:
    """``judgments_sql`` (a SELECT ending in its ORDER BY, with a ``comparison_id`` column), each row followed
    by its comparison's candidate columns, in the same order: ``order_positions`` are the 1-based positions,
    in ``judgments_sql``'s select list, of the columns it orders by (ascending), which are the same positions
    in this statement's. OFFSET 0 keeps the sort inside (over the narrow rows); the nested loop that adds the
    candidates, one index probe per row, keeps its order, so the sort never carries the answers' texts."""
    order_by = ", ".join(str(position) for position in order_positions)
    return (
        f"SELECT judgments.*, candidates.* FROM ({judgments_sql} OFFSET 0) judgments "
        f"LEFT JOIN LATERAL ({candidate_columns_sql(json_texts)}) candidates ON true ORDER BY {order_by}"
    )


def _object(alias: str, names: list[str], extra: dict[str, str] | None = None) -> str:
    """json_build_object of a row's columns (and ``extra`` expressions), keys in sorted order as the raw
    export writes them (typed ``'key'::text``: keys, not states, for tests/test_sql.py)."""
    pairs = {name: f"{alias}.{name}" for name in names} | (extra or {})
    return "json_build_object(" + ", ".join(f"'{k}'::text, {pairs[k]}" for k in sorted(pairs)) + ")"


# Every key privacy.py's IDENTIFYING_KEY drops holds one of these (with "-" or "_" between words), so metadata
# whose text holds none has nothing to drop. agora_scrub is a recursive SQL function PostgreSQL cannot inline:
# called on every row it made the stream 7 times slower (216 against 31 µs of PostgreSQL CPU a row).
MAY_IDENTIFY = "(ip|addr|mail|forwarded)"


def _scrubbed(alias: str) -> str:
    """The metadata without keys that could name a person (privacy.py's scrub, as the SQL function
    agora_scrub of migration datasets 0002), walked only when its text holds a word such a key has."""
    column = f"{alias}.metadata"
    return f"CASE WHEN {column}::text ~* '{MAY_IDENTIFY}'::text THEN agora_scrub({column}) ELSE {column} END"


def raw_rows_sql(judgments_sql: str) -> str:
    """Each judgment of ``judgments_sql`` (a SELECT whose first column is the judgment's id) as one raw-export
    line, built by PostgreSQL (the comparison, its candidates, the judgment and its scores; plus the
    judgment's id; metadata scrubbed of keys that could name a person), in id order. The API's NDJSON stream
    passes these texts on as they are: 46,000 rows/s and 4 µs of Python CPU a row, measured over 100,000
    rows of 1.9 KB, where building each line from model instances in Python costs several times that."""
    candidates = _object("k", field_names(CandidateRow), {"metadata": _scrubbed("k")})
    scores = _object("s", field_names(ScoreRow))
    comparison = _object("c", field_names(ComparisonRow, exclude=("candidates",)), {"metadata": _scrubbed("c")})
    judgment = _object(
        "j",
        field_names(JudgmentRow, exclude=("scores",)),
        {
            "metadata": _scrubbed("j"),
            "scores": f"(SELECT coalesce(json_agg({scores} ORDER BY s.position, s.attribute), '[]'::json) "
            f"FROM {SCORES} s WHERE s.judgment_id = j.id)",
        },
    )
    line = _object(
        "j",
        ["id"],
        {
            "agora_raw": "1",
            "candidates": f"(SELECT coalesce(json_agg({candidates} ORDER BY k.position), '[]'::json) "
            f"FROM {CANDIDATES} k WHERE k.comparison_id = j.comparison_id)",
            "comparison": comparison,
            "judgment": judgment,
        },
    )
    # The narrow ids are sorted first (OFFSET 0 keeps that sort inside); the lateral join builds each line in
    # that order, one index probe a row (its own OFFSET 0 keeps the planner from flattening it into a hash
    # join), so the first lines leave before the last are built and no sort ever carries the lines themselves:
    # a sort above the join built every line before the first byte (10 s for 50,000 rows, benchmarks/api.py).
    return (
        f"SELECT line.text FROM (SELECT id FROM ({judgments_sql}) chosen ORDER BY id OFFSET 0) selected "
        f"JOIN LATERAL (SELECT {line}::text AS text FROM {JUDGMENTS} j JOIN {COMPARISONS} c ON c.id = j.comparison_id "
        f"WHERE j.id = selected.id OFFSET 0) line ON true ORDER BY selected.id"
    )


def statements() -> dict[str, str]:
    """Every statement this module can build, for tests/test_sql.py (with a stand-in for the ORM's part)."""
    inner = f"SELECT id, comparison_id FROM {Judgment._meta.db_table} ORDER BY 2 ASC, 1 ASC"
    return {
        "JIT_SHOW_SQL": JIT_SHOW_SQL,
        "JIT_SET_SQL": JIT_SET_SQL,
        **{f"rows(json_texts={j})": rows_with_candidates_sql(inner, [2, 1], j) for j in (False, True)},
        "raw_rows": raw_rows_sql(f"SELECT id FROM {Judgment._meta.db_table}"),
    }


def _side_won(first: str, second: str) -> str:
    """The candidate k's side got outcome ``first`` when it is A, ``second`` when it is B."""
    return f"(j.outcome = {literal(first)} AND k.position = 0) OR (j.outcome = {literal(second)} AND k.position = 1)"


def battles_per_day_sql(*, since: bool, until: bool) -> str:
    """Per UTC day and model, the arena's voted battles it was in, won, lost and tied (both bad counts as
    a tie, as the boards count it); ``since`` and ``until`` add one parameter each, in that order."""
    arena = literal(Source.ARENA)
    where = [f"c.source = {arena}"]
    where += ["c.created_at >= %s"] if since else []
    where += ["c.created_at < %s"] if until else []
    return (
        f"SELECT (c.created_at AT TIME ZONE 'UTC')::date, k.model, count(*), "
        f"count(*) FILTER (WHERE {_side_won(Outcome.A, Outcome.B)}), "
        f"count(*) FILTER (WHERE {_side_won(Outcome.B, Outcome.A)}), "
        f"count(*) FILTER (WHERE j.outcome = {literal(Outcome.TIE)}) "
        f"FROM {COMPARISONS} c JOIN {CANDIDATES} k ON k.comparison_id = c.id "
        f"JOIN {JUDGMENTS} j ON j.comparison_id = c.id AND j.source = {arena} "
        f"WHERE {' AND '.join(where)} GROUP BY 1, 2 ORDER BY 1, 2"
    )
