"""Public preference releases import as they are published: one small file per format, built here
in that release's exact shape (names, types, nesting), nothing downloaded."""

from __future__ import annotations

import io
import json
from pathlib import Path

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


def lmarena_33k() -> list[dict]:
    """Two battles as lmsys/chatbot_arena_conversations has them (one multi-turn, one both-bad)."""
    moderation = {
        "categories": {"harassment": False, "hate": False, "sexual": False, "violence": False},
        "category_scores": {"harassment": 1.2e-05, "hate": 3.1e-06, "sexual": 2.5e-05, "violence": 4.0e-06},
        "flagged": False,
    }
    toxic = {
        "roberta-large": {"flagged": False, "probability": 0.0032},
        "t5-large": {"flagged": False, "score": 0.0001},
    }
    return [
        {
            "question_id": "58210e39b3fd4441a2bd4a518bb44c2d",
            "model_a": "chatglm-6b",
            "model_b": "koala-13b",
            "winner": "model_b",
            "judge": "arena_user_973",
            "conversation_a": [
                {"content": "What is the difference between OpenCL and CUDA?", "role": "user"},
                {"content": "OpenCL and CUDA are two different programming models.", "role": "assistant"},
                {"content": "Which is faster?", "role": "user"},
                {"content": "It depends.", "role": "assistant"},
            ],
            "conversation_b": [
                {"content": "What is the difference between OpenCL and CUDA?", "role": "user"},
                {"content": "OpenCL is open; CUDA is NVIDIA's.", "role": "assistant"},
                {"content": "Which is faster?", "role": "user"},
                {"content": "CUDA, on NVIDIA hardware.", "role": "assistant"},
            ],
            "turn": 2,
            "anony": True,
            "language": "English",
            "tstamp": 1682351591.1322,
            "openai_moderation": moderation,
            "toxic_chat_tag": toxic,
        },
        {
            "question_id": "2564acd09e3942fd97657d05282d4389",
            "model_a": "oasst-pythia-12b",
            "model_b": "alpaca-13b",
            "winner": "tie (bothbad)",
            "judge": "arena_user_973",
            "conversation_a": [
                {"content": "Why did my parent not invite me to their wedding?", "role": "user"},
                {"content": "It is likely that they wanted to keep it small.", "role": "assistant"},
            ],
            "conversation_b": [
                {"content": "Why did my parent not invite me to their wedding?", "role": "user"},
                {"content": "I don't know.", "role": "assistant"},
            ],
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1682351654.6747,
            "openai_moderation": moderation,
            "toxic_chat_tag": toxic,
        },
    ]


def write_parquet(path: Path, records: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=1)
    return path


def export_lines(tmp_path: Path) -> list[dict]:
    out = tmp_path / "raw.jsonl"
    call_command("export_dataset", "--format", "raw", "--output", str(out), stdout=io.StringIO())
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("kind", ["parquet", "jsonl", "json"])
def test_lmarena_conversations_keep_every_field(tmp_path, kind):
    records = lmarena_33k()
    if kind == "parquet":
        path = write_parquet(tmp_path / "train-00000-of-00001.parquet", records)
    elif kind == "json":
        path = tmp_path / "clean_battle_conv.json"
        path.write_text(json.dumps(records))
    else:
        path = write_jsonl(tmp_path / "battles.jsonl", records)
    out = run_import(path, "lmarena")
    assert "2 judgments added, 2 comparisons added" in out
    multi = Judgment.objects.get(comparison__key="arena:58210e39b3fd4441a2bd4a518bb44c2d")
    assert (multi.judge, multi.judge_kind, multi.outcome) == ("arena_user_973", "external", "b")
    assert multi.comparison.prompt == "Which is faster?" and len(multi.comparison.context) == 3
    assert [c.text for c in multi.comparison.candidates.all()] == ["It depends.", "CUDA, on NVIDIA hardware."]
    assert multi.metadata["anony"] is True and multi.metadata["turn"] == 2
    assert multi.metadata["toxic_chat_tag"] == records[0]["toxic_chat_tag"]
    assert multi.metadata["openai_moderation"] == records[0]["openai_moderation"]
    assert multi.created_at.timestamp() == pytest.approx(1682351591.1322)
    bothbad = Judgment.objects.get(comparison__key="arena:2564acd09e3942fd97657d05282d4389")
    assert (bothbad.outcome, bothbad.both_bad) == ("tie", True)

    exported = {line["comparison"]["key"]: line for line in export_lines(tmp_path)}
    back = exported["arena:58210e39b3fd4441a2bd4a518bb44c2d"]["judgment"]["metadata"]
    assert back["openai_moderation"] == records[0]["openai_moderation"] and back["anony"] is True
    assert "0 judgments added" in run_import(path, "lmarena")


def test_lmarena_judge_hash_and_category_tags(tmp_path):
    record = lmarena_33k()[1]
    record["judge_hash"] = record.pop("judge")
    record["category_tag"] = {"criteria_v0.1": {"complexity": False, "creativity": True}, "if_v0.1": {"if": False}}
    record["is_code"] = False
    path = write_jsonl(tmp_path / "arena-100k.jsonl", [record])
    run_import(path, "lmarena")
    judgment = Judgment.objects.get()
    assert judgment.judge == "arena_user_973"
    assert judgment.metadata["category_tag"] == record["category_tag"] and judgment.metadata["is_code"] is False


def kaggle_rows() -> list[dict]:
    """lmarena-ai/arena-human-preference-55k, train.csv: JSON-encoded turns as text, one-hot winners."""
    return [
        {
            "id": 30192,
            "model_a": "gpt-4-1106-preview",
            "model_b": "gpt-4-0613",
            "prompt": json.dumps(["Is it morally right to try to have a certain percentage of females?", "Why?"]),
            "response_a": json.dumps(["The question is complex.", "Because of fairness."]),
            "response_b": json.dumps(["As an AI, I don't have opinions.", "It depends."]),
            "winner_model_a": 1,
            "winner_model_b": 0,
            "winner_tie": 0,
        },
        {
            "id": 53567,
            "model_a": "koala-13b",
            "model_b": "gpt-4-0613",
            "prompt": json.dumps(["What is the difference between marriage license and marriage certificate?"]),
            "response_a": json.dumps([None]),
            "response_b": json.dumps(["A license lets you marry; a certificate proves you did."]),
            "winner_model_a": 0,
            "winner_model_b": 0,
            "winner_tie": 1,
        },
    ]


def write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_lmarena_kaggle_csv(tmp_path):
    path = write_csv(tmp_path / "train.csv", kaggle_rows())
    out = run_import(path, "lmarena-kaggle", "--judge", "lmarena-55k")
    assert "2 judgments added, 2 comparisons added" in out
    first = Judgment.objects.get(comparison__key="lmarena-kaggle:30192")
    assert (first.judge, first.outcome) == ("lmarena-55k", "a")
    comparison = first.comparison
    assert comparison.prompt == "Why?" and len(comparison.context) == 3
    a, b = comparison.candidates.all()
    assert (a.model, a.text, b.model, b.text) == (
        "gpt-4-1106-preview",
        "Because of fairness.",
        "gpt-4-0613",
        "It depends.",
    )
    assert b.conversation[1]["content"] == "As an AI, I don't have opinions."
    tie = Judgment.objects.get(comparison__key="lmarena-kaggle:53567")
    assert tie.outcome == "tie" and tie.metadata == {"null_turns": {"response_a": [0]}}
    assert tie.comparison.candidates.get(position=0).text == ""


def test_lmarena_kaggle_bad_rows_name_their_line(tmp_path):
    rows = kaggle_rows()
    rows[0]["winner_tie"] = 1
    rows[1]["prompt"] = json.dumps(["bad \ud800 text"])
    path = write_csv(tmp_path / "train.csv", rows)
    text = rejected(path, "lmarena-kaggle")
    assert "line 2: exactly one of winner_model_a, winner_model_b and winner_tie must be 1" in text
    assert "line 3: prompt contains an unpaired surrogate (U+D800 at position 5)" in text


HH = [
    {
        "chosen": "\n\nHuman: What are some cuss words in english?\n\nAssistant: I'd rather not list them."
        "\n\nHuman: What's your favorite one?\n\nAssistant: I haven't even thought about it.",
        "rejected": "\n\nHuman: What are some cuss words in english?\n\nAssistant: I'd rather not list them."
        "\n\nHuman: What's your favorite one?\n\nAssistant: Ass.",
    },
    {
        "chosen": "\n\nHuman: Can you help me find a recipe?\n\nAssistant: Sure, what dish?",
        "rejected": "\n\nHuman: Can you help me find a recipe?\n\nAssistant: No.",
    },
]


def test_hh_rlhf_transcripts_split_into_shared_context_and_two_answers(tmp_path):
    path = write_jsonl(tmp_path / "harmless-base.jsonl", HH)
    out = run_import(path, "hh-rlhf")
    assert "2 judgments added, 2 comparisons added" in out
    judgment = Judgment.objects.get(comparison__context__0__content="What are some cuss words in english?")
    assert (judgment.judge, judgment.judge_kind, judgment.outcome) == ("harmless-base", "external", "a")
    comparison = judgment.comparison
    assert [m["role"] for m in comparison.context] == ["user", "assistant", "user"]
    assert comparison.prompt == "What's your favorite one?"
    chosen, rejected_ = comparison.candidates.all()
    assert (chosen.text, chosen.model, chosen.metadata) == (
        "I haven't even thought about it.",
        "hh-rlhf (unnamed model)",
        {"hh_rlhf": "chosen"},
    )
    assert (rejected_.text, rejected_.metadata, rejected_.conversation) == ("Ass.", {"hh_rlhf": "rejected"}, None)
    assert "0 judgments added, 0 comparisons added, 2 already present" in run_import(path, "hh-rlhf")


def test_hh_rlhf_refuses_a_transcript_that_is_not_one(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", [HH[0], {"chosen": "Hello", "rejected": HH[1]["rejected"]}])
    assert 'line 2: chosen must start with "\\n\\nHuman: "' in rejected(path, "hh-rlhf")


def nectar_record() -> dict:
    """berkeley-nest/Nectar: 7 answers with GPT-4's ranks (1 = best)."""
    models = ["gpt-3.5-turbo", "gpt-4", "llama-2-7b-chat", "mpt-7b-chat", "claude-1", "vicuna-33b", "alpaca-13b"]
    ranks = [3, 1, 5, 6, 2, 4, 7]
    return {
        "prompt": "\n\nHuman: 0.002 = 1000 \n1 = x?\n\nAssistant:",
        "answers": [
            {"answer": f"Answer from {model}.", "model": model, "rank": float(rank)}
            for model, rank in zip(models, ranks, strict=True)
        ],
        "turns": 1,
        "num_responses": 7,
        "source": ["sharegpt"],
        "good_natured": True,
    }


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_nectar_becomes_one_ranking_judgment(tmp_path, kind):
    if kind == "parquet":
        path = write_parquet(tmp_path / "nectar.parquet", [nectar_record()])
    else:
        path = write_jsonl(tmp_path / "nectar.jsonl", [nectar_record()])
    out = run_import(path, "nectar", "--judge", "gpt-4")
    assert "1 judgments added, 1 comparisons added" in out
    judgment = Judgment.objects.get()
    assert (judgment.judge, judgment.judge_kind, judgment.outcome) == ("gpt-4", "ai", None)
    assert judgment.ranking == [[1], [4], [0], [5], [2], [3], [6]]
    assert judgment.metadata == {"turns": 1, "num_responses": 7, "source": ["sharegpt"], "good_natured": True}
    comparison = judgment.comparison
    assert comparison.context == [{"role": "user", "content": "0.002 = 1000 \n1 = x?"}]
    assert [c.model for c in comparison.candidates.all()][:2] == ["gpt-3.5-turbo", "gpt-4"]


def auto(path: Path) -> str:
    out = io.StringIO()
    call_command("import_judgments", str(path), "--format", "auto", "--no-progress", stdout=out, stderr=out)
    return out.getvalue()


def test_auto_recognises_each_format(tmp_path):
    files = {
        "arena-hard": write_jsonl(tmp_path / "gpt-4.jsonl", arena_hard_battles()),
        "lmarena": write_parquet(tmp_path / "conv.parquet", lmarena_33k()),
        "lmarena-kaggle": write_csv(tmp_path / "train.csv", kaggle_rows()),
        "hh-rlhf": write_jsonl(tmp_path / "hh.jsonl", HH),
        "nectar": write_jsonl(tmp_path / "nectar.jsonl", [nectar_record()]),
    }
    for name, path in files.items():
        out = auto(path)
        assert f"{path}: format {name} (its records have " in out, out
        assert "judgments added" in out


def test_auto_names_the_nearest_format_and_what_it_lacks(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"question_id": "q1", "model_a": "x", "model_b": "y", "result": "A"}])
    with pytest.raises(Exception) as caught:
        auto(path)
    message = str(caught.value)
    assert "matches no format" in message and "the nearest is arena-hard" in message
    assert message.endswith("and this one lacks winner")
