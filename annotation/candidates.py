"""What is derived from a candidate's text when it is stored."""

from __future__ import annotations

from ratings.engine.style import approximate_tokens, markdown_counts


def style_fields(text: str, output_tokens: int | None = None) -> dict[str, int]:
    """The Candidate style columns: answer tokens (the backend's count when it gave one) and Markdown counts."""
    headers, lists, bold = markdown_counts(text)
    return {
        "style_tokens": output_tokens if output_tokens is not None else approximate_tokens(text),
        "style_headers": headers,
        "style_lists": lists,
        "style_bold": bold,
    }
