"""What is derived from a candidate's text when it is stored: the style features."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.candidates import (
    _BOLD_STARS,
    _BOLD_UNDERSCORES,
    _FENCE,
    _HEADER,
    _ORDERED,
    _UNORDERED,
    approximate_tokens,
    markdown_counts,
)


def test_markdown_counts_skip_code_fences():
    text = "# Title\n\n## Part\n- one\n- two\n1. first\n**bold** and __also__\n```\n# not a header\n- nor a list\n```\n"
    assert markdown_counts(text) == (2, 3, 2)
    assert approximate_tokens("Hello, world!") == 4


def _counts_in_full(text: str) -> tuple[int, int, int]:
    """The counts without markdown_counts' shortcuts: every pattern run on every text."""
    prose = _FENCE.sub("", text)
    return (
        len(_HEADER.findall(prose)),
        len(_ORDERED.findall(prose)) + len(_UNORDERED.findall(prose)),
        len(_BOLD_STARS.findall(prose)) + len(_BOLD_UNDERSCORES.findall(prose)),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="#-*+_.`1 a\n\t", max_size=80))
def test_markdown_counts_shortcuts_change_no_count(text):
    assert markdown_counts(text) == _counts_in_full(text)
