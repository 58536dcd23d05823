"""Reads over the preference data."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count

from annotation.models import Candidate, Comparison, Judgment, Source


def data_summary() -> dict:
    by_source = dict(Judgment.objects.values_list("source").annotate(n=Count("id")).order_by())
    return {
        "comparisons": Comparison.objects.count(),
        "judgments": sum(by_source.values()),
        "models": Candidate.objects.values("model").distinct().count(),
        "judges": Judgment.objects.values("judge").distinct().count(),
        "by_source": [
            {"label": label, "count": by_source[value]} for value, label in Source.choices if value in by_source
        ],
    }


def pairwise_results() -> list[dict]:
    """Observed results per model over pairwise judgments: wins, ties, losses.

    A tie counts half a win in ``win_rate``; both-bad votes count as ties.
    One SQL pass over judgments joined to the two candidates they compare.
    """
    sql = """
        WITH votes AS (
            SELECT a.model AS model_a, b.model AS model_b, j.outcome
            FROM annotation_judgment j
            JOIN annotation_candidate a ON a.comparison_id = j.comparison_id AND a.position = 0
            JOIN annotation_candidate b ON b.comparison_id = j.comparison_id AND b.position = 1
            WHERE j.outcome IS NOT NULL
        ), sides AS (
            SELECT model_a AS model, (outcome = 'a')::int AS win, (outcome = 'tie')::int AS tie,
                   (outcome = 'b')::int AS loss FROM votes
            UNION ALL
            SELECT model_b, (outcome = 'b')::int, (outcome = 'tie')::int, (outcome = 'a')::int FROM votes
        )
        SELECT model, COUNT(*), SUM(win), SUM(tie), SUM(loss) FROM sides GROUP BY model
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    results = [
        {"model": model, "battles": n, "wins": w, "ties": t, "losses": lo, "win_rate": (w + t / 2) / n}
        for model, n, w, t, lo in rows
    ]
    results.sort(key=lambda r: (-r["win_rate"], -r["battles"], r["model"]))
    return results
