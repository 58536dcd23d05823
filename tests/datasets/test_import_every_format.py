"""Every import format, from its example record: imports once (and only once), is recognised by
--format auto, goes into a fitted board, and comes back from the raw export to the same rows."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from agora_datasets.imports.examples import EXAMPLES, NEEDS_ITS_FOLDER, example_rows
from agora_datasets.imports.service import FORMATS
from annotation.models import Comparison, Judgment
from tests.datasets.test_import import run_import, write_jsonl
from tests.datasets.test_round_trip import export_raw, reimport, snapshot

pytestmark = pytest.mark.django_db

FILE_FORMATS = sorted(set(FORMATS) - set(NEEDS_ITS_FOLDER))


def test_every_format_has_an_example():
    assert set(EXAMPLES) == set(FILE_FORMATS), "add a record in the release's shape to imports/examples.py"


@pytest.mark.parametrize("format", FILE_FORMATS)
def test_each_example_imports_once_and_is_recognised(format, tmp_path):
    path = write_jsonl(tmp_path / f"{format}-example.jsonl", example_rows(format))
    out = run_import(path, "auto")
    assert f": format {format} (" in out
    assert "1 judgments added" in out
    assert "verdicts: " in out
    assert "1 already present" in run_import(path, format)


def test_all_formats_fit_a_board_and_round_trip_through_the_raw_export(tmp_path):
    for format in FILE_FORMATS:
        run_import(write_jsonl(tmp_path / f"{format}.jsonl", example_rows(format)), format)
    assert Judgment.objects.count() == len(FILE_FORMATS)
    assert Comparison.objects.values("key").distinct().count() == len(FILE_FORMATS)

    fitted = io.StringIO()
    call_command("fit_ratings", "--bootstrap", "0", stdout=fitted)
    board = fitted.getvalue()
    # The pairwise verdicts between two different models go into the board (HH-RLHF names no
    # model); a ranking, scores alone or a KTO label are not pairwise votes.
    pairwise = sum(
        1
        for j in Judgment.objects.filter(outcome__isnull=False).prefetch_related("comparison__candidates")
        if len({c.model for c in j.comparison.candidates.all()}) == 2
    )
    assert pairwise >= 6
    assert board.startswith(f"{pairwise} judgments,")
    for model in ("alpha", "beta", "gpt-4-0314", "claude-3-opus-20240229", "chatglm-6b", "koala-13b"):
        assert model in board

    before = snapshot()
    first = export_raw(tmp_path / "raw.jsonl")
    reimport(tmp_path / "raw.jsonl")
    assert snapshot() == before
    assert export_raw(tmp_path / "again.jsonl") == first
