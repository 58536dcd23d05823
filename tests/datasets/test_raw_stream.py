"""The raw lines PostgreSQL builds for the API's stream hold what the raw export's Python builds."""

import json
import re
from datetime import datetime

import pytest
from django.utils import timezone

from agora_datasets.exports.privacy import IDENTIFYING_KEY, scrub_raw
from agora_datasets.exports.raw import judgment_to_raw, raw_json_chunks
from agora_datasets.exports.sql import MAY_IDENTIFY
from annotation.models import Candidate, Comparison, Judgment, Score, Source

pytestmark = pytest.mark.django_db


def _comparison(key: str, candidates: int) -> Comparison:
    c = Comparison.objects.create(
        key=key,
        context=[{"role": "user", "content": 'hi \u2028 "quoted" ünïcode'}],
        prompt="hi",
        category="chat",
        language="en",
        source=Source.IMPORT,
        metadata={"b": [1, 2.5, None], "a": {"nested": True, "user-email": "x@y.z"}, "address": "k-hash"},
        created_at=timezone.now().replace(microsecond=0),
    )
    for position in range(candidates):
        Candidate.objects.create(
            comparison=c,
            position=position,
            model=f"m{position}",
            text=f"answer {position}\nwith a line break and a tab\t",
            output_tokens=3 if position == 0 else None,
            latency_ms=40,
            finish_reason="stop",
            metadata={"k": "v"},
        )
    return c


def _dates(value):
    """Timestamps compared as moments: PostgreSQL drops a fraction's trailing zeros, Python keeps six digits."""
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value)
    return value


def test_the_database_built_lines_hold_the_raw_exports_values():
    first = _comparison("raw:1", 2)
    second = _comparison("raw:2", 3)
    j1 = Judgment.objects.create(
        comparison=first,
        source=Source.IMPORT,
        judge_kind="external",
        judge="w",
        outcome="a",
        strength=-2,
        display_order=[1, 0],
        rationale="because",
        time_spent_ms=5,
        principles={"p": True},
        metadata={"m": 1, "ip": "10.0.0.1", "ok": [{"keep": 1, "remote-addr": "x"}]},
        created_at=timezone.now(),
    )
    Score.objects.create(judgment=j1, position=0, attribute="overall", value=4)
    Score.objects.create(judgment=j1, position=1, attribute="overall", value=2.5)
    Judgment.objects.create(
        comparison=second,
        source=Source.AI,
        judge_kind="ai",
        judge="judge",
        ranking=[[0], [2, 1]],
        created_at=timezone.now(),
    )
    chunks = list(raw_json_chunks(Judgment.objects.all(), chunk_size=1))
    assert len(chunks) == 2 and all(chunk.endswith(b"\n") for chunk in chunks)
    rows = [json.loads(line) for chunk in chunks for line in chunk.splitlines()]
    expected = [scrub_raw(judgment_to_raw(j) | {"id": j.pk}) for j in Judgment.objects.order_by("id")]
    for got, want in zip(_dates(rows), _dates(json.loads(json.dumps(expected))), strict=True):
        for part in want:
            assert got[part] == want[part], part
    # What could name a person is gone, at any depth: the arena's keyed address hash, an email, an address.
    assert rows[0]["comparison"]["metadata"] == {"a": {"nested": True}, "b": [1, 2.5, None]}
    assert rows[0]["judgment"]["metadata"] == {"m": 1, "ok": [{"keep": 1}]}


def test_the_sql_scrub_uses_the_exports_rule():
    from importlib import import_module

    migration = import_module("agora_datasets.migrations.0002_scrub_function")
    assert migration.PATTERN == IDENTIFYING_KEY.pattern
    # The stream walks only metadata whose text holds one of these words: each key the rule drops has one.
    words = IDENTIFYING_KEY.pattern.split("(")[2].split(")")[0].split("|")
    assert all(re.search(MAY_IDENTIFY, word.replace("_", "-"), re.I) for word in words)


def test_a_selection_streams_only_its_rows_in_id_order():
    c = _comparison("raw:3", 2)
    made = [
        Judgment.objects.create(
            comparison=c, source=Source.AI, judge_kind="ai", judge=f"j{i}", outcome="tie", created_at=timezone.now()
        )
        for i in range(5)
    ]
    selected = Judgment.objects.filter(judge__in=["j3", "j1", "j4"])
    lines = b"".join(raw_json_chunks(selected, chunk_size=2)).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [made[1].pk, made[3].pk, made[4].pk]
