"""Reading an AI judge's verdict (the model calls are tested in tests/arena/test_pre_annotation.py)."""

from __future__ import annotations

from annotation.ai_judge import parse_verdict


def test_verdicts_are_parsed_from_the_last_marker():
    assert parse_verdict("A looks good [[A]]") == 1.0
    assert parse_verdict("first [[A]] then, thinking again, [[B]]") == 0.0
    assert parse_verdict("a tie [[C]]") == 0.5
    assert parse_verdict("no verdict") is None
