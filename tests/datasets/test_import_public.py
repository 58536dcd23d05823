"""Public preference releases import as they are published: one small file per format, built here
in that release's exact shape (names, types, nesting), nothing downloaded."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from annotation.models import Judgment
from tests.datasets.test_import import rejected, run_import, write_jsonl

pytestmark = pytest.mark.django_db


def arena_hard_battles() -> list[dict]:
    """What arena-hard-auto's show_result.py builds: a strong verdict is three identical lines."""
    strong = {
        "question_id": "328c149ed45a41c0b9d6f14659e63599",
        "model_a": "gpt-4-0314",
        "model_b": "claude-3-opus-20240229",
        "winner": "model_b",
    }
    return [
        strong,
        strong,
        strong,
        {
            "question_id": "328c149ed45a41c0b9d6f14659e63599",
            "model_a": "gpt-4-0314",
            "model_b": "claude-3-opus-20240229",
            "winner": "tie",
        },
        {
            "question_id": "b18307e906ef4501a0ebed3216627f51",
            "model_a": "gpt-4-0314",
            "model_b": "claude-3-opus-20240229",
            "winner": "tie (bothbad)",
        },
        {
            "question_id": "b18307e906ef4501a0ebed3216627f51",
            "model_a": "gpt-4-0314",
            "model_b": "claude-3-opus-20240229",
            "winner": "model_a",
        },
    ]


def test_arena_hard_repeats_are_separate_judgments_and_ratings_count_them(tmp_path):
    path = write_jsonl(tmp_path / "gpt-4-1106-preview.jsonl", arena_hard_battles()[:3])
    out = run_import(path, "arena-hard")
    assert "3 judgments added, 3 comparisons added" in out
    judgments = Judgment.objects.all()
    assert {(j.judge, j.judge_kind, j.outcome) for j in judgments} == {("gpt-4-1106-preview", "ai", "b")}
    assert sorted(j.comparison.metadata["repeat"] for j in judgments) == [1, 2, 3]
    comparison = judgments[0].comparison
    assert [c.model for c in comparison.candidates.all()] == ["gpt-4-0314", "claude-3-opus-20240229"]
    assert comparison.metadata["question_id"] == "328c149ed45a41c0b9d6f14659e63599"

    fitted = io.StringIO()
    call_command("fit_ratings", "--bootstrap", "0", stdout=fitted)
    assert fitted.getvalue().startswith("3 judgments, 2 models")
    assert "(3 votes)" in fitted.getvalue()

    again = run_import(path, "arena-hard")
    assert "0 judgments added, 0 comparisons added, 3 already present" in again


def test_arena_hard_judge_option_winners_and_csv(tmp_path):
    path = tmp_path / "battles.csv"
    path.write_text(
        "question_id,model_a,model_b,winner\n"
        + "".join(f"{b['question_id']},{b['model_a']},{b['model_b']},{b['winner']}\n" for b in arena_hard_battles())
    )
    out = run_import(path, "arena-hard", "--judge", "gpt-4-turbo")
    assert "6 judgments added" in out
    assert set(Judgment.objects.values_list("judge", flat=True)) == {"gpt-4-turbo"}
    assert sorted(Judgment.objects.values_list("outcome", "both_bad")) == [
        ("a", False),
        ("b", False),
        ("b", False),
        ("b", False),
        ("tie", False),
        ("tie", True),
    ]


def test_arena_hard_bad_records_refuse_the_file_with_their_line(tmp_path):
    battles = arena_hard_battles()
    battles[1] = dict(battles[1], winner="A>>B")
    battles[4] = dict(battles[4], model_b="claude\u0000")
    path = write_jsonl(tmp_path / "judge.jsonl", battles)
    text = rejected(path, "arena-hard")
    assert "line 2: winner must be one of model_a, model_b, tie, tie (bothbad), got 'A>>B'" in text
    assert "line 5: model_b contains a NUL character" in text
    assert "2 invalid record(s) out of 6" in text


def test_judge_option_is_refused_where_the_file_names_judges(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"agora_raw": 1}])
    with pytest.raises(Exception, match="--judge goes with formats that do not"):
        call_command("import_judgments", str(path), "--format", "agora", "--judge", "x", "--no-progress")
