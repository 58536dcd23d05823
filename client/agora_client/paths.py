"""Values put into URL paths."""

from __future__ import annotations

from urllib.parse import quote


def segment(value: str | int) -> str:
    """A value as one segment of a path, escaped: an item id or a user name may hold ``?``, ``#`` or spaces."""
    return quote(str(value), safe="")
