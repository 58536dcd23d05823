"""import_judgments: real data, idempotency, all-or-nothing, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Candidate, Comparison, Judgment, Score

pytestmark = pytest.mark.django_db
LLMFAO = Path(__file__).resolve().parents[3] / "shared" / "data" / "llmfao"


def counts() -> tuple[int, int, int, int]:
    return (Comparison.objects.count(), Candidate.objects.count(), Judgment.objects.count(), Score.objects.count())


def run_import(path: Path, fmt: str, *extra: str) -> str:
    import io

    out = io.StringIO()
    call_command("import_judgments", str(path), "--format", fmt, "--no-progress", *extra, stdout=out, stderr=out)
    return out.getvalue()


def rejected(path: Path, fmt: str = "arena", *extra: str) -> str:
    import io

    err = io.StringIO()
    before = counts()
    with pytest.raises(CommandError) as caught:
        call_command("import_judgments", str(path), "--format", fmt, "--no-progress", *extra, stdout=err, stderr=err)
    assert counts() == before, "a rejected file must leave the database unchanged"
    return err.getvalue() + str(caught.value)


def battle(**fields) -> dict:
    record = {
        "question_id": "q1",
        "model_a": "alpha",
        "model_b": "beta",
        "winner": "model_a",
        "judge": "arena_user_1",
        "conversation_a": [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"}],
        "conversation_b": [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "9"}],
        "turn": 1,
        "language": "English",
        "tstamp": 1700000000.5,
        "anony": True,
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_llmfao_crowd_comparisons_import_whole_and_only_once():
    out = run_import(LLMFAO / "crowd-comparisons.csv", "llmfao")
    assert "8931 judgments added, 2139 comparisons added" in out
    assert Judgment.objects.count() == 8931
    assert Comparison.objects.count() == 2139
    assert Candidate.objects.values("model").distinct().count() == 59
    assert Judgment.objects.values("judge").distinct().count() == 124
    assert dict(Judgment.objects.values_list("outcome").annotate(n=__import__("django").db.models.Count("id"))) == {
        "tie": 3471,
        "a": 2911,
        "b": 2549,
    }
    # The first row of the file: pair 0, worker 58, a tie between Airoboros L2 70B and Weaver 12k.
    first = Judgment.objects.get(comparison__key="llmfao:0", judge="llmfao:58")
    assert first.outcome == "tie" and first.display_order == [0, 1]
    assert [c.model for c in first.comparison.candidates.all()] == ["Airoboros L2 70B", "Weaver 12k"]
    assert first.comparison.prompt.startswith("Argue for and against the use of kubernetes")

    again = run_import(LLMFAO / "crowd-comparisons.csv", "llmfao")
    assert "0 judgments added, 0 comparisons added, 8931 already present" in again
    assert Judgment.objects.count() == 8931


def test_arena_records_keep_every_field(tmp_path):
    path = write_jsonl(
        tmp_path / "battles.jsonl",
        [
            battle(
                strength=-2,
                rationale="9 is not prime",
                category="math",
                scores={"model_a": {"overall": 7}, "model_b": {"overall": 2}},
                display_order=[1, 0],
                time_spent_ms=5400,
            ),
            battle(question_id="q2", winner="tie (bothbad)", judge="arena_user_2", preference=0.5),
            battle(question_id="q3", winner=None, preference=0.8, judge="gpt-4-judge", judge_kind="ai"),
        ],
    )
    run_import(path, "arena")
    first = Judgment.objects.get(comparison__key="arena:q1")
    assert (first.outcome, first.strength, first.both_bad, first.rationale) == ("a", -2, False, "9 is not prime")
    assert first.display_order == [1, 0] and first.time_spent_ms == 5400
    assert first.metadata == {"anony": True, "turn": 1}
    assert first.created_at.timestamp() == 1700000000.5
    assert sorted((s.position, s.attribute, s.value) for s in first.scores.all()) == [
        (0, "overall", 7.0),
        (1, "overall", 2.0),
    ]
    comparison = first.comparison
    assert (comparison.prompt, comparison.category, comparison.language) == ("Name a prime.", "math", "English")
    assert [(c.position, c.model, c.text) for c in comparison.candidates.all()] == [(0, "alpha", "7"), (1, "beta", "9")]
    bothbad = Judgment.objects.get(comparison__key="arena:q2")
    assert (bothbad.outcome, bothbad.both_bad, bothbad.preference) == ("tie", True, 0.5)
    soft = Judgment.objects.get(comparison__key="arena:q3")
    assert (soft.outcome, soft.preference, soft.judge_kind) == (None, 0.8, "ai")


def test_multi_turn_battles_keep_each_sides_history(tmp_path):
    conv_a = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Joke?"},
        {"role": "assistant", "content": "A pun."},
    ]
    conv_b = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hey."},
        {"role": "user", "content": "Joke?"},
        {"role": "assistant", "content": "No."},
    ]
    path = write_jsonl(tmp_path / "b.jsonl", [battle(conversation_a=conv_a, conversation_b=conv_b, turn=2)])
    run_import(path, "arena")
    comparison = Comparison.objects.get()
    assert comparison.context == conv_a[:-1] and comparison.prompt == "Joke?"
    a, b = comparison.candidates.all()
    assert (a.text, a.conversation) == ("A pun.", None)
    assert (b.text, b.conversation) == ("No.", conv_b)


def test_prompt_and_response_fields_and_json_arrays(tmp_path):
    path = tmp_path / "battles.json"
    record = battle(conversation_a=None, conversation_b=None, prompt="2+2?", response_a="4", response_b="5")
    path.write_text(json.dumps([record, battle(question_id="q9", winner="model_b")], indent=2))
    run_import(path, "arena")
    assert Judgment.objects.count() == 2
    assert Comparison.objects.get(key="arena:q1").context == [{"role": "user", "content": "2+2?"}]


def test_records_without_ids_are_keyed_by_content_and_still_import_once(tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", [battle(question_id=None), battle(question_id=None, judge="u2")])
    run_import(path, "arena")
    assert (Comparison.objects.count(), Judgment.objects.count()) == (1, 2)
    run_import(path, "arena")
    assert (Comparison.objects.count(), Judgment.objects.count()) == (1, 2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"model_b": None}, "line 2: missing field model_b"),
        ({"winner": "model_c"}, "line 2: winner must be one of model_a, model_b, tie, tie (bothbad), got 'model_c'"),
        ({"strength": 7}, "line 2: strength must be from -3 to 3, got 7"),
        ({"strength": 2}, "line 2: strength 2 means b is better, but the outcome is a"),
        ({"preference": 1.2}, "line 2: preference must be a probability from 0 to 1, got 1.2"),
        ({"tstamp": "yesterday"}, "line 2: tstamp must be a Unix time in seconds, got 'yesterday'"),
        (
            {"conversation_b": [{"role": "user", "content": "Other"}, {"role": "assistant", "content": "x"}]},
            "line 2: conversation_a and conversation_b must share the same user turns",
        ),
    ],
)
def test_a_bad_record_rejects_the_whole_file_naming_its_line(tmp_path, bad, message):
    path = write_jsonl(
        tmp_path / "b.jsonl", [battle(question_id="ok"), battle(question_id="bad", **bad), battle(question_id="ok2")]
    )
    output = rejected(path)
    assert message in output
    assert "3 records" not in output and "nothing was imported" in output


def test_truncated_jsonl_and_truncated_json_arrays_are_named(tmp_path):
    good = json.dumps(battle())
    truncated = write_jsonl(tmp_path / "t.jsonl", [good])
    with open(truncated, "a") as handle:
        handle.write(good[: len(good) // 2])
    assert "line 2: invalid JSON" in rejected(truncated)
    assert "looks truncated" in rejected(truncated)

    array = tmp_path / "t.json"
    text = json.dumps([battle(), battle(question_id="q2")], indent=2)
    array.write_text(text[: len(text) - 40])
    output = rejected(array)
    assert "invalid JSON after record 1" in output and "truncated" in output


def test_a_100_mb_line_is_refused_without_reading_it_into_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as handle:
        handle.write(json.dumps(battle()) + "\n")
        handle.write('{"rationale": "' + "x" * (100 * 1024 * 1024) + '"}\n')
        handle.write(json.dumps(battle(question_id="q3")) + "\n")
    assert "line 2: longer than 16 MB" in rejected(path)


def test_skip_invalid_imports_the_good_records_and_lists_the_rest(tmp_path):
    path = write_jsonl(
        tmp_path / "b.jsonl",
        [battle(), "{not json", battle(question_id="q2", winner="nobody"), battle(question_id="q3")],
    )
    report = tmp_path / "report.txt"
    out = run_import(path, "arena", "--skip-invalid", "--report", str(report))
    assert "2 judgments added" in out and "2 skipped as invalid" in out
    assert sorted(Comparison.objects.values_list("key", flat=True)) == ["arena:q1", "arena:q3"]
    lines = report.read_text().splitlines()
    assert len(lines) == 2 and "line 2: invalid JSON" in lines[0] and "line 3: winner must be" in lines[1]


def test_a_key_reused_with_other_models_is_refused(tmp_path):
    run_import(write_jsonl(tmp_path / "a.jsonl", [battle()]), "arena")
    output = rejected(write_jsonl(tmp_path / "b.jsonl", [battle(model_b="gamma", judge="u9")]))
    assert "comparison arena:q1 already exists with other models" in output


def test_a_missing_file_and_unknown_columns_get_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_judgments", str(tmp_path / "nope.jsonl"), "--format", "arena")
    csv = tmp_path / "crowd-comparisons.csv"
    csv.write_text("id,prompt,model_x,model_y,worker,winner\n0,8,97,98,58,left\n")
    with pytest.raises(CommandError, match="pairs-crowd.jsonl is missing"):
        call_command("import_judgments", str(csv), "--format", "llmfao", "--no-progress")
