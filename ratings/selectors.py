"""Reads for the ratings: judgments as engine arrays, and the stored runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection

from annotation.models import Source
from ratings.boards import Board
from ratings.engine.votes import Votes
from ratings.models import RatingRun, RunState

SOURCES = list(Source.values)

# One row of arrays: PostgreSQL aggregates the columns, psycopg hands over each array at once,
# and no Python object per judgment is ever made. Candidates 0 and 1 are "A" and "B"; the
# outcome is a's share: a soft judge's preference, else (graded boards) the strength on the
# -3..+3 scale (negative favours A), else a / b / tie (both-bad counts as a tie, as LMArena does).
VOTES_SQL = """
    SELECT array_agg(v.ia), array_agg(v.ib), array_agg(v.y), array_agg(v.tie), array_agg(v.id),
           array_agg(v.source), array_agg(v.first), array_agg(hashtext(v.judge)),
           array_agg(v.ta), array_agg(v.ha), array_agg(v.la), array_agg(v.ba),
           array_agg(v.tb), array_agg(v.hb), array_agg(v.lb), array_agg(v.bb)
    FROM (
        SELECT j.id, ma.idx AS ia, mb.idx AS ib, j.judge,
               COALESCE(
                   j.preference,
                   CASE WHEN %(graded)s AND j.strength IS NOT NULL THEN 0.5 - j.strength / 6.0 END,
                   CASE j.outcome WHEN 'a' THEN 1.0 WHEN 'b' THEN 0.0 ELSE 0.5 END
               )::float8 AS y,
               (j.preference IS NULL AND j.outcome = 'tie') AS tie,
               array_position(%(sources)s::text[], j.source)::int2 AS source,
               COALESCE((j.display_order ->> 0)::int2, -1::int2) AS first,
               COALESCE(ca.style_tokens, 0) AS ta, COALESCE(ca.style_headers, 0) AS ha,
               COALESCE(ca.style_lists, 0) AS la, COALESCE(ca.style_bold, 0) AS ba,
               COALESCE(cb.style_tokens, 0) AS tb, COALESCE(cb.style_headers, 0) AS hb,
               COALESCE(cb.style_lists, 0) AS lb, COALESCE(cb.style_bold, 0) AS bb
        FROM annotation_judgment j
        JOIN annotation_comparison c ON c.id = j.comparison_id
        JOIN annotation_candidate ca ON ca.comparison_id = j.comparison_id AND ca.position = 0
        JOIN annotation_candidate cb ON cb.comparison_id = j.comparison_id AND cb.position = 1
        JOIN unnest(%(models)s::text[]) WITH ORDINALITY AS ma(name, idx) ON ma.name = ca.model
        JOIN unnest(%(models)s::text[]) WITH ORDINALITY AS mb(name, idx) ON mb.name = cb.model
        WHERE (j.outcome IS NOT NULL OR j.preference IS NOT NULL) AND ca.model <> cb.model
          AND (%(category)s = '' OR c.category = %(category)s)
          AND (%(source)s = '' OR j.source = %(source)s)
        -- Online Elo replays the votes in this order; the aggregate keeps its input order.
        ORDER BY j.created_at, j.id
    ) v
"""

MODELS_SQL = "SELECT DISTINCT model FROM annotation_candidate WHERE position < 2 ORDER BY model"


@dataclass(frozen=True)
class LoadedVotes:
    votes: Votes
    last_judgment_id: int | None
    source: np.ndarray  # index into SOURCES
    first_shown: np.ndarray  # the position the judge saw first (0 / 1), −1 when unknown


def votes_load(board: Board) -> LoadedVotes:
    with connection.cursor() as cursor:
        cursor.execute(MODELS_SQL)
        models = [m for (m,) in cursor.fetchall()]
        cursor.execute(
            VOTES_SQL,
            {"graded": board.graded, "category": board.category, "source": board.source, "models": models,
             "sources": SOURCES},
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:
        empty = np.zeros(0)
        votes = Votes(models=tuple(models), a=empty.astype(np.int64), b=empty.astype(np.int64), y=empty,
                      tie=empty.astype(bool), w=empty)
        return LoadedVotes(votes, None, empty.astype(np.int64), empty.astype(np.int64))
    a, b, y, tie, ids, source, first, judge = (np.asarray(col) for col in row[:8])
    style_a = np.column_stack([np.asarray(col, dtype=np.float64) for col in row[8:12]])
    style_b = np.column_stack([np.asarray(col, dtype=np.float64) for col in row[12:16]])
    judges, judge_index = np.unique(judge, return_inverse=True)
    votes = Votes(
        models=tuple(models),
        a=a.astype(np.int64) - 1,  # ORDINALITY counts from 1
        b=b.astype(np.int64) - 1,
        y=y.astype(np.float64),
        tie=tie.astype(bool),
        w=np.ones(len(a)),
        judge=judge_index.astype(np.int64),
        judges=tuple(str(j) for j in judges),
        extra={"style_a": style_a, "style_b": style_b, "length": style_a[:, 0] - style_b[:, 0]},
    )
    return LoadedVotes(votes, int(ids.max()), source.astype(np.int64) - 1, first.astype(np.int64))


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
