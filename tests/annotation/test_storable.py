"""json_storable, the fast check before json_problem: it never passes a value json_problem refuses
(it may send a good one on to json_problem: a backslash before "u0000" written as text)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.imports.records import RowError
from annotation.imports.rows import check_json
from annotation.storable import json_problem, json_storable

# Strings with the characters that matter: NUL, a lone surrogate, a backslash, "u0000" as text.
TEXT = st.lists(st.sampled_from(["a", "\x00", "\ud800", "\\", "u0000", "é", "\n"]), max_size=6).map("".join)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_json_storable_passes_only_what_json_problem_passes(value):
    if json_storable(value):
        assert json_problem(value) is None
    if json_problem(value) is not None:
        with pytest.raises(RowError):
            check_json(value, "metadata")
    else:
        assert check_json(value, "metadata") is value


def test_what_json_storable_refuses():
    assert json_storable({"a": ["x", 1.5, None, {"b": "é"}]})
    assert not json_storable({"b": "\\u0000 as text"}) and json_problem({"b": "\\u0000 as text"}) is None
    assert not json_storable({"a": "x\x00"})
    assert not json_storable({"k\x00": 1})
    assert not json_storable(["\ud800"])
    assert not json_storable({"a": math.inf})
