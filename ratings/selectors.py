"""Reads for the ratings: judgments as engine arrays, and the stored runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection
from django.db.models import Q

from annotation.models import Comparison, IntegrityFlag, JudgeFlag, Judgment
from annotation.storable import storable_text_problem
from ratings.boards import Board
from ratings.engine.votes import RatingError, Votes
from ratings.models import RatingRun, RunState
from ratings.sql import (
    CANDIDATE_COLUMNS,
    CANDIDATES_FROM,
    JUDGE_TIE_RATES_SQL,
    JUDGMENT_COLUMNS,
    MODELS_SQL,
    NO_STRENGTH,
    PROMPT_COLUMNS,
    SEND,
    STYLE_COLUMNS,
    columns_sql,
    judgments_from,
    prompts_from,
)

OUTCOME_Y = np.array([0.0, 1.0, 0.5])  # by the outcome code (ratings/sql.py): b, a, tie


def _columns(columns: list[tuple[str, str, str]], from_sql: str, params: list) -> dict[str, np.ndarray]:
    """The columns of the rows ``from_sql`` selects, one native numpy array each."""
    connection.ensure_connection()
    # A plain (server-binding) psycopg cursor: Django's client-side one cannot ask for binary results,
    # and in binary a bytea arrives as bytes instead of hex text.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(columns_sql(columns, from_sql), params, binary=True)
        row = cursor.fetchone()
    out = {}
    for (name, _, kind), data in zip(columns, row, strict=True):
        dtype = np.dtype(SEND[kind][1])
        out[name] = (np.frombuffer(data, dtype=dtype) if data else np.zeros(0, dtype)).astype(dtype.newbyteorder("="))
    return out


def _columns_in_thread(columns: list[tuple[str, str, str]], from_sql: str, params: list) -> dict[str, np.ndarray]:
    try:
        return _columns(columns, from_sql, params)
    finally:
        connection.close()  # this thread's own connection, back to the pool


@dataclass(frozen=True)
class LoadedVotes:
    votes: Votes
    last_judgment_id: int | None
    source: np.ndarray  # index into SOURCES (ratings/sql.py)
    first_shown: np.ndarray  # the position the judge saw first (0 / 1), −1 when unknown
    comparison: np.ndarray  # each vote's comparison id


def _empty(models: list[str]) -> LoadedVotes:
    empty = np.zeros(0)
    votes = Votes(
        models=tuple(models),
        a=empty.astype(np.int64),
        b=empty.astype(np.int64),
        y=empty,
        tie=empty.astype(bool),
        w=empty,
        extra={
            "style_a": np.zeros((0, 4)),
            "style_b": np.zeros((0, 4)),
            "length": empty,
            "tokens_a": empty,
            "tokens_b": empty,
        },
    )
    return LoadedVotes(votes, None, empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int64))


def _side(candidates: dict[str, np.ndarray], position: int) -> dict[str, np.ndarray]:
    mask = candidates["position"] == position
    order = np.argsort(candidates["comparison"][mask], kind="stable")
    return {name: column[mask][order] for name, column in candidates.items()}


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[index] for name, column in columns.items()}


def votes_load(board: Board) -> LoadedVotes:
    with connection.cursor() as cursor:
        cursor.execute(MODELS_SQL)
        named = cursor.fetchall()
    models = [name for name, _ in named]
    hashes = np.array([h for _, h in named], dtype=np.int64)
    if len(set(hashes.tolist())) != len(hashes):
        raise RuntimeError("two model names share a 64-bit hash; the loader cannot tell them apart")
    params = [value for value in (board.category, board.source) if value]
    from_sql = judgments_from(category=bool(board.category), source=bool(board.source), integrity=board.integrity)
    candidate_columns = CANDIDATE_COLUMNS + (STYLE_COLUMNS if board.style else [])
    if connection.in_atomic_block:
        # Inside a transaction a second connection would read another snapshot: one connection.
        judgments = _columns(JUDGMENT_COLUMNS, from_sql, params)
        candidates = _columns(candidate_columns, CANDIDATES_FROM, [])
    else:
        # The two reads go over two connections at once: PostgreSQL produces them on two cores.
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(_columns_in_thread, candidate_columns, CANDIDATES_FROM, [])
            judgments = _columns(JUDGMENT_COLUMNS, from_sql, params)
            candidates = later.result()
    if len(judgments["id"]) == 0:
        return _empty(models)
    # Model hashes back to indices into ``models`` (sorted by name, as MODELS_SQL returns them).
    by_hash = np.argsort(hashes)
    candidates["model"] = by_hash[np.searchsorted(hashes[by_hash], candidates["model"])]
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
    y, tie = _outcomes(judgments, graded=board.graded)
    features = ("tokens", "headers", "lists", "bold") if board.style else ("tokens",)
    style_a = np.column_stack([ca[f].astype(np.float64) for f in features])
    style_b = np.column_stack([cb[f].astype(np.float64) for f in features])
    extra = {"length": style_a[:, 0] - style_b[:, 0], "tokens_a": style_a[:, 0], "tokens_b": style_b[:, 0]}
    if board.style:
        extra |= {"style_a": style_a, "style_b": style_b}
    judges, judge_index = np.unique(judgments["judge"], return_inverse=True)
    votes = Votes(
        models=tuple(models),
        a=ca["model"].astype(np.int64),
        b=cb["model"].astype(np.int64),
        y=y,
        tie=tie,
        w=np.ones(len(judgments["id"])),
        judge=judge_index.astype(np.int64),
        judges=tuple(str(j) for j in judges),
        extra=extra,
    )
    return LoadedVotes(
        votes,
        int(judgments["id"].max()),
        judgments["source"].astype(np.int64) - 1,
        judgments["first"].astype(np.int64),
        judgments["comparison"].astype(np.int64),
    )


def _outcomes(judgments: dict[str, np.ndarray], *, graded: bool) -> tuple[np.ndarray, np.ndarray]:
    """a's share of each vote: a soft judge's preference, else (graded boards) the strength on the -3..+3
    scale (negative favours A), else a / b / tie (both-bad is a tie, as in LMArena); and which are ties."""
    soft = ~np.isnan(judgments["preference"])
    code = np.clip(judgments["outcome"], 0, 2)
    y = OUTCOME_Y[code]
    if graded:
        strength = judgments["strength"]
        y = np.where(strength != NO_STRENGTH, 0.5 - strength / 6.0, y)
    y = np.where(soft, judgments["preference"], y)
    return y.astype(np.float64), ~soft & (judgments["outcome"] == 2)


@dataclass(frozen=True)
class VotePrompts:
    texts: list[str]  # the distinct prompts
    rows: np.ndarray  # each vote's prompt, an index into texts


def vote_prompts(comparison: np.ndarray, *, limit: int, category: str = "") -> VotePrompts:
    """The distinct prompts of these votes (given by comparison id) and each vote's prompt.

    Raises RatingError when there are more than ``limit`` distinct prompts (each is embedded)."""
    prompts = _columns(PROMPT_COLUMNS, prompts_from(category=bool(category)), [category] if category else [])
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
    text = dict(Comparison.objects.filter(id__in=wanted).values_list("id", "prompt"))
    return VotePrompts([text[c] for c in wanted], rows.ravel().astype(np.int64))


def run_latest(board: Board) -> RatingRun | None:
    return RatingRun.objects.filter(board=board.key, state=RunState.DONE).order_by("-id").first()


def fit_document(run: RatingRun) -> dict:
    """A finished fit as ``fit_ratings --output`` writes it and the API serves it."""
    return {
        "run": run.pk,
        "board": run.board,
        "duration_ms": run.duration_ms,
        "timings": run.timings,
        "integrity_left_out": run.integrity_left_out,
        **run.result,
    }


def run_in_flight(board: Board) -> RatingRun | None:
    return (
        RatingRun.objects.filter(board=board.key, state__in=[RunState.QUEUED, RunState.RUNNING]).order_by("-id").first()
    )


def judgments_since(last_judgment_id: int | None) -> int:
    qs = Judgment.objects.all()
    if last_judgment_id is not None:
        qs = qs.filter(id__gt=last_judgment_id)
    return qs.count()


def integrity_left_out(board: Board) -> int:
    """How many of the judgments the board selects it leaves out: those with an integrity flag not cleared,
    and those of a judge with one. Read from the flags' side: they are few, the judgments many."""
    flagged_judges = JudgeFlag.objects.filter(cleared_at__isnull=True).values("judge")
    rated = Judgment.objects.filter(Q(outcome__isnull=False) | Q(preference__isnull=False))
    if board.category:
        rated = rated.filter(comparison__category=board.category)
    if board.source:
        rated = rated.filter(source=board.source)
    # Two counts, each through an index (judge; the open flags), rather than one OR over every judgment.
    of_flagged_judges = rated.filter(judge__in=flagged_judges).count()
    flagged_votes = (
        rated.filter(id__in=IntegrityFlag.objects.filter(cleared_at__isnull=True).values("judgment_id"))
        .exclude(judge__in=flagged_judges)
        .count()
    )
    return of_flagged_judges + flagged_votes


def judges_flagged_since(when) -> int:
    return JudgeFlag.objects.filter(created_at__gte=when, cleared_at__isnull=True).count()


def integrity_cleared_since(when) -> int:
    """Flags cleared since ``when`` (None: ever), of votes and of judges: each puts votes back on the boards."""
    flags = IntegrityFlag.objects.filter(cleared_at__isnull=False)
    judges = JudgeFlag.objects.filter(cleared_at__isnull=False)
    if when is not None:
        flags = flags.filter(cleared_at__gte=when)
        judges = judges.filter(cleared_at__gte=when)
    return flags.count() + judges.count()


def category_known(name: str) -> bool:
    """Whether any comparison has this category: a board is only fitted for a category that exists."""
    return not storable_text_problem(name) and Comparison.objects.filter(category=name).exists()


def categories() -> list[str]:
    return list(
        Comparison.objects.exclude(category="").values_list("category", flat=True).distinct().order_by("category")
    )


def judge_tie_rates(limit: int = 15, min_votes: int = 20) -> list[dict]:
    """Judges with the highest tie rates (at least ``min_votes`` pairwise votes)."""
    with connection.cursor() as cursor:
        cursor.execute(JUDGE_TIE_RATES_SQL, [min_votes, limit])
        return [{"judge": j, "n": n, "tie_rate": r} for j, n, r in cursor.fetchall()]
