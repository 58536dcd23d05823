"""Anthropic-style transcripts ("\\n\\nHuman: …\\n\\nAssistant: …"), as HH-RLHF and Nectar write them."""

from __future__ import annotations

import re

from annotation.imports.records import RowError
from annotation.imports.rows import check_text

_MARKER = re.compile(r"\n\n(Human|Assistant):[ ]?")
ROLES = {"Human": "user", "Assistant": "assistant"}


def transcript_turns(text, name: str) -> list[dict]:
    """The transcript's turns as messages; an empty last ``Assistant:`` (a prompt awaiting its
    answer) is dropped."""
    text = check_text(text, name)
    parts = _MARKER.split(text)
    if parts[0].strip():
        raise RowError(f'{name} must start with "\\n\\nHuman: " (it starts {parts[0][:30]!r})')
    messages = [
        {"role": ROLES[role], "content": content} for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"].strip():
        messages.pop()
    if not messages:
        raise RowError(f"{name} has no Human or Assistant turn")
    return messages
