"""MT-Bench judgments import as published: lmsys/mt_bench_human_judgments (splits human and gpt4_pair)
and llm_judge's gpt-4_pair.jsonl, built here in their exact shapes, nothing downloaded."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from annotation.models import Comparison, Judgment
from tests.datasets.test_import import rejected, run_import, write_jsonl
from tests.datasets.test_import_public import lmarena_33k, write_csv, write_parquet

pytestmark = pytest.mark.django_db

Q1 = "Compose an engaging travel blog post about a recent trip to Hawaii."
Q2 = "Rewrite your previous response. Start every sentence with the letter A."
ANSWERS = {
    "gpt-4": ["Aloha! Hawaii was a dream.", "A trip to Hawaii: amazing."],
    "claude-v1": ["Here is a blog post about Hawaii.", "Absolutely, here it is again."],
    "alpaca-13b": ["Hawaii is nice.", "A nice place."],
}
TURN_KEY_1 = "mt-bench:81:1:claude-v1:gpt-4"
TURN_KEY_2 = "mt-bench:81:2:claude-v1:gpt-4"


def conversation(model: str) -> list[dict]:
    """The whole two-turn conversation, as the release holds it on every record (content before role)."""
    first, second = ANSWERS[model]
    return [
        {"content": Q1, "role": "user"},
        {"content": first, "role": "assistant"},
        {"content": Q2, "role": "user"},
        {"content": second, "role": "assistant"},
    ]


def vote(model_a: str, model_b: str, winner: str, judge: str, turn: int, question_id: int = 81) -> dict:
    return {
        "question_id": question_id,
        "model_a": model_a,
        "model_b": model_b,
        "winner": winner,
        "judge": judge,
        "conversation_a": conversation(model_a),
        "conversation_b": conversation(model_b),
        "turn": turn,
    }


def human_split() -> list[dict]:
    return [
        vote("gpt-4", "claude-v1", "model_a", "expert_0", 1),
        vote("claude-v1", "gpt-4", "model_a", "expert_12", 1),  # the same pair, the other way round
        vote("gpt-4", "claude-v1", "tie", "author_0", 2),
        vote("alpaca-13b", "gpt-4", "model_b", "expert_0", 2),
    ]


def gpt4_pair_split() -> list[dict]:
    return [
        vote("claude-v1", "gpt-4", "tie (inconsistent)", "gpt4_pair", 1),
        vote("gpt-4", "claude-v1", "model_b", "gpt4_pair", 2),
    ]


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_human_votes_are_cut_at_their_turn_and_meet_on_one_comparison(tmp_path, kind):
    records = human_split()
    if kind == "parquet":
        path = write_parquet(tmp_path / "human-00000-of-00001.parquet", records)
    else:
        path = write_jsonl(tmp_path / "human.jsonl", records)
    out = run_import(path, "mt-bench")
    assert "4 records, 4 judgments added, 3 comparisons added, 0 already present" in out
    assert "verdicts: B 2, A 1, tie 1" in out

    turn_1 = Comparison.objects.get(key=TURN_KEY_1)
    assert turn_1.context == [{"content": Q1, "role": "user"}]
    assert turn_1.metadata == {"dataset": "mt-bench", "question_id": 81, "turn": 1}
    claude, gpt4 = turn_1.candidates.all()
    assert (claude.position, claude.model, claude.text, claude.conversation) == (
        0,
        "claude-v1",
        "Here is a blog post about Hawaii.",
        None,
    )
    assert (gpt4.model, gpt4.text, gpt4.conversation) == ("gpt-4", "Aloha! Hawaii was a dream.", None)
    # Each expert's verdict lands on the model it named, whichever side the record put it on.
    expert_0 = turn_1.judgments.get(judge="expert_0")
    assert (expert_0.judge_kind, expert_0.outcome, expert_0.display_order) == ("external", "b", [1, 0])
    expert_12 = turn_1.judgments.get(judge="expert_12")
    assert (expert_12.outcome, expert_12.display_order, expert_12.metadata) == ("a", [0, 1], {})

    # Turn 2: the context is the conversation up to the second question, with position 0's own
    # first answer; the other side keeps its own first answer in its conversation.
    turn_2 = Comparison.objects.get(key=TURN_KEY_2)
    assert turn_2.context == conversation("claude-v1")[:3] and turn_2.prompt == Q2
    claude, gpt4 = turn_2.candidates.all()
    assert (claude.text, claude.conversation) == ("Absolutely, here it is again.", None)
    assert (gpt4.text, gpt4.conversation) == ("A trip to Hawaii: amazing.", conversation("gpt-4"))
    assert turn_2.judgments.get().outcome == "tie"
    assert Judgment.objects.get(comparison__key="mt-bench:81:2:alpaca-13b:gpt-4").outcome == "b"

    assert "0 judgments added, 0 comparisons added, 4 already present" in run_import(path, "mt-bench")


def test_gpt4_pair_split_joins_the_human_comparisons(tmp_path):
    run_import(write_jsonl(tmp_path / "human.jsonl", human_split()), "mt-bench")
    path = write_parquet(tmp_path / "gpt4_pair-00000-of-00001.parquet", gpt4_pair_split())
    out = run_import(path, "mt-bench")
    assert "2 records, 2 judgments added, 0 comparisons added" in out
    inconsistent = Judgment.objects.get(comparison__key=TURN_KEY_1, judge="gpt4_pair")
    assert (inconsistent.judge_kind, inconsistent.outcome, inconsistent.display_order) == ("ai", "tie", None)
    assert inconsistent.metadata == {"inconsistent": True}
    decided = Judgment.objects.get(comparison__key=TURN_KEY_2, judge="gpt4_pair")
    assert (decided.outcome, decided.metadata) == ("a", {})  # claude-v1 won; it sits at position 0
    assert set(Comparison.objects.get(key=TURN_KEY_1).judgments.values_list("judge", flat=True)) == {
        "expert_0",
        "expert_12",
        "gpt4_pair",
    }


def test_bothbad_extra_fields_and_csv(tmp_path):
    record = vote("gpt-4", "claude-v1", "tie (bothbad)", "expert_3", 1) | {"chosen_score": 0.5}
    run_import(write_jsonl(tmp_path / "derived.jsonl", [record]), "mt-bench")
    judgment = Judgment.objects.get()
    assert (judgment.outcome, judgment.both_bad, judgment.metadata) == ("tie", True, {"chosen_score": 0.5})

    import json

    row = vote("alpaca-13b", "claude-v1", "model_a", "expert_3", 2, question_id=82)
    row |= {"conversation_a": json.dumps(row["conversation_a"]), "conversation_b": json.dumps(row["conversation_b"])}
    out = run_import(write_csv(tmp_path / "human.csv", [row]), "mt-bench")
    assert "1 judgments added" in out
    assert Judgment.objects.get(comparison__key="mt-bench:82:2:alpaca-13b:claude-v1").outcome == "a"


def test_bad_votes_are_refused_with_their_line(tmp_path):
    records = human_split()
    records[0] = records[0] | {"winner": "A>>B"}
    records[1] = records[1] | {"turn": 3}
    records[2] = records[2] | {
        "conversation_b": [{"content": "Another question?", "role": "user"}] + conversation("claude-v1")[1:]
    }
    records[3] = records[3] | {"model_b": "alpaca-13b"}
    text = rejected(write_jsonl(tmp_path / "human.jsonl", records), "mt-bench")
    assert "line 1: winner must be one of model_a, model_b, tie, tie (bothbad), tie (inconsistent), got 'A>>B'" in text
    assert "line 2: conversation_a has 2 answer(s); turn 3 needs 3" in text
    assert "line 3: the two conversations must share the same user turns" in text
    assert "line 4: both sides are 'alpaca-13b'" in text
    assert "4 invalid record(s) out of 4" in text


# --- llm_judge's gpt-4_pair.jsonl ---------------------------------------------------------------


def pair_prompt(question: str, answer_a: str, answer_b: str, reference: str | None = None) -> str:
    """llm_judge's pair-v2 (or pair-math-v1, with a reference answer) prompt, filled."""
    ref = f"[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n" if reference else ""
    return (
        f"[User Question]\n{question}\n\n{ref}"
        f"[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
        f"[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
    )


def multi_turn_prompt(model_a: str, model_b: str) -> str:
    """llm_judge's pair-v2-multi-turn prompt, filled."""

    def side(letter: str, model: str) -> str:
        first, second = ANSWERS[model]
        return (
            f"<|The Start of Assistant {letter}'s Conversation with User|>\n\n### User:\n{Q1}\n\n"
            f"### Assistant {letter}:\n{first}\n\n### User:\n{Q2}\n\n### Assistant {letter}:\n{second}\n\n"
            f"<|The End of Assistant {letter}'s Conversation with User|>"
        )

    return side("A", model_a) + "\n\n\n" + side("B", model_b)


def judgment_file() -> list[dict]:
    """Three lines of gpt-4_pair.jsonl: games agree, games disagree (turn 2), and a failed game (math)."""
    first = {model: answers[0] for model, answers in ANSWERS.items()}
    return [
        {
            "question_id": 81,
            "model_1": "gpt-4",
            "model_2": "claude-v1",
            "g1_winner": "model_1",
            "g2_winner": "model_1",
            "judge": ["gpt-4", "pair-v2"],
            "g1_user_prompt": pair_prompt(Q1, first["gpt-4"], first["claude-v1"]),
            "g1_judgment": "Assistant A is more engaging. [[A]]",
            "g2_user_prompt": pair_prompt(Q1, first["claude-v1"], first["gpt-4"]),
            "g2_judgment": "Assistant B is more engaging. [[B]]",
            "turn": 1,
            "tstamp": 1687221890.5,
        },
        {
            "question_id": 81,
            "model_1": "gpt-4",
            "model_2": "claude-v1",
            "g1_winner": "model_1",
            "g2_winner": "model_2",
            "judge": ["gpt-4", "pair-v2-multi-turn"],
            "g1_user_prompt": multi_turn_prompt("gpt-4", "claude-v1"),
            "g1_judgment": "[[A]]",
            "g2_user_prompt": multi_turn_prompt("claude-v1", "gpt-4"),
            "g2_judgment": "[[A]]",
            "turn": 2,
            "tstamp": 1687221900.0,
        },
        {
            "question_id": 111,
            "model_1": "alpaca-13b",
            "model_2": "gpt-4",
            "g1_winner": "error",
            "g2_winner": "model_2",
            "judge": ["gpt-4", "pair-math-v1"],
            "g1_user_prompt": pair_prompt("What is the area?", "2", "3", reference="Area is 3"),
            "g1_judgment": "$ERROR$",
            "g2_user_prompt": pair_prompt("What is the area?", "3", "2", reference="Area is 3"),
            "g2_judgment": "[[A]]",
            "turn": 1,
            "tstamp": 1687221910.0,
        },
    ]


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_llm_judge_pairs_become_one_judgment_each_on_the_human_comparisons(tmp_path, kind):
    run_import(write_jsonl(tmp_path / "human.jsonl", human_split()), "mt-bench")
    if kind == "parquet":
        path = write_parquet(tmp_path / "gpt-4_pair.parquet", judgment_file())
    else:
        path = write_jsonl(tmp_path / "gpt-4_pair.jsonl", judgment_file())
    out = run_import(path, "mt-bench-judge")
    assert "3 records, 3 judgments added, 1 comparisons added" in out
    assert "verdicts: B 1, tie 1, no verdict 1" in out
    assert "dropped g1_user_prompt from 3 record(s): the judge's prompt" in out

    agreed = Judgment.objects.get(comparison__key=TURN_KEY_1, judge="gpt-4")
    assert (agreed.judge_kind, agreed.outcome, agreed.display_order) == ("ai", "b", None)  # gpt-4 at position 1
    assert agreed.rationale == "Assistant A is more engaging. [[A]]"
    assert agreed.metadata == {
        "g1_winner": "model_1",
        "g2_winner": "model_1",
        "judge_prompt": "pair-v2",
        "g2_judgment": "Assistant B is more engaging. [[B]]",
    }
    assert agreed.created_at.timestamp() == pytest.approx(1687221890.5)

    split = Judgment.objects.get(comparison__key=TURN_KEY_2, judge="gpt-4")
    assert (split.outcome, split.metadata["inconsistent"], split.metadata["judge_prompt"]) == (
        "tie",
        True,
        "pair-v2-multi-turn",
    )

    failed = Judgment.objects.get(comparison__key="mt-bench:111:1:alpaca-13b:gpt-4")
    assert failed.outcome is None and failed.metadata["reference_answers"] == ["Area is 3"]
    math = failed.comparison
    assert math.context == [{"role": "user", "content": "What is the area?"}]
    assert [(c.model, c.text) for c in math.candidates.all()] == [("alpaca-13b", "2"), ("gpt-4", "3")]

    assert "0 judgments added, 0 comparisons added, 3 already present" in run_import(path, "mt-bench-judge")


def shapes() -> dict:
    return {
        c.key: (c.context, [(k.position, k.model, k.text, k.conversation) for k in c.candidates.all()])
        for c in Comparison.objects.all()
    }


def test_judge_file_and_release_build_the_same_comparisons(tmp_path):
    run_import(write_jsonl(tmp_path / "gpt-4_pair.jsonl", judgment_file()[:2]), "mt-bench-judge")
    from_judge_file = shapes()
    Comparison.objects.all().delete()
    run_import(write_jsonl(tmp_path / "human.jsonl", human_split()[:3]), "mt-bench")
    assert shapes() == from_judge_file and set(from_judge_file) == {TURN_KEY_1, TURN_KEY_2}


def test_judge_file_bad_records_say_why(tmp_path):
    lines = judgment_file()
    lines[0] = lines[0] | {"g2_user_prompt": lines[0]["g1_user_prompt"]}
    lines[1] = lines[1] | {"turn": 1}
    lines[2] = lines[2] | {"g1_user_prompt": "Which answer is better? 2 or 3", "judge": ["gpt-4", "single-v1"]}
    text = rejected(write_jsonl(tmp_path / "gpt-4_pair.jsonl", lines), "mt-bench-judge")
    assert "line 1: g2_user_prompt must be g1's pair-v2 prompt with the two answers swapped" in text
    assert "line 2: turn is 1, but the judge's prompt (pair-v2-multi-turn) is about turn 2" in text
    assert "line 3: g1_user_prompt does not follow llm_judge's single-v1 template" in text


def auto(path) -> str:
    out = io.StringIO()
    call_command("import_judgments", str(path), "--format", "auto", "--no-progress", stdout=out, stderr=out)
    return out.getvalue()


def test_auto_tells_mt_bench_from_lmarena(tmp_path):
    files = {
        "mt-bench": write_parquet(tmp_path / "human.parquet", human_split()),
        "mt-bench-judge": write_jsonl(tmp_path / "gpt-4_pair.jsonl", judgment_file()),
        "lmarena": write_parquet(tmp_path / "conv.parquet", lmarena_33k()),
    }
    for name, path in files.items():
        out = auto(path)
        assert f"{path}: format {name} (its records have " in out, out
        assert "judgments added" in out
    # A 33k battle without its tstamp is still the Arena's: anony and language say so.
    battle = lmarena_33k()[1]
    del battle["tstamp"]
    assert ": format lmarena (" in auto(write_jsonl(tmp_path / "no-tstamp.jsonl", [battle]))
