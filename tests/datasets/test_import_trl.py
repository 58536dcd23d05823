"""TRL preference and KTO datasets import as TRL documents them, Agora's own TRL exports come back as
the same rows, and dataset folders (save_to_disk, a folder of files through load_dataset) read like files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import Comparison, Judgment
from tests.datasets.test_import import battle, rejected, run_import, write_jsonl
from tests.datasets.test_import_public import auto, write_parquet

pytestmark = pytest.mark.django_db

USER = {"role": "user", "content": "Name a prime."}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def bot(text: str) -> dict:
    return {"role": "assistant", "content": text}


def preference_rows() -> list[dict]:
    """The four shapes TRL's docs list, and UltraFeedback-binarized's (prompt text, whole conversations)."""
    return [
        # standard, explicit prompt
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
        # conversational, explicit prompt
        {
            "prompt": [user("What color is the sky?")],
            "chosen": [bot("It is blue.")],
            "rejected": [bot("It is green.")],
        },
        # conversational, implicit prompt: the shared opening turns are the prompt
        {
            "chosen": [user("Hi"), bot("Hello"), user("2+2?"), bot("4")],
            "rejected": [user("Hi"), bot("Hello"), user("2+2?"), bot("5")],
        },
        # UltraFeedback-binarized: prompt as text, each side the whole conversation, scores
        {
            "prompt": "Name a prime.",
            "prompt_id": "abc123",
            "chosen": [USER, bot("7")],
            "rejected": [USER, bot("9")],
            "messages": [USER, bot("7")],
            "score_chosen": 8.5,
            "score_rejected": 3.0,
        },
    ]


def pairs(comparison: Comparison) -> list[tuple[str, str]]:
    return [(c.model, c.text) for c in comparison.candidates.order_by("position")]


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_trl_preference_shapes(tmp_path, kind):
    rows = preference_rows()
    path = tmp_path / f"prefs.{kind}"
    if kind == "parquet":
        # A Parquet column has one type: write the conversational rows on their own.
        rows = rows[1:3]
        write_parquet(path, rows)
    else:
        write_jsonl(path, rows)
    out = run_import(path, "trl-preference")
    assert f"{len(rows)} judgments added, {len(rows)} comparisons added" in out
    assert "verdicts: " in out

    by_prompt = {c.prompt: c for c in Comparison.objects.all()}
    sky = by_prompt["What color is the sky?"]
    assert sky.context == [user("What color is the sky?")]
    assert {t for _, t in pairs(sky)} == {"It is blue.", "It is green."}
    judgment = sky.judgments.get()
    chosen_position = [t for _, t in pairs(sky)].index("It is blue.")
    assert judgment.outcome == "ab"[chosen_position]
    assert (judgment.judge, judgment.judge_kind) == ("prefs", "external")

    implicit = by_prompt["2+2?"]
    assert implicit.context == [user("Hi"), bot("Hello"), user("2+2?")]
    assert {t for _, t in pairs(implicit)} == {"4", "5"}
    assert all(c.conversation is None for c in implicit.candidates.all())

    if kind == "parquet":
        return
    assert by_prompt["The sky is"].context == [user("The sky is")]
    binarized = by_prompt["Name a prime."]
    assert binarized.context == [USER], "the prompt's turn must not be doubled"
    judgment = binarized.judgments.get()
    scores = {(s.position, s.value) for s in judgment.scores.all()}
    seven = [t for _, t in pairs(binarized)].index("7")
    assert scores == {(seven, 8.5), (1 - seven, 3.0)}
    assert judgment.metadata["prompt_id"] == "abc123"
    assert judgment.metadata["messages"] == [USER, bot("7")]
    again = run_import(path, "trl-preference")
    assert f"0 judgments added, 0 comparisons added, {len(rows)} already present" in again


def test_trl_preference_refusals_say_what_is_wrong(tmp_path):
    cases = {
        "missing field rejected": {"prompt": "p", "chosen": "a"},
        "no prompt": {"chosen": "a", "rejected": "b"},
        "must end with the assistant's answer": {"prompt": "p", "chosen": [user("x")], "rejected": "b"},
        "margin must be a number": {"prompt": "p", "chosen": "a", "rejected": "b", "margin": "big"},
    }
    for expected, record in cases.items():
        path = write_jsonl(tmp_path / "bad.jsonl", [record])
        assert expected in rejected(path, "trl-preference"), expected


def judge_bijection(first: list[dict], second: list[dict]) -> None:
    """Each export pseudonymizes the judges afresh: the rows must agree on who is the same judge."""
    forward, backward = {}, {}
    for a, b in zip(first, second, strict=True):
        assert forward.setdefault(a["judge"], b["judge"]) == b["judge"]
        assert backward.setdefault(b["judge"], a["judge"]) == a["judge"]


def export(tmp_path: Path, name: str, fmt: str, *extra: str) -> tuple[Path, list[dict]]:
    path = tmp_path / name
    call_command("export_dataset", "--format", fmt, "--output", str(path), *extra, stdout=io.StringIO())
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return path, pq.read_table(path).to_pylist()
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def canonical(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps({k: v for k, v in r.items() if k != "judge"}, sort_keys=True))


def seed_battles(tmp_path: Path) -> None:
    """Two judges disagreeing on one pair, strengths, a rationale, a soft preference, a tie."""
    records = [
        battle(judge="u1", strength=-2, winner="model_a", rationale="7 is prime"),
        battle(judge="u2", winner="model_b"),
        battle(question_id="q2", judge="u1", winner="tie"),
        battle(question_id="q3", judge="u3", winner=None, preference=0.8),
        battle(question_id="q4", judge="u3", winner="model_b", strength=3),
    ]
    run_import(write_jsonl(tmp_path / "battles.jsonl", records), "arena")


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_trl_preference_export_reimports_to_the_same_rows(tmp_path, file_format):
    seed_battles(tmp_path)
    options = ("--margin", "--rationales", "--salt", "s", "--file-format", file_format)
    path, first = export(tmp_path, f"first.{file_format}", "trl-preference", *options)
    assert len(first) == 4  # the tie has no chosen answer
    Comparison.objects.all().delete()

    out = run_import(path, "trl-preference")
    assert "4 judgments added, 3 comparisons added" in out, "the two judges of q1 must meet on one comparison"
    _, second = export(tmp_path, f"second.{file_format}", "trl-preference", *options)
    first, second = canonical(first), canonical(second)
    judge_bijection(first, second)
    strip = [{k: v for k, v in r.items() if k != "judge"} for r in first]
    assert strip == [{k: v for k, v in r.items() if k != "judge"} for r in second]
    assert sorted(r["margin"] for r in second) == pytest.approx([0.0, 1.8, 2.0, 3.0])


def test_trl_kto_export_reimports_to_the_same_rows(tmp_path):
    seed_battles(tmp_path)
    path, first = export(tmp_path, "first.jsonl", "trl-kto", "--rationales", "--salt", "s")
    assert len(first) == 8 and sorted(r["label"] for r in first) == [False] * 4 + [True] * 4
    Comparison.objects.all().delete()

    out = run_import(path, "trl-kto")
    assert "4 judgments added, 3 comparisons added" in out
    assert "verdicts: label 4" in out
    _, second = export(tmp_path, "second.jsonl", "trl-kto", "--rationales", "--salt", "s")
    first, second = canonical(first), canonical(second)
    judge_bijection(first, second)
    assert [{k: v for k, v in r.items() if k != "judge"} for r in first] == [
        {k: v for k, v in r.items() if k != "judge"} for r in second
    ]


def test_trl_kto_unpaired_rows_are_one_candidate_each(tmp_path):
    rows = [
        {"prompt": [user("Name a prime.")], "completion": [bot("7")], "label": True},
        {"prompt": [user("Name a prime.")], "completion": [bot("9")], "label": False},
        {"prompt": "Capital of France?", "completion": "Paris", "label": "true"},
    ]
    path = write_jsonl(tmp_path / "kto-mix.jsonl", rows)
    out = auto(path)
    assert "format trl-kto " in out and "3 judgments added, 3 comparisons added" in out
    labels = {
        (j.comparison.candidates.get().text, j.metadata["thumbs"]["0"])
        for j in Judgment.objects.select_related("comparison")
    }
    assert labels == {("7", True), ("9", False), ("Paris", True)}

    _, exported = export(tmp_path, "kto.jsonl", "trl-kto")
    assert sorted((r["completion"][0]["content"], r["label"]) for r in exported) == sorted(labels)

    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p", "completion": "c", "label": "maybe"}])
    assert "label must be true or false, got 'maybe'" in rejected(bad, "trl-kto")


def test_auto_tells_trl_from_hh_rlhf(tmp_path):
    rows = preference_rows()
    assert "format trl-preference " in auto(write_jsonl(tmp_path / "a.jsonl", rows[:1]))
    assert "format trl-preference " in auto(write_jsonl(tmp_path / "b.jsonl", rows[2:3]))
    hh = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away"}
    assert "format hh-rlhf " in auto(write_jsonl(tmp_path / "c.jsonl", [hh]))


def test_a_save_to_disk_folder_and_a_folder_of_files_import(tmp_path):
    import datasets

    rows = preference_rows()[1:3]
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    out = run_import(saved, "auto")
    assert "format trl-preference" in out and "2 judgments added, 2 comparisons added" in out
    assert set(Judgment.objects.values_list("judge", flat=True)) == {"saved"}

    # A DatasetDict folder: several splits need --split.
    both = tmp_path / "both"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:1]), "test": datasets.Dataset.from_list(rows[1:])}
    ).save_to_disk(str(both))
    assert "several splits (train, test); choose one with --split" in rejected(both, "trl-preference")
    assert "has no split 'dev'" in rejected(both, "trl-preference", "--split", "dev")
    Comparison.objects.all().delete()
    out = run_import(both, "trl-preference", "--split", "test", "--judge", "crowd")
    assert "1 judgments added" in out

    # A folder of data files goes through load_dataset, the call that reads a Hub dataset.
    folder = tmp_path / "hub-like"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", rows)
    Comparison.objects.all().delete()
    out = run_import(folder, "trl-preference")
    assert "2 judgments added, 2 comparisons added" in out


def test_a_hub_name_offline_is_refused_in_words(tmp_path):
    # The suite runs offline (tests/conftest.py): load_dataset is called and says it cannot fetch.
    message = rejected(Path("nobody-here/no-such-dataset"), "trl-preference")
    assert "cannot read the dataset nobody-here/no-such-dataset" in message
    assert "no-such-file.jsonl: no such file" in rejected(tmp_path / "no-such-file.jsonl", "trl-preference")
