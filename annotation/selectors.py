"""Reads over the preference data."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count

from annotation.models import Candidate, Comparison, Judgment, Source
from annotation.sql import PAIRWISE_RESULTS_SQL


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
    One SQL pass (annotation/sql.py) over judgments joined to the two candidates they compare.
    """
    with connection.cursor() as cursor:
        cursor.execute(PAIRWISE_RESULTS_SQL)
        rows = cursor.fetchall()
    results = [
        {"model": model, "battles": n, "wins": w, "ties": t, "losses": lo, "win_rate": (w + t / 2) / n}
        for model, n, w, t, lo in rows
    ]
    results.sort(key=lambda r: (-r["win_rate"], -r["battles"], r["model"]))
    return results
