"""NVIDIA HelpSteer2 imports as it is published: the per-response ratings (a prompt's responses on
consecutive rows) and the preference file, built here in the release's shape (gzipped, too)."""

from __future__ import annotations

import gzip
import json

import pytest

from agora_datasets.imports.helpsteer import MODEL, prompt_turns
from annotation.imports.records import RowError
from annotation.models import Comparison, Judgment
from tests.datasets.test_import import rejected, run_import, write_jsonl
from tests.datasets.test_import_public import auto, write_csv, write_parquet

pytestmark = pytest.mark.django_db

MULTI_TURN = "What is C#?\n<extra_id_1>Assistant\nA programming language.\n<extra_id_1>User\nWho made it?"
SIGNAL = "Define Signal Discuss its various properties with the help of diagram"


def rated(prompt: str, response: str, *ratings: int) -> dict:
    return dict(zip(("prompt", "response", "helpfulness", "correctness", "coherence", "complexity", "verbosity"),
                    (prompt, response, *ratings), strict=True))  # fmt: skip


def helpsteer_rows() -> list[dict]:
    """train.jsonl: two rows per prompt, one of them multi-turn."""
    return [
        rated("c#", "C# is a high-level, object-oriented programming language.", 3, 4, 4, 2, 1),
        rated("c#", "C# is a language.", 1, 3, 4, 0, 0),
        rated(MULTI_TURN, "Microsoft, around 2000.", 4, 4, 4, 1, 1),
        rated(MULTI_TURN, "Anders Hejlsberg's team at Microsoft designed it.", 4, 4, 4, 2, 2),
    ]


def preference_records() -> list[dict]:
    """preference/preference.jsonl: the card's example and two more (a tie, a strong A)."""
    return [
        {
            "split": "train",
            "prompt": SIGNAL,
            "response_1": "A signal is a form of energy that is used to transmit information.",
            "response_2": "A signal is a message conveyed from a sender to a receiver.",
            "preference_strength": 1,
            "preference_statement": "@Response 2 is better than @Response 1 because it is comprehensive.",
            "preference_elaboration": "It discusses noise, phase and envelope; @Response 1 does not.",
            "three_most_similar_preferences": [
                {"statement": "@Response 2 is better.", "elaboration": "More complete.", "strength": 1},
                {"statement": "@Response 2 is slightly better.", "elaboration": "More detail.", "strength": 1},
                {"statement": "@Response 2 includes the diagram.", "elaboration": "Formatting.", "strength": 1},
            ],
            "all_preferences_unprocessed": [
                {"strength": 1, "justification": "@Response 2 is better because it is comprehensive."},
                {"strength": 1, "justification": "@Response 2 is slightly better."},
                {"strength": 1, "justification": "@Response 2 includes the diagram."},
                {"strength": -100, "justification": "Not ratable."},
            ],
        },
        {
            "split": "validation",
            "prompt": "c#",
            "response_1": "C# is a high-level, object-oriented programming language.",
            "response_2": "C# is a language.",
            "preference_strength": -3,
            "preference_statement": "@Response 1 is much better than @Response 2.",
            "preference_elaboration": "@Response 2 says almost nothing.",
            "three_most_similar_preferences": [
                {"statement": "@Response 1 is much better.", "elaboration": "Detail.", "strength": -3},
            ],
            "all_preferences_unprocessed": [{"strength": -3, "justification": "@Response 1 is much better."}],
        },
        {
            "split": "train",
            "prompt": MULTI_TURN,
            "response_1": "Microsoft, around 2000.",
            "response_2": "Anders Hejlsberg's team at Microsoft designed it.",
            "preference_strength": 0,
            "preference_statement": "@Response 1 is about the same as @Response 2.",
            "preference_elaboration": "",
            "three_most_similar_preferences": [
                {"statement": "About the same.", "elaboration": "Both correct.", "strength": 0},
            ],
            "all_preferences_unprocessed": [{"strength": 0, "justification": "About the same."}],
        },
    ]


def write_gzip(path, records: list[dict]):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return path


def test_prompt_turns_split_a_multi_turn_prompt():
    assert prompt_turns("c#") == [{"role": "user", "content": "c#"}]
    assert prompt_turns(MULTI_TURN) == [
        {"role": "user", "content": "What is C#?"},
        {"role": "assistant", "content": "A programming language."},
        {"role": "user", "content": "Who made it?"},
    ]
    with pytest.raises(RowError, match="prompt must end with a user turn"):
        prompt_turns("Hi\n<extra_id_1>Assistant\nHello")


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "jsonl.gz"])
def test_helpsteer2_pairs_consecutive_rows_into_comparisons_with_five_scores(tmp_path, kind):
    if kind == "parquet":
        path = write_parquet(tmp_path / "train.parquet", helpsteer_rows())
    elif kind == "jsonl.gz":
        path = write_gzip(tmp_path / "train.jsonl.gz", helpsteer_rows())
    else:
        path = write_jsonl(tmp_path / "train.jsonl", helpsteer_rows())
    # --format auto reads the first record of every kind, gzipped JSON lines too.
    out = run_import(path, "auto")
    assert ": format helpsteer2 (" in out
    assert "2 records, 2 judgments added, 2 comparisons added" in out
    assert "verdicts: scores 2" in out

    judgment = Judgment.objects.get(comparison__context__0__content="c#")
    assert (judgment.judge, judgment.judge_kind, judgment.outcome) == ("train", "external", None)
    first, second = judgment.comparison.candidates.order_by("position")
    assert (first.model, first.text, first.metadata) == (MODEL, helpsteer_rows()[0]["response"], {"row": 1})
    assert (second.text, second.metadata) == ("C# is a language.", {"row": 2})
    scores = {(s.position, s.attribute): s.value for s in judgment.scores.all()}
    assert scores == {
        (0, "helpfulness"): 3,
        (0, "correctness"): 4,
        (0, "coherence"): 4,
        (0, "complexity"): 2,
        (0, "verbosity"): 1,
        (1, "helpfulness"): 1,
        (1, "correctness"): 3,
        (1, "coherence"): 4,
        (1, "complexity"): 0,
        (1, "verbosity"): 0,
    }
    multi = Judgment.objects.get(comparison__context__0__content="What is C#?").comparison
    assert [m["role"] for m in multi.context] == ["user", "assistant", "user"]
    assert multi.prompt == "Who made it?"
    assert [c.metadata["row"] for c in multi.candidates.order_by("position")] == [3, 4]

    assert "0 judgments added, 0 comparisons added, 2 already present" in run_import(path, "helpsteer2")


def test_helpsteer2_a_prompt_with_one_response_is_counted_not_lost(tmp_path):
    rows = helpsteer_rows()
    rows.insert(2, rated("Say hi.", "Hi!", 4, 4, 4, 0, 0))
    path = write_jsonl(tmp_path / "validation.jsonl", rows)
    text = rejected(path, "helpsteer2")
    assert "line 3: this prompt has one response and nothing to compare it with" in text
    assert "1 invalid record(s) out of 3" in text

    out = run_import(path, "helpsteer2", "--skip-invalid", "--judge", "helpsteer2-annotators")
    assert "3 records, 2 judgments added, 2 comparisons added, 0 already present, 1 skipped as invalid" in out
    assert set(Judgment.objects.values_list("judge", flat=True)) == {"helpsteer2-annotators"}


def test_helpsteer2_bad_rows_name_their_line(tmp_path):
    rows = helpsteer_rows()
    rows[1]["helpfulness"] = 5
    rows[3]["verbosity"] = None
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    text = rejected(path, "helpsteer2")
    assert "line 1: response 2 (line 2): helpfulness must be from 0 to 4, got 5" in text
    assert "line 3: response 2 (line 4): missing field verbosity" in text


def test_helpsteer2_refuses_the_disagreements_file_clearly(tmp_path):
    rows = [dict(r, **{a: [r[a], r[a], 4] for a in ("helpfulness", "correctness")}) for r in helpsteer_rows()[:2]]
    path = write_jsonl(tmp_path / "disagreements.jsonl", rows)
    text = rejected(path, "helpsteer2")
    assert "helpfulness is a list (one rating per annotator, as disagreements.jsonl.gz has them)" in text


def test_helpsteer2_more_than_sixteen_rows_of_one_prompt(tmp_path):
    rows = [rated("p", f"answer {n}", 2, 2, 2, 2, 2) for n in range(20)]
    text = rejected(write_jsonl(tmp_path / "t.jsonl", rows), "helpsteer2")
    assert "line 1: 20 consecutive rows (lines 1–20) share one prompt; a comparison holds at most 16" in text


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "jsonl.gz"])
def test_helpsteer2_preference_strength_outcome_rationale_and_annotators(tmp_path, kind):
    records = preference_records()
    if kind == "parquet":
        path = write_parquet(tmp_path / "preference.parquet", records)
    elif kind == "jsonl.gz":
        path = write_gzip(tmp_path / "preference.jsonl.gz", records)
    else:
        path = write_jsonl(tmp_path / "preference.jsonl", records)
    out = run_import(path, "helpsteer2-preference")
    assert "3 records, 3 judgments added, 3 comparisons added" in out
    assert "verdicts: " in out and "A 1" in out and "B 1" in out and "tie 1" in out

    signal = Judgment.objects.get(comparison__context__0__content=SIGNAL)
    assert (signal.judge, signal.judge_kind, signal.outcome, signal.strength) == ("preference", "external", "b", 1)
    assert signal.rationale == (
        "@Response 2 is better than @Response 1 because it is comprehensive.\n\n"
        "It discusses noise, phase and envelope; @Response 1 does not."
    )
    assert signal.metadata["split"] == "train"
    assert signal.metadata["three_most_similar_preferences"] == records[0]["three_most_similar_preferences"]
    assert signal.metadata["all_preferences_unprocessed"][3] == {"strength": -100, "justification": "Not ratable."}
    a, b = signal.comparison.candidates.order_by("position")
    assert (a.model, a.text, b.text) == (MODEL, records[0]["response_1"], records[0]["response_2"])

    strong = Judgment.objects.get(comparison__context__0__content="c#")
    assert (strong.outcome, strong.strength, strong.metadata["split"]) == ("a", -3, "validation")
    tie = Judgment.objects.get(comparison__context__0__content="What is C#?")
    assert (tie.outcome, tie.strength, tie.rationale) == ("tie", 0, "@Response 1 is about the same as @Response 2.")
    assert len(tie.comparison.context) == 3

    assert "0 judgments added, 0 comparisons added, 3 already present" in run_import(path, "helpsteer2-preference")


def test_helpsteer2_preference_bad_records(tmp_path):
    records = preference_records()
    records[0]["preference_strength"] = 5
    del records[1]["response_2"]
    records[2]["prompt"] = "Hi\n<extra_id_1>Assistant\nHello"
    text = rejected(write_jsonl(tmp_path / "preference.jsonl", records), "helpsteer2-preference")
    assert "line 1: preference_strength must be from -3 to 3, got 5" in text
    assert "line 2: missing field response_2" in text
    assert "line 3: prompt must end with a user turn" in text


def test_ratings_and_preference_on_one_pair_meet_on_one_comparison(tmp_path):
    run_import(write_gzip(tmp_path / "train.jsonl.gz", helpsteer_rows()), "helpsteer2")
    out = run_import(write_gzip(tmp_path / "preference.jsonl.gz", preference_records()), "helpsteer2-preference")
    assert "3 judgments added, 1 comparisons added" in out
    comparison = Comparison.objects.get(context__0__content="c#")
    judgments = {j.judge: j for j in comparison.judgments.all()}
    assert set(judgments) == {"train", "preference"}
    assert judgments["train"].scores.count() == 10 and judgments["preference"].outcome == "a"
    assert Comparison.objects.count() == 3


def test_helpsteer2_and_preferences_from_csv(tmp_path):
    """Numbers as text and the annotators' lists as JSON text, as a CSV holds them."""
    run_import(write_csv(tmp_path / "train.csv", helpsteer_rows()), "helpsteer2")
    judgment = Judgment.objects.get(comparison__context__0__content="c#")
    assert judgment.scores.get(position=0, attribute="helpfulness").value == 3
    records = [
        {k: json.dumps(v) if isinstance(v, list) else v for k, v in record.items()} for record in preference_records()
    ]
    out = run_import(write_csv(tmp_path / "preference.csv", records), "helpsteer2-preference")
    assert "3 judgments added, 1 comparisons added" in out
    signal = Judgment.objects.get(comparison__context__0__content=SIGNAL)
    assert (signal.outcome, signal.strength) == ("b", 1)
    similar = preference_records()[0]["three_most_similar_preferences"]
    assert signal.metadata["three_most_similar_preferences"] == similar


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_auto_recognises_helpsteer2_and_its_preferences(tmp_path, kind):
    write = write_parquet if kind == "parquet" else write_jsonl
    ratings = write(tmp_path / f"train.{kind}", helpsteer_rows())
    preference = write(tmp_path / f"preference.{kind}", preference_records())
    out = auto(ratings)
    assert f"{ratings}: format helpsteer2 (its records have " in out and "2 judgments added" in out
    out = auto(preference)
    assert f"{preference}: format helpsteer2-preference (its records have " in out
    assert "3 judgments added" in out
