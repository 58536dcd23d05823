"""JSON lines in both directions, and the records a caller may hand over.

Pushed bodies are JSON lines (``application/x-ndjson``): the server reads them a line at a time and reports a
bad record by its line number, which is the record's 1-based place in the batch. A body is made lazily from the
batch's records, so a large batch is never held twice (as records and as one big string).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

try:  # optional: several times faster on large pushes; the output is the same JSON
    import orjson
except ImportError:  # pragma: no cover - depends on what is installed
    orjson = None

CONTENT_TYPE = "application/x-ndjson"
# Lines are sent in chunks of about this size: one chunk a line would make a write (and a chunk header) per
# record, one chunk a batch would hold the whole body in memory.
CHUNK_BYTES = 256 * 1024


def _plain(value: Any) -> Any:
    """What JSON cannot say as it is: numpy values and arrays (from pandas or datasets), dates, sets."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def dumps_line(record: dict) -> bytes:
    """One record as one line of JSON, UTF-8, ending in a newline."""
    if orjson is not None:
        return orjson.dumps(record, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    return json.dumps(record, ensure_ascii=False, default=_plain).encode() + b"\n"


def body(records: list[dict]) -> Callable[[], Iterator[bytes]]:
    """A maker of the body for these records: each call starts it afresh, so a retried request sends it whole."""

    def chunks() -> Iterator[bytes]:
        buffer = bytearray()
        for record in records:
            buffer += dumps_line(record)
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)

    return chunks


def loads_lines(lines: Iterable[str]) -> Iterator[dict]:
    """The objects of a JSON lines response, skipping blank lines."""
    for line in lines:
        if line.strip():
            yield json.loads(line)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def records_of(data: Any) -> Iterator[dict]:
    """The records of a list (or any iterable) of dicts, a ``datasets.Dataset`` or a pandas DataFrame.

    A table has every column in every row, so a row lacks a field as None (or NaN, in pandas). Such fields are
    left out of the record: to the API an absent field and a null one mean the same, except that a null
    ``messages`` or ``prompt`` would be refused where an absent one falls back on the other."""
    if hasattr(data, "to_dict") and hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame
        rows: Iterable[Any] = data.to_dict(orient="records")
    else:  # a list, a generator, a datasets.Dataset (iterating one yields its rows as dicts)
        rows = data
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise TypeError(f"record {number} is a {type(row).__name__}, not a dict")
        yield {key: value for key, value in row.items() if not _missing(value)}


def batches(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """The records in lists of ``size``, read from ``records`` one list at a time."""
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
