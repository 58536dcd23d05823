"""The ratings app's hand-written SQL, in one place: the column reads that load a board's votes as numpy
arrays, the model list, and the judges' tie rates.

Table names come from the models and enum values (outcomes, sources) from their enums, put in once at
import (tests/test_sql.py checks every literal and table name here against the models).

The judgments and their candidates come out of PostgreSQL as one row of columns: each column is one bytea
made by string_agg over the values' binary send form, which numpy reads in one call. No Python object per
row (a COPY stream yields one message per row: seconds at a million), and no join inside PostgreSQL (the
joins alone took seconds): the rows meet in numpy. All the aggregates of one query consume the same rows in
the same order, so the columns line up. NULLs are coalesced away because string_agg would skip them.
"""

from __future__ import annotations

from annotation.models import Candidate, Comparison, IntegrityFlag, JudgeFlag, Judgment, Outcome, Source
from annotation.sql import literal

# The tables the SQL below reads, as the models name them.
JUDGMENTS = Judgment._meta.db_table
CANDIDATES = Candidate._meta.db_table
COMPARISONS = Comparison._meta.db_table
FLAGS = IntegrityFlag._meta.db_table
JUDGE_FLAGS = JudgeFlag._meta.db_table

SOURCES = list(Source.values)  # a judgment's source travels as its position here + 1 (0: none of these)

# Each column type: the function giving its binary send form, and numpy's dtype for that form.
SEND = {
    "int2": ("int2send", ">i2"),
    "int4": ("int4send", ">i4"),
    "int8": ("int8send", ">i8"),
    "float8": ("float8send", ">f8"),
    "timestamptz": ("timestamptz_send", ">i8"),
}  # µs since 2000-01-01

NO_STRENGTH = -99
# (name, SQL expression, type) per column. The outcome code: b 0, a 1, tie 2, none -1.
JUDGMENT_COLUMNS = [
    ("id", "j.id", "int8"),
    ("comparison", "j.comparison_id", "int8"),
    ("created", "j.created_at", "timestamptz"),
    ("judge", "hashtext(j.judge)", "int4"),
    ("preference", "COALESCE(j.preference, 'NaN'::float8)", "float8"),
    ("strength", f"COALESCE(j.strength, {NO_STRENGTH})", "int2"),
    (
        "outcome",
        f"CASE j.outcome WHEN {literal(Outcome.A)} THEN 1 WHEN {literal(Outcome.B)} THEN 0"
        f" WHEN {literal(Outcome.TIE)} THEN 2 ELSE -1 END",
        "int2",
    ),
    (
        "source",
        "COALESCE(array_position(ARRAY[" + ", ".join(map(literal, SOURCES)) + "]::text[], j.source), 0)",
        "int2",
    ),
    ("first", "COALESCE((j.display_order -> 0)::text::int2, -1::int2)", "int2"),
]

# Models travel as 64-bit hashes of their names, mapped back through the few distinct names:
# joining two million candidates to the model list cost PostgreSQL as much as reading them.
CANDIDATE_COLUMNS = [
    ("comparison", "k.comparison_id", "int8"),
    ("position", "k.position", "int2"),
    ("model", "hashtextextended(k.model, 0)", "int8"),
    ("tokens", "COALESCE(k.style_tokens, 0)", "int4"),
]
STYLE_COLUMNS = [
    ("headers", "COALESCE(k.style_headers, 0)", "int4"),
    ("lists", "COALESCE(k.style_lists, 0)", "int4"),
    ("bold", "COALESCE(k.style_bold, 0)", "int4"),
]
CANDIDATES_FROM = f"FROM {CANDIDATES} k WHERE k.position < 2"

# Each comparison's prompt as a 64-bit hash (the first 16 hex digits of its MD5): votes on the same
# prompt find each other in numpy, and only one text per distinct prompt is read.
PROMPT_COLUMNS = [("comparison", "c.id", "int8"), ("hash", "('x' || left(md5(c.prompt), 16))::bit(64)::int8", "int8")]


def judgments_from(*, category: bool, source: bool, integrity: bool = False) -> str:
    """The judgments a board reads; with ``category`` and ``source``, one parameter each, in that order.
    With ``integrity``, none that has a flag not cleared, nor whose judge has one (anti-joins on the few
    open flags, through the partial indexes integrityflag_open and judgeflag_open)."""
    parts = [f"FROM {JUDGMENTS} j WHERE (j.outcome IS NOT NULL OR j.preference IS NOT NULL)"]
    if category:
        parts.append(f"AND j.comparison_id IN (SELECT id FROM {COMPARISONS} WHERE category = %s)")
    if source:
        parts.append("AND j.source = %s")
    if integrity:
        parts.append(f"AND NOT EXISTS (SELECT 1 FROM {FLAGS} f WHERE f.judgment_id = j.id AND f.cleared_at IS NULL)")
        parts.append(f"AND NOT EXISTS (SELECT 1 FROM {JUDGE_FLAGS} g WHERE g.judge = j.judge AND g.cleared_at IS NULL)")
    return " ".join(parts)


def prompts_from(*, category: bool) -> str:
    """The comparisons whose prompts a board reads; with ``category``, one parameter."""
    return f"FROM {COMPARISONS} c" + (" WHERE c.category = %s" if category else "")


def columns_sql(columns: list[tuple[str, str, str]], from_sql: str) -> str:
    """One row: each column of the rows ``from_sql`` selects as one bytea of its values' send forms."""
    select = ", ".join(f"string_agg({SEND[kind][0]}(({expr})::{kind}), ''::bytea)" for _, expr, kind in columns)
    return f"SELECT {select} {from_sql}"


# The distinct models by walking the model index (a "loose index scan"): one probe per model
# instead of reading every candidate. Sorted by name.
MODELS_SQL = f"""
    WITH RECURSIVE m AS (
        SELECT min(model) AS name FROM {CANDIDATES}
        UNION ALL
        SELECT (SELECT min(model) FROM {CANDIDATES} WHERE model > m.name) FROM m WHERE m.name IS NOT NULL
    )
    SELECT name, hashtextextended(name, 0) FROM m WHERE name IS NOT NULL
"""

# Judges by tie rate over their pairwise votes; parameters: the least votes, the most rows.
JUDGE_TIE_RATES_SQL = f"""
    SELECT judge, COUNT(*), AVG((outcome = {literal(Outcome.TIE)})::int)::float8
    FROM {JUDGMENTS} WHERE outcome IS NOT NULL
    GROUP BY judge HAVING COUNT(*) >= %s ORDER BY 3 DESC, 2 DESC LIMIT %s
"""


def statements() -> dict[str, str]:
    """Every statement this module can build, for tests/test_sql.py."""
    found = {"MODELS_SQL": MODELS_SQL, "JUDGE_TIE_RATES_SQL": JUDGE_TIE_RATES_SQL}
    for category in (False, True):
        found[f"prompts(category={category})"] = columns_sql(PROMPT_COLUMNS, prompts_from(category=category))
        for source in (False, True):
            for integrity in (False, True):
                found[f"judgments(category={category}, source={source}, integrity={integrity})"] = columns_sql(
                    JUDGMENT_COLUMNS, judgments_from(category=category, source=source, integrity=integrity)
                )
    found["candidates"] = columns_sql(CANDIDATE_COLUMNS + STYLE_COLUMNS, CANDIDATES_FROM)
    return found


def review_votes_sql() -> str:
    """The arena's votes for the judges' review (ratings/judge_review.py): judge, model A, model B, outcome,
    time from both answers complete to the vote, the vote's clock hour, the address
    pseudonym (arena/voters.py; NULL when none was recorded)."""
    return (
        f"SELECT j.judge, ca.model, cb.model, j.outcome, j.time_spent_ms, "
        f"floor(extract(epoch FROM j.created_at) / 3600)::int8, j.metadata ->> 'address' "
        f"FROM {JUDGMENTS} j "
        f"JOIN {CANDIDATES} ca ON ca.comparison_id = j.comparison_id AND ca.position = 0 "
        f"JOIN {CANDIDATES} cb ON cb.comparison_id = j.comparison_id AND cb.position = 1 "
        f"WHERE j.source = {literal(Source.ARENA)} AND j.outcome IS NOT NULL"
    )
