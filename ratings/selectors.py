"""Reads for the ratings: judgments as engine arrays, and the stored runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from django.db import connection

from annotation.models import Source
from ratings.boards import Board
from ratings.engine.votes import Votes
from ratings.models import RatingRun, RunState

SOURCES = list(Source.values)

# The judgments and their candidates come out of PostgreSQL as binary COPY streams of fixed-width
# columns, parsed by numpy in one call each, and are joined in numpy: no Python object per row and
# no join inside PostgreSQL (at a million judgments the hash joins alone took seconds). Candidates 0
# and 1 are "A" and "B". The outcome is a's share: a soft judge's preference, else (graded boards)
# the strength on the -3..+3 scale (negative favours A), else a / b / tie (both-bad is a tie, as in
# LMArena). NULLs are coalesced away because a fixed-width row cannot hold one.
JUDGMENTS_SQL = """
    COPY (
        SELECT j.id, j.comparison_id,
               COALESCE(
                   j.preference,
                   CASE WHEN {graded} AND j.strength IS NOT NULL THEN 0.5 - j.strength / 6.0 END,
                   CASE j.outcome WHEN 'a' THEN 1.0 WHEN 'b' THEN 0.0 ELSE 0.5 END
               )::float8,
               (j.preference IS NULL AND j.outcome = 'tie'),
               COALESCE(array_position({sources}::text[], j.source), 0)::int2,
               COALESCE((j.display_order ->> 0)::int2, -1::int2),
               hashtext(j.judge),
               EXTRACT(EPOCH FROM j.created_at)::float8
        FROM annotation_judgment j
        WHERE (j.outcome IS NOT NULL OR j.preference IS NOT NULL) {filters}
    ) TO STDOUT (FORMAT BINARY)
"""
JUDGMENT_COLUMNS = [("id", ">i8"), ("comparison", ">i8"), ("y", ">f8"), ("tie", "?"), ("source", ">i2"),
                    ("first", ">i2"), ("judge", ">i4"), ("created", ">f8")]

CANDIDATES_SQL = """
    COPY (
        SELECT k.comparison_id, k.position::int2, m.idx::int4,
               COALESCE(k.style_tokens, 0)::int4, COALESCE(k.style_headers, 0)::int4,
               COALESCE(k.style_lists, 0)::int4, COALESCE(k.style_bold, 0)::int4
        FROM annotation_candidate k
        JOIN unnest({models}::text[]) WITH ORDINALITY AS m(name, idx) ON m.name = k.model
        WHERE k.position < 2
    ) TO STDOUT (FORMAT BINARY)
"""
CANDIDATE_COLUMNS = [("comparison", ">i8"), ("position", ">i2"), ("model", ">i4"), ("tokens", ">i4"),
                     ("headers", ">i4"), ("lists", ">i4"), ("bold", ">i4")]

# The distinct models by walking the model index (a "loose index scan"): one probe per model
# instead of reading every candidate.
MODELS_SQL = """
    WITH RECURSIVE m AS (
        SELECT min(model) AS name FROM annotation_candidate
        UNION ALL
        SELECT (SELECT min(model) FROM annotation_candidate WHERE model > m.name) FROM m WHERE m.name IS NOT NULL
    )
    SELECT name FROM m WHERE name IS NOT NULL
"""

# Each comparison's prompt as a 64-bit hash (the first 16 hex digits of its MD5): votes on the same
# prompt find each other in numpy, and only one text per distinct prompt is read.
PROMPTS_SQL = """
    COPY (
        SELECT c.id, ('x' || left(md5(c.prompt), 16))::bit(64)::int8
        FROM annotation_comparison c {filters}
    ) TO STDOUT (FORMAT BINARY)
"""
PROMPT_COLUMNS = [("comparison", ">i8"), ("hash", ">i8")]

# PostgreSQL's binary COPY: an 11-byte signature, flags and header-extension length, then per row a
# field count (int16) and per field its length (int32) and bytes; a trailing int16 -1.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_rows(sql: str, params: list, columns: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """A binary COPY of fixed-width, non-NULL columns, as one native numpy array per column."""
    fields = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}_len", ">i4"), (name, kind)]
    row = np.dtype(fields)
    buffer = bytearray()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(sql, params) as copy:
            for chunk in copy:
                buffer += chunk
    if not buffer.startswith(_SIGNATURE):
        raise RuntimeError("unexpected COPY stream from PostgreSQL")
    extension = int.from_bytes(buffer[15:19], "big")
    start = 19 + extension
    body = len(buffer) - start - 2  # the trailer
    if body % row.itemsize:
        raise RuntimeError("COPY rows are not of the expected width (a NULL or a changed column type)")
    rows = np.frombuffer(buffer, dtype=row, count=body // row.itemsize, offset=start)
    # Network byte order to native, column by column, once: every later numpy pass is then plain.
    return {name: rows[name].astype(np.dtype(kind).newbyteorder("=")) for name, kind in columns}


def _copy_in_thread(sql: str, params: list, columns: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    try:
        return _copy_rows(sql, params, columns)
    finally:
        connection.close()  # this thread's own connection, back to the pool


@dataclass(frozen=True)
class LoadedVotes:
    votes: Votes
    last_judgment_id: int | None
    source: np.ndarray  # index into SOURCES
    first_shown: np.ndarray  # the position the judge saw first (0 / 1), −1 when unknown
    comparison: np.ndarray  # each vote's comparison id


def _empty(models: list[str]) -> LoadedVotes:
    empty = np.zeros(0)
    votes = Votes(models=tuple(models), a=empty.astype(np.int64), b=empty.astype(np.int64), y=empty,
                  tie=empty.astype(bool), w=empty, extra={"style_a": np.zeros((0, 4)), "style_b": np.zeros((0, 4)),
                                                          "length": empty})
    return LoadedVotes(votes, None, empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int64))


def _side(candidates: dict[str, np.ndarray], position: int) -> dict[str, np.ndarray]:
    mask = candidates["position"] == position
    order = np.argsort(candidates["comparison"][mask], kind="stable")
    return {name: column[mask][order] for name, column in candidates.items()}


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[index] for name, column in columns.items()}


def votes_load(board: Board) -> LoadedVotes:
    from psycopg import sql

    with connection.cursor() as cursor:
        cursor.execute(MODELS_SQL)
        models = [m for (m,) in cursor.fetchall()]
    filters, params = [], []
    if board.category:
        filters.append("AND j.comparison_id IN (SELECT id FROM annotation_comparison WHERE category = %s)")
        params.append(board.category)
    if board.source:
        filters.append("AND j.source = %s")
        params.append(board.source)
    judgments_sql = sql.SQL(JUDGMENTS_SQL).format(
        graded=sql.Literal(bool(board.graded)), sources=sql.Literal(SOURCES), filters=sql.SQL(" ".join(filters))
    )
    candidates_sql = sql.SQL(CANDIDATES_SQL).format(models=sql.Literal(models)).as_string(None)
    if connection.in_atomic_block:
        # Inside a transaction a second connection would read another snapshot: one connection.
        judgments = _copy_rows(judgments_sql.as_string(None), params, JUDGMENT_COLUMNS)
        candidates = _copy_rows(candidates_sql, [], CANDIDATE_COLUMNS)
    else:
        # The two streams come over two connections at once: PostgreSQL produces them on two cores.
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(_copy_in_thread, candidates_sql, [], CANDIDATE_COLUMNS)
            judgments = _copy_rows(judgments_sql.as_string(None), params, JUDGMENT_COLUMNS)
            candidates = later.result()
    if len(judgments["id"]) == 0:
        return _empty(models)
    side_a, side_b = _side(candidates, 0), _side(candidates, 1)
    if len(side_a["comparison"]) == 0 or len(side_b["comparison"]) == 0:
        return _empty(models)
    # Each judgment finds its two candidates by binary search over the sorted comparison ids.
    wanted = judgments["comparison"]
    ia = np.minimum(np.searchsorted(side_a["comparison"], wanted), len(side_a["comparison"]) - 1)
    ib = np.minimum(np.searchsorted(side_b["comparison"], wanted), len(side_b["comparison"]) - 1)
    keep = (side_a["comparison"][ia] == wanted) & (side_b["comparison"][ib] == wanted)
    keep &= side_a["model"][ia] != side_b["model"][ib]
    # Online Elo replays the votes in time order (ties broken by id); the other methods ignore order.
    order = np.lexsort((judgments["id"], judgments["created"]))
    order = order[keep[order]]
    if len(order) == 0:
        return _empty(models)
    judgments, ca, cb = _take(judgments, order), _take(side_a, ia[order]), _take(side_b, ib[order])
    style_a = np.column_stack([ca[f].astype(np.float64) for f in ("tokens", "headers", "lists", "bold")])
    style_b = np.column_stack([cb[f].astype(np.float64) for f in ("tokens", "headers", "lists", "bold")])
    judges, judge_index = np.unique(judgments["judge"], return_inverse=True)
    votes = Votes(
        models=tuple(models),
        a=ca["model"].astype(np.int64) - 1,  # ORDINALITY counts from 1
        b=cb["model"].astype(np.int64) - 1,
        y=judgments["y"].astype(np.float64),
        tie=judgments["tie"].astype(bool),
        w=np.ones(len(judgments["id"])),
        judge=judge_index.astype(np.int64),
        judges=tuple(str(j) for j in judges),
        extra={"style_a": style_a, "style_b": style_b, "length": style_a[:, 0] - style_b[:, 0]},
    )
    return LoadedVotes(votes, int(judgments["id"].max()), judgments["source"].astype(np.int64) - 1,
                       judgments["first"].astype(np.int64), judgments["comparison"].astype(np.int64))


@dataclass(frozen=True)
class VotePrompts:
    texts: list[str]  # the distinct prompts
    rows: np.ndarray  # each vote's prompt, an index into texts


def vote_prompts(comparison: np.ndarray, *, limit: int, category: str = "") -> VotePrompts:
    """The distinct prompts of these votes (given by comparison id) and each vote's prompt.

    Raises RatingError when there are more than ``limit`` distinct prompts (each is embedded)."""
    from ratings.engine.votes import RatingError

    filters, params = "", []
    if category:
        filters, params = "WHERE c.category = %s", [category]
    prompts = _copy_rows(PROMPTS_SQL.format(filters=filters), params, PROMPT_COLUMNS)
    order = np.argsort(prompts["comparison"], kind="stable")
    ids, hashes = prompts["comparison"][order], prompts["hash"][order]
    at = np.minimum(np.searchsorted(ids, comparison), max(len(ids) - 1, 0))
    if len(comparison) and (len(ids) == 0 or np.any(ids[at] != comparison)):
        raise RatingError("some judgments' comparisons are gone: refit once they are back")
    distinct, first, rows = np.unique(hashes[at], return_index=True, return_inverse=True)
    if len(distinct) > limit:
        raise RatingError(
            f"the prompt-routed mixture embeds every distinct prompt, and this board has {len(distinct)}, more than "
            f"AGORA_MIXTURE_MAX_PROMPTS = {limit}: pick a category or a source, or raise the limit"
        )
    # One comparison per distinct prompt is enough to read its text.
    wanted = comparison[first].tolist()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, prompt FROM annotation_comparison WHERE id = ANY(%s)", [wanted])
        text = dict(cursor.fetchall())
    return VotePrompts([text[c] for c in wanted], rows.ravel().astype(np.int64))


def run_latest(board: Board) -> RatingRun | None:
    return RatingRun.objects.filter(board=board.key, state=RunState.DONE).order_by("-id").first()


def run_in_flight(board: Board) -> RatingRun | None:
    return (
        RatingRun.objects.filter(board=board.key, state__in=[RunState.QUEUED, RunState.RUNNING])
        .order_by("-id")
        .first()
    )


def judgments_since(last_judgment_id: int | None) -> int:
    from annotation.models import Judgment

    qs = Judgment.objects.all()
    if last_judgment_id is not None:
        qs = qs.filter(id__gt=last_judgment_id)
    return qs.count()


def categories() -> list[str]:
    from annotation.models import Comparison

    return list(
        Comparison.objects.exclude(category="").values_list("category", flat=True).distinct().order_by("category")
    )


def judge_tie_rates(limit: int = 15, min_votes: int = 20) -> list[dict]:
    """Judges with the highest tie rates (at least ``min_votes`` pairwise votes)."""
    sql = """
        SELECT judge, COUNT(*), AVG((outcome = 'tie')::int)::float8
        FROM annotation_judgment WHERE outcome IS NOT NULL
        GROUP BY judge HAVING COUNT(*) >= %s ORDER BY 3 DESC, 2 DESC LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [min_votes, limit])
        return [{"judge": j, "n": n, "tie_rate": r} for j, n, r in cursor.fetchall()]
