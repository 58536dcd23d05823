"""arena → import → raw export → import is lossless; raw → import → raw is byte-identical."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from annotation.models import Comparison
from tests.datasets.test_import import LLMFAO, battle, write_jsonl

pytestmark = pytest.mark.django_db


def snapshot() -> list[dict]:
    """Every field of every row, with database ids replaced by stable keys."""
    rows = []
    for comparison in Comparison.objects.order_by("key"):
        c = model_to_dict(comparison, exclude=["id"]) | {"created_at": comparison.created_at}
        c["candidates"] = [model_to_dict(k, exclude=["id", "comparison"]) for k in comparison.candidates.all()]
        c["judgments"] = [
            model_to_dict(j, exclude=["id", "comparison", "user"])
            | {
                "created_at": j.created_at,
                "scores": [model_to_dict(s, exclude=["id", "judgment"]) for s in j.scores.all()],
            }
            for j in comparison.judgments.order_by("source", "judge")
        ]
        rows.append(c)
    return rows


def export_raw(path: Path) -> bytes:
    call_command("export_dataset", "--format", "raw", "--output", str(path), stdout=io.StringIO())
    return path.read_bytes()


def reimport(path: Path) -> None:
    Comparison.objects.all().delete()
    call_command("import_judgments", str(path), "--format", "agora", "--no-progress", stdout=io.StringIO())


def test_arena_import_raw_export_and_reimport_lose_nothing(tmp_path):
    conv_a = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Joke? <script>x</script>"},
        {"role": "assistant", "content": "A *pun*."},
    ]
    conv_b = conv_a[:2] + [
        {"role": "assistant", "content": "Hey."},
        conv_a[3],
        {"role": "assistant", "content": "No — ünïcode ✓"},
    ]
    records = [
        battle(
            strength=-3,
            rationale="funnier",
            category="humor",
            display_order=[1, 0],
            time_spent_ms=1200,
            scores={"model_a": {"overall": 6, "style": 5.5}, "model_b": {"overall": 2}},
            conversation_a=conv_a,
            conversation_b=conv_b,
            turn=2,
            conv_metadata={"sum_user_tokens": 4},
        ),
        battle(question_id="q2", winner="tie (bothbad)", judge="u2", strength=0),
        battle(question_id="q3", winner=None, preference=0.125, judge="judge-llm", judge_kind="ai", tstamp=None),
        battle(question_id="q4", winner="model_b", judge="u3", language=None),
    ]
    call_command(
        "import_judgments",
        str(write_jsonl(tmp_path / "arena.jsonl", records)),
        "--format",
        "arena",
        "--no-progress",
        stdout=io.StringIO(),
    )
    before = snapshot()
    assert len(before) == 4 and before[0]["judgments"][0]["scores"]

    raw = tmp_path / "raw.jsonl"
    export_raw(raw)
    reimport(raw)
    assert snapshot() == before


def test_raw_export_import_export_gives_identical_bytes(tmp_path):
    call_command(
        "import_judgments",
        str(LLMFAO / "crowd-comparisons.csv"),
        "--format",
        "llmfao",
        "--no-progress",
        stdout=io.StringIO(),
    )
    first = export_raw(tmp_path / "first.jsonl")
    assert first.count(b"\n") == 8931
    reimport(tmp_path / "first.jsonl")
    assert export_raw(tmp_path / "second.jsonl") == first
    line = json.loads(first.splitlines()[0])
    assert set(line) == {"agora_raw", "comparison", "candidates", "judgment"}


def test_raw_import_is_idempotent(tmp_path):
    call_command(
        "import_judgments",
        str(write_jsonl(tmp_path / "a.jsonl", [battle()])),
        "--format",
        "arena",
        "--no-progress",
        stdout=io.StringIO(),
    )
    raw = tmp_path / "raw.jsonl"
    export_raw(raw)
    out = io.StringIO()
    call_command("import_judgments", str(raw), "--format", "agora", "--no-progress", stdout=out)
    assert "0 judgments added, 0 comparisons added, 1 already present" in out.getvalue()
