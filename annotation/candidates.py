"""What is derived from a candidate's text when it is stored.

The style features of the rating engine's style control (ratings/engine/style.py) are counted
here, in plain Python: answer tokens, and Markdown headers, list items and bold spans.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def markdown_counts(text: str) -> tuple[int, int, int]:
    """(headers, list items, bold spans) outside code fences, as FastChat counts them."""
    # Each count is skipped where its marker cannot occur: most answers have little Markdown, and an
    # import stores this for every candidate.
    prose = _FENCE.sub("", text) if "```" in text else text
    headers = len(_HEADER.findall(prose)) if "#" in prose else 0
    ordered = len(_ORDERED.findall(prose)) if "." in prose else 0
    unordered = len(_UNORDERED.findall(prose)) if any(m in prose for m in "-*+") else 0
    stars = len(_BOLD_STARS.findall(prose)) if "**" in prose else 0
    underscores = len(_BOLD_UNDERSCORES.findall(prose)) if "__" in prose else 0
    return headers, ordered + unordered, stars + underscores


def approximate_tokens(text: str) -> int:
    """Words and punctuation marks: a tokenizer-free stand-in when a backend did not report tokens."""
    return len(_TOKEN.findall(text))


STYLE_FIELDS = ("style_tokens", "style_headers", "style_lists", "style_bold")


def style_values(text: str, output_tokens: int | None = None) -> tuple[int, int, int, int]:
    """The Candidate style columns, in STYLE_FIELDS order: answer tokens (the backend's count when it
    gave one) and Markdown counts."""
    tokens = output_tokens if output_tokens is not None else approximate_tokens(text)
    return (tokens, *markdown_counts(text))


def style_fields(text: str, output_tokens: int | None = None) -> dict[str, int]:
    return dict(zip(STYLE_FIELDS, style_values(text, output_tokens), strict=True))
