"""Records from a file of any input kind the new readers take: JSON, JSON lines, CSV or Parquet.

JSON and JSONL go through annotation's streaming reader, CSV line by line, Parquet one record
batch at a time (``BATCH_ROWS`` rows), so memory stays bounded whatever the file's size. A
Parquet record's number is its row, counted from 1. Values Parquet holds that JSON does not
(times, decimals, bytes) are turned into text or numbers here, so they fit a ``jsonb`` column.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path

from annotation.imports.records import Record, RowError, read_csv_records, read_json_records

BATCH_ROWS = 1024
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def file_kind(path: Path) -> str:
    """``parquet``, ``csv`` or ``json`` (JSON array or JSON lines), from the file's name."""
    return SUFFIXES.get(Path(path).suffix.lower(), "json")


def read_records(path: Path) -> Iterator[Record]:
    kind = file_kind(path)
    if kind == "parquet":
        return read_parquet_records(path)
    if kind == "csv":
        return read_csv_records(path)
    return read_json_records(path)


def first_record(path: Path) -> Record | None:
    """The file's first record (or the error that stops it), for recognising the format."""
    records = read_records(path)
    try:
        return next(iter(records), None)
    finally:
        close = getattr(records, "close", None)
        if close:
            close()


def read_parquet_records(path: Path) -> Iterator[Record]:
    import pyarrow as pa  # only where a Parquet file is read
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        yield Record(0, None, f"unreadable Parquet file: {error}", 0)
        return
    size = max(Path(path).stat().st_size, 1)
    total = max(parquet.metadata.num_rows, 1)
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                try:
                    data = {str(k): _plain(v) for k, v in row.items()}
                except ValueError as error:
                    yield Record(number, None, str(error), size * number // total)
                    continue
                yield Record(number, data, None, size * number // total)
    except (pa.ArrowException, OSError) as error:
        yield Record(number + 1, None, f"unreadable Parquet data after row {number}: {error}", size)


def _plain(value):
    """A Parquet value as JSON would hold it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # A Parquet map arrives as a list of (key, value) pairs.
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode("ascii")
    return value


def decoded(value, name: str):
    """A list or object that a CSV cell (or a release that stores JSON as text) holds as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise RowError(f"{name} must be JSON, got text that is not ({error.msg} at column {error.colno})") from None
