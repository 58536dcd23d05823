"""UltraFeedback (openbmb/UltraFeedback) imports as it is published: one record per instruction, its
four completions and GPT-4's fine-grained ratings, built here in the release's shape."""

from __future__ import annotations

import json

import pytest

from annotation.models import Candidate, Comparison, Judgment, Score
from tests.datasets.test_import import rejected, run_import, write_jsonl
from tests.datasets.test_import_public import auto, write_parquet

pytestmark = pytest.mark.django_db

INSTRUCTION = "I am going to Cairo in June. What are the best things I could do with my family?"
ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")


def completion(model: str, response: str, ratings: tuple, overall, fine, principle: str = "helpfulness") -> dict:
    """One completion as the release has it: four aspects, each a Rating (text) and its rationales."""
    following, honesty, truthfulness, helpfulness = ratings
    return {
        "annotations": {
            "instruction_following": {"Rating": following, "Rationale": f"{model} follows the task partly."},
            "honesty": {"Rating": honesty, "Rationale": f"{model} is confident."},
            "truthfulness": {
                "Rating": truthfulness,
                "Rationale": f"{model} mentions rafting on the Nile.",
                "Rationale For Rating": "Partial hallucination.",
                "Type": ["1", "2"],
            },
            "helpfulness": {
                "Rating": helpfulness,
                "Rationale": f"{model} is clear and relevant.",
                "Rationale For Rating": "Correct but not tailored.",
                "Type": ["1", "2"],
            },
        },
        "critique": f"Critique of {model}: consider the grandparents.",
        "custom_system_prompt": "As an AI assistant, ensure your response offers accuracy and positivity.",
        "fine-grained_score": fine,
        "model": model,
        "overall_score": overall,
        "principle": principle,
        "response": response,
    }


def ultrafeedback_record() -> dict:
    models = ["falcon-40b-instruct", "gpt-4", "starchat", "wizardlm-7b"]
    return {
        "source": "sharegpt",
        "instruction": INSTRUCTION,
        "models": models,
        "completions": [
            completion(models[0], "Visit the Pyramids of Giza.", ("2", "3", "3", "3"), 6.0, 2.75),
            completion(models[1], "Pyramids, the Egyptian Museum, a felucca ride.", ("5", "5", "5", "4"), 8.5, 4.75),
            completion(models[2], "Here are the top things to do in Cairo.", ("4", "N/A", "4", "4"), 7.0, 4.0),
            completion(models[3], "", ("N/A", "N/A", "1", "1"), 1.0, float("nan"), principle="honesty"),
        ],
        "correct_answers": ["None"],
        "incorrect_answers": ["None"],
    }


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_ultrafeedback_becomes_one_comparison_with_every_rating_as_a_score(tmp_path, kind):
    record = ultrafeedback_record()
    if kind == "parquet":
        path = write_parquet(tmp_path / "train-00000-of-00001.parquet", [record])
    else:
        path = write_jsonl(tmp_path / "sharegpt.jsonl", [record])
    out = run_import(path, "ultrafeedback", "--judge", "gpt-4")
    assert "1 records, 1 judgments added, 1 comparisons added" in out
    assert "verdicts: scores 1" in out
    assert "dropped" not in out  # nothing the release holds goes unkept

    judgment = Judgment.objects.get()
    assert (judgment.judge, judgment.judge_kind, judgment.outcome, judgment.ranking) == ("gpt-4", "ai", None, None)
    comparison = judgment.comparison
    assert comparison.context == [{"role": "user", "content": INSTRUCTION}]
    assert comparison.metadata == {
        "dataset": "ultrafeedback",
        "source": "sharegpt",
        "correct_answers": ["None"],
        "incorrect_answers": ["None"],
    }
    candidates = list(comparison.candidates.order_by("position"))
    assert [(c.position, c.model) for c in candidates] == [
        (0, "falcon-40b-instruct"),
        (1, "gpt-4"),
        (2, "starchat"),
        (3, "wizardlm-7b"),
    ]
    assert candidates[3].text == ""  # an empty response is still a candidate
    assert candidates[1].metadata == {
        "principle": "helpfulness",
        "custom_system_prompt": "As an AI assistant, ensure your response offers accuracy and positivity.",
    }
    assert candidates[3].metadata["principle"] == "honesty"

    scores = {(s.position, s.attribute): s.value for s in judgment.scores.all()}
    assert scores[(0, "instruction_following")] == 2 and scores[(1, "helpfulness")] == 4
    assert scores[(1, "overall_score")] == 8.5 and scores[(1, "fine-grained_score")] == 4.75
    assert {a for p, a in scores if p == 1} == {*ASPECTS, "overall_score", "fine-grained_score"}
    # N/A ratings and the NaN fine-grained score give no score, and say so.
    assert (2, "honesty") not in scores and (3, "instruction_following") not in scores
    assert (3, "fine-grained_score") not in scores and scores[(3, "truthfulness")] == 1
    assert len(scores) == 6 + 6 + 5 + 3
    assert judgment.metadata["unrated"] == {
        "2": ["honesty"],
        "3": ["instruction_following", "honesty", "fine-grained_score"],
    }

    # Rationales, types and critiques are kept, keyed by position.
    annotations = judgment.metadata["annotations"]
    assert annotations["0"]["truthfulness"] == {
        "Rationale": "falcon-40b-instruct mentions rafting on the Nile.",
        "Rationale For Rating": "Partial hallucination.",
        "Type": ["1", "2"],
    }
    assert annotations["1"]["honesty"] == {"Rationale": "gpt-4 is confident."}
    assert annotations["2"]["honesty"] == {"Rating": "N/A", "Rationale": "starchat is confident."}
    assert set(annotations) == {"0", "1", "2", "3"} and set(annotations["3"]) == set(ASPECTS)
    assert judgment.metadata["critiques"]["3"] == "Critique of wizardlm-7b: consider the grandparents."
    assert "models" not in judgment.metadata  # the same as the completions' models

    again = run_import(path, "ultrafeedback", "--judge", "gpt-4")
    assert "0 judgments added, 0 comparisons added, 1 already present" in again
    assert Score.objects.count() == 20


def test_ultrafeedback_judge_is_the_file_name_and_aspects_may_be_lists(tmp_path):
    """The annotation scripts' per-subset files hold each aspect as a list of one annotation."""
    record = ultrafeedback_record()
    for item in record["completions"]:
        item["annotations"] = {aspect: [value] for aspect, value in item["annotations"].items()}
    record["id"] = "sharegpt-17"
    record["models"] = ["falcon-40b-instruct", "gpt-4", "starchat", "wizardlm-13b"]
    path = write_jsonl(tmp_path / "gpt-4-0613.jsonl", [record])
    run_import(path, "ultrafeedback")
    judgment = Judgment.objects.get()
    assert judgment.judge == "gpt-4-0613"
    assert judgment.scores.get(position=1, attribute="helpfulness").value == 4
    assert judgment.metadata["annotations"]["1"]["helpfulness"]["Rationale For Rating"] == "Correct but not tailored."
    # Unknown fields, and a models list that differs from the completions', stay in the metadata.
    assert judgment.metadata["id"] == "sharegpt-17"
    assert judgment.metadata["models"] == record["models"]


def test_ultrafeedback_two_instructions_and_numbers_as_the_first_release_wrote_them(tmp_path):
    first = ultrafeedback_record()
    second = ultrafeedback_record()
    second["instruction"] = "Name a prime."
    second["source"] = "flan"
    second["correct_answers"] = ["7"]
    second["completions"] = second["completions"][:2]
    second["completions"][0]["overall_score"] = "7"  # annotate_critique.py wrote the score as text
    del second["completions"][1]["fine-grained_score"]  # before fix_overall_score_issue.py added it
    path = write_jsonl(tmp_path / "flan.jsonl", [first, second])
    out = run_import(path, "ultrafeedback")
    assert "2 records, 2 judgments added, 2 comparisons added" in out
    judgment = Judgment.objects.get(comparison__context__0__content="Name a prime.")
    assert judgment.comparison.candidates.count() == 2
    assert judgment.comparison.metadata["correct_answers"] == ["7"]
    assert judgment.scores.get(position=0, attribute="overall_score").value == 7
    assert judgment.metadata["unrated"] == {"1": ["fine-grained_score"]}


def test_ultrafeedback_bad_records_are_refused_with_their_line(tmp_path):
    records = [ultrafeedback_record() for _ in range(5)]
    del records[0]["completions"][1]["model"]
    records[1]["completions"][0]["annotations"]["honesty"]["Rating"] = "7"
    records[2]["completions"][2]["annotations"]["helpfulness"] = [{"Rating": "3"}, {"Rating": "4"}]
    records[3]["completions"] = []
    records[4]["completions"][0]["overall_score"] = "excellent"
    path = write_jsonl(tmp_path / "uf.jsonl", records)
    text = rejected(path, "ultrafeedback")
    assert "line 1: completions[1] must have model and response" in text
    assert "line 2: completions[0].annotations.honesty.Rating must be 1 to 5 or \"N/A\", got '7'" in text
    assert "line 3: completions[2].annotations.helpfulness holds 2 annotations; one per aspect is read" in text
    assert "line 4: completions must be a list of 1 to 16 completions, got 0 completions" in text
    assert "line 5: completions[0].overall_score must be a number, got 'excellent'" in text
    assert "5 invalid record(s) out of 5" in text
    assert Comparison.objects.count() == Candidate.objects.count() == 0


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_auto_recognises_ultrafeedback(tmp_path, kind):
    if kind == "parquet":
        path = write_parquet(tmp_path / "uf.parquet", [ultrafeedback_record()])
    else:
        record = ultrafeedback_record()
        record["completions"][3]["fine-grained_score"] = None  # NaN is no JSON; ijson refuses it
        path = tmp_path / "uf.json"  # a JSON array, as a script dumping the records writes it
        path.write_text(json.dumps([record]))
    out = auto(path)
    assert f"{path}: format ultrafeedback (its records have completions, instruction)" in out
    assert "1 judgments added" in out
