"""Copilot Arena completion battles import as lmarena/copilot-arena releases them
(data/copilot_arena_examples_v1.csv), built here in that shape, nothing downloaded."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from agora_datasets.imports.copilot_arena import CURSOR
from annotation.models import Comparison, Judgment
from tests.datasets.test_import import rejected, run_import, write_jsonl
from tests.datasets.test_import_public import write_csv, write_parquet

pytestmark = pytest.mark.django_db

COLUMNS = ["prefix", "suffix", "model_a", "model_b", "acceptedIndex", "completion_a", "completion_b"]


def battles() -> list[dict]:
    """Three rows in the release's column order: multi-line code with quotes, an empty suffix, B accepted."""
    return [
        {
            "prefix": "<script>\n    function getRandomNumber(min,max) {\n      return Math.floor(Math.random()*",
            "suffix": ")\n    }\n  </script>\n",
            "model_a": "gpt-4o-2024-08-06",
            "model_b": "gemini-1.5-flash-002",
            "acceptedIndex": 0.0,
            "completion_a": "(max-min+1)+min;\n    }",
            "completion_b": "(max-min+1)+min)\n    }\n    let n = getRandomNumber(1,100",
        },
        {
            "prefix": "        else:\n            raise ValueError",
            "suffix": "",
            "model_a": "gemini-1.5-flash-002",
            "model_b": "codestral-2405",
            "acceptedIndex": 0.0,
            "completion_a": '("save_filename_prefix must be specified")',
            "completion_b": '("save_filename_prefix is required")',
        },
        {
            "prefix": "const notAnymber = ",
            "suffix": "",
            "model_a": "llama-3.1-70b-instruct",
            "model_b": "codestral-2405",
            "acceptedIndex": 1.0,
            "completion_a": "   console.log('this is weird');\n};",
            "completion_b": "123;",
        },
    ]


def test_release_csv_becomes_code_in_context_and_accepted_completion(tmp_path):
    path = write_csv(tmp_path / "copilot_arena_examples_v1.csv", battles())
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    out = run_import(path, "copilot-arena")
    assert "3 records, 3 judgments added, 3 comparisons added" in out
    assert "verdicts: A 2, B 1" in out

    first = Judgment.objects.get(comparison__candidates__model="gpt-4o-2024-08-06")
    assert (first.judge, first.judge_kind, first.outcome, first.display_order) == (
        "copilot_arena_examples_v1",
        "external",
        "a",
        None,
    )
    assert first.metadata == {}
    comparison = first.comparison
    code = battles()[0]
    assert comparison.context == [{"role": "user", "content": code["prefix"] + "<CURSOR>" + code["suffix"]}]
    assert comparison.metadata == {
        "dataset": "copilot-arena",
        "prefix": code["prefix"],
        "suffix": code["suffix"],
        "cursor_marker": CURSOR,
    }
    assert [(c.position, c.model, c.text) for c in comparison.candidates.all()] == [
        (0, "gpt-4o-2024-08-06", code["completion_a"]),
        (1, "gemini-1.5-flash-002", code["completion_b"]),
    ]
    assert comparison.key.startswith("copilot-arena:")

    empty_suffix = Comparison.objects.get(candidates__model="gemini-1.5-flash-002", candidates__position=0)
    assert empty_suffix.context[0]["content"] == "        else:\n            raise ValueError<CURSOR>"
    accepted_b = Judgment.objects.get(comparison__candidates__model="llama-3.1-70b-instruct")
    assert accepted_b.outcome == "b"

    assert "0 judgments added, 0 comparisons added, 3 already present" in run_import(path, "copilot-arena")


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_parquet_and_jsonl_with_extra_fields_nulls_and_language(tmp_path, kind):
    rows = battles()
    rows[0] |= {"pairId": "5f2c", "userId": "9a1e0c7b", "timestamp": 1731000000, "language": "javascript"}
    rows[1] |= {"suffix": None, "pairId": "77aa", "userId": "9a1e0c7b", "timestamp": 1731000100, "language": "x" * 51}
    rows[2] |= {"acceptedIndex": 1, "pairId": "e0e0", "userId": "0b3d", "timestamp": 1731000200, "language": None}
    if kind == "parquet":
        path = write_parquet(tmp_path / "battles.parquet", rows)
    else:
        path = write_jsonl(tmp_path / "battles.jsonl", rows)
    out = run_import(path, "copilot-arena", "--judge", "copilot-arena-users")
    assert "3 judgments added" in out
    assert set(Judgment.objects.values_list("judge", flat=True)) == {"copilot-arena-users"}

    js = Judgment.objects.get(comparison__candidates__model="gpt-4o-2024-08-06")
    assert js.comparison.language == "javascript"
    assert js.metadata == {"pairId": "5f2c", "userId": "9a1e0c7b", "timestamp": 1731000000}
    long_language = Judgment.objects.get(
        comparison__candidates__model="gemini-1.5-flash-002", comparison__candidates__position=0
    )
    assert long_language.comparison.language == ""
    assert long_language.metadata["language"] == "x" * 51 and long_language.metadata["null_fields"] == ["suffix"]
    assert long_language.comparison.metadata["suffix"] == ""
    last = Judgment.objects.get(comparison__candidates__model="llama-3.1-70b-instruct")
    assert last.outcome == "b" and last.metadata["language"] is None


def test_bad_rows_are_refused_with_their_line(tmp_path):
    rows = battles()
    rows[0]["acceptedIndex"] = "2.0"
    rows[1]["model_b"] = ""
    rows[2]["completion_b"] = "bad \ud800 text"
    text = rejected(write_jsonl(tmp_path / "battles.jsonl", rows), "copilot-arena")
    assert "line 1: acceptedIndex must be 0 (completion_a) or 1 (completion_b), got '2.0'" in text
    assert "line 2: missing field model_b" in text
    assert "line 3: completion_b contains an unpaired surrogate" in text
    no_suffix = {k: v for k, v in battles()[0].items() if k != "suffix"} | {"acceptedIndex": True}
    text = rejected(write_jsonl(tmp_path / "odd.jsonl", [no_suffix]), "copilot-arena")
    assert "line 1: missing field suffix" in text


def test_auto_recognises_the_release_in_csv_and_parquet(tmp_path):
    for path in (
        write_csv(tmp_path / "copilot_arena_examples_v1.csv", battles()),
        write_parquet(tmp_path / "copilot.parquet", battles()),
    ):
        out = io.StringIO()
        call_command("import_judgments", str(path), "--format", "auto", "--no-progress", stdout=out, stderr=out)
        assert f"{path}: format copilot-arena (its records have " in out.getvalue(), out.getvalue()
    # The same battles from two files: one comparison each, a judgment from each file's judge.
    assert Comparison.objects.count() == 3 and Judgment.objects.count() == 6
