"""Battles per model per day: how often the arena drew each model, as a table anyone can check the
published sampling against (`export_dataset --format battles-per-day`).

Counted from the arena's voted battles as the annotation tables hold them (one comparison of source
arena per voted battle, created at the vote): per UTC day and model, the battles it was in and how they
went for it. A battle that failed or was never voted leaves no comparison, so it is not here; the public
sampling page (/arena/sampling/) counts failed battles too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import connection

from agora_datasets.exports import sql

FIELDS = ("day", "model", "battles", "wins", "losses", "ties")


def battles_per_day(*, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict]:
    statement = sql.battles_per_day_sql(since=since is not None, until=until is not None)
    with connection.cursor() as cursor:
        cursor.execute(statement, [p for p in (since, until) if p is not None])
        for day, model, battles, wins, losses, ties in cursor.fetchall():
            yield {
                "day": day.isoformat(),
                "model": model,
                "battles": battles,
                "wins": wins,
                "losses": losses,
                "ties": ties,
            }
