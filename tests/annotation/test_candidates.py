"""What is derived from a candidate's text when it is stored: the style features."""

from __future__ import annotations

from annotation.candidates import approximate_tokens, markdown_counts


def test_markdown_counts_skip_code_fences():
    text = "# Title\n\n## Part\n- one\n- two\n1. first\n**bold** and __also__\n```\n# not a header\n- nor a list\n```\n"
    assert markdown_counts(text) == (2, 3, 2)
    assert approximate_tokens("Hello, world!") == 4
