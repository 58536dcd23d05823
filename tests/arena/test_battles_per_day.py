"""export_dataset --format battles-per-day: the arena's voted battles per model per UTC day, as anyone
can check the published sampling against."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from annotation.models import Comparison
from arena import services
from arena.services import Vote
from tests.arena.test_battles import finish_turn
from tests.arena.test_integrity import NARWHAL, QUOKKA, models  # noqa: F401 - models is a fixture

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


def voted(choice: str, days_ago: int = 0) -> None:
    battle = services.battle_create(prompt="Tell me a joke.", judge="voter:k")
    finish_turn(battle)
    judgment, _ = services.vote_record(battle=battle, judge="voter:k", vote=Vote(choice=choice))
    # At noon of a fixed day: the test never straddles a midnight.
    Comparison.objects.filter(pk=judgment.comparison_id).update(created_at=NOON - timedelta(days=days_ago))


def test_battles_per_model_per_day_as_jsonl_and_parquet(models, tmp_path):  # noqa: F811
    for choice in ("a", "b", "tie", "both_bad"):
        voted(choice)
    voted("a", days_ago=3)
    services.battle_create(prompt="Not voted yet.", judge="voter:k")  # a running battle: not counted

    out = tmp_path / "days.jsonl"
    call_command("export_dataset", "--format", "battles-per-day", "--output", str(out), stdout=io.StringIO())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    today, earlier = "2026-03-10", "2026-03-07"
    assert [(r["day"], r["model"], r["battles"]) for r in rows] == [
        (earlier, NARWHAL[0], 1),
        (earlier, QUOKKA[0], 1),
        (today, NARWHAL[0], 4),
        (today, QUOKKA[0], 4),
    ]
    for day in (earlier, today):
        pair = [r for r in rows if r["day"] == day]
        assert sum(r["wins"] for r in pair) == sum(r["losses"] for r in pair)  # one side's win is the other's loss
    assert [r["ties"] for r in rows if r["day"] == today] == [2, 2]  # a tie and a both-bad
    assert all(r["wins"] + r["losses"] + r["ties"] == r["battles"] for r in rows)

    parquet = tmp_path / "days.parquet"
    call_command(
        "export_dataset", "--format", "battles-per-day", "--file-format", "parquet", "--output", str(parquet),
        "--since", "2026-03-09", stdout=io.StringIO(),
    )  # fmt: skip
    assert pq.read_table(parquet).to_pylist() == [r for r in rows if r["day"] == today]


def test_options_of_the_training_formats_are_refused(db):
    with pytest.raises(CommandError, match="battles-per-day takes --since, --until and --file-format; not --project"):
        call_command("export_dataset", "--format", "battles-per-day", "--output", "-", "--project", "x")
    with pytest.raises(CommandError, match="since 'soon'"):
        call_command("export_dataset", "--format", "battles-per-day", "--output", "-", "--since", "soon")
