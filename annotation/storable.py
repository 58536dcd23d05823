"""What PostgreSQL can hold: the one check every form, import and query parameter runs on untrusted values.

Text: PostgreSQL refuses the NUL character in ``text`` columns and in ``jsonb`` strings, and UTF-8
cannot encode an unpaired surrogate (JSON's ``"\\ud800"``), so psycopg fails before the row reaches
the server. Both are refused here, with the character and where it is, so a person can fix it;
valid text is never altered (no silent stripping of what someone wrote). Tabs, newlines, other
control characters and bidirectional overrides are stored as they are and escaped on display.

Numbers: a column's integer range (a ``PositiveIntegerField`` is PostgreSQL's ``integer``), and
JSON numbers that are finite (``jsonb`` has no NaN or infinity).
"""

from __future__ import annotations

import json
import math
import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

INT32_MAX = 2**31 - 1
SMALLINT_MAX = 2**15 - 1


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store ``value``, in words; None when it can."""
    if "\x00" in value:
        return f"contains a NUL character (at position {value.index(chr(0)) + 1}), which cannot be stored"
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            return (
                f"contains an unpaired surrogate (U+{ord(char):04X} at position {index + 1}), "
                "which is not valid Unicode text"
            )
    return None


def surrogate_free(value: str) -> bool:
    # Fast path: a string that encodes as UTF-8 has no unpaired surrogate.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text_problem(value: str) -> str | None:
    """``text_problem`` with the common case (clean text) at the cost of one encode."""
    if "\x00" not in value and surrogate_free(value):
        return None
    return text_problem(value)


def text_refusal(value: str, *, what: str, max_chars: int | None = None) -> str | None:
    """The sentence refusing ``value`` as ``what`` ("the rationale"), or None when it can be stored as it is."""
    if max_chars is not None and len(value) > max_chars:
        return f"{what} is too long ({len(value):,} characters; at most {max_chars:,})"
    problem = storable_text_problem(value)
    return f"{what} {problem}" if problem else None


def int_refusal(text: str | None, *, what: str, low: int = 0, high: int = INT32_MAX) -> tuple[int | None, str | None]:
    """A whole number given as text (empty = none): (value, None), or (None, the sentence refusing it)."""
    text = (text or "").strip()
    if not text:
        return None, None
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", text):
        return None, f"{what} must be a whole number from {low:,} to {high:,}"
    value = int(text)
    if not low <= value <= high:
        return None, f"{what} must be from {low:,} to {high:,}"
    return value, None


# One encoder: json.dumps builds a new one per call whenever an option differs from its defaults.
_STRICT_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def json_storable(value) -> bool:
    """True when ``json_problem`` would find nothing, told by serializing once in C: a NUL comes out
    escaped, a lone surrogate as it is, a non-finite number as an error. False means "look closer"
    (``json_problem`` says what is wrong, or that nothing is)."""
    try:
        text = _STRICT_JSON.encode(value)
    except (TypeError, ValueError):
        return False
    return "\\u0000" not in text and surrogate_free(text)


def json_problem(value, where: str = "") -> str | None:
    """Why a JSON value cannot go into a ``jsonb`` column (a NUL or surrogate in any string or key,
    a number that is not finite); None when it can. ``where`` names the place in the value."""
    if isinstance(value, str):
        problem = storable_text_problem(value)
        return f"{where or 'the value'} {problem}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where or 'the value'} is {value}, which JSON cannot hold"
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            problem = json_problem(key, f"the key of {place}") if isinstance(key, str) else None
            problem = problem or json_problem(item, place)
            if problem:
                return problem
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = json_problem(item, f"{where}[{index}]")
            if problem:
                return problem
    return None


@deconstructible
class StorableTextValidator:
    """A form field validator: refuses text the database cannot store, saying which character and where."""

    code = "unstorable"

    def __call__(self, value) -> None:
        if isinstance(value, str):
            problem = storable_text_problem(value)
            if problem:
                raise ValidationError(f"This text {problem}.", code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, StorableTextValidator)
