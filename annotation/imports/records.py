"""Reading records from files, one at a time, each with where it came from.

Readers never hold a whole file: JSONL and CSV go line by line, a JSON array
through ijson. A line longer than ``MAX_LINE_BYTES`` is skipped without being
read into memory and reported by number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ijson

MAX_LINE_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


class RowError(Exception):
    """A record that cannot be imported; the message says why, for a person."""


@dataclass
class Record:
    line: int  # 1-based line (JSONL, CSV) or record number (JSON array)
    data: dict | None
    error: str | None = None
    position: int = 0  # bytes read so far, for progress


def read_json_records(path: Path) -> Iterator[Record]:
    """JSONL, or a single JSON array of objects (as FastChat publishes battles)."""
    with open(path, "rb") as handle:
        yield from read_json_handle(handle)


def read_json_handle(handle) -> Iterator[Record]:
    """The same from an open binary file that can seek (an upload or a request body spooled to disk)."""
    first = _first_significant_byte(handle)
    handle.seek(0)
    if first == b"[":
        yield from _read_json_array(handle)
    else:
        yield from read_jsonl_lines(handle)


def _first_significant_byte(handle) -> bytes:
    while True:
        chunk = handle.read(4096)
        if not chunk:
            return b""
        stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
        if stripped:
            return stripped[:1]


def read_jsonl_lines(handle) -> Iterator[Record]:
    number = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of the line in chunks: a 100 MB line costs no memory.
            while True:
                rest = handle.readline(_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Record(
                number,
                None,
                f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MB; split the record or drop it",
                handle.tell(),
            )
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except UnicodeDecodeError:
            yield Record(number, None, "not UTF-8 text", handle.tell())
            continue
        except json.JSONDecodeError as error:
            hint = " (the file looks truncated)" if not line.endswith(b"\n") else ""
            yield Record(number, None, f"invalid JSON: {error.msg} at column {error.colno}{hint}", handle.tell())
            continue
        if not isinstance(data, dict):
            yield Record(number, None, f"expected a JSON object, got {type(data).__name__}", handle.tell())
            continue
        yield Record(number, data, None, handle.tell())


def _read_json_array(handle) -> Iterator[Record]:
    number = 0
    try:
        for item in ijson.items(handle, "item", use_float=True):
            number += 1
            if not isinstance(item, dict):
                yield Record(number, None, f"record {number}: expected a JSON object", handle.tell())
            else:
                yield Record(number, item, None, handle.tell())
    except ijson.JSONError as error:
        handle.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b"")) + 1
        yield Record(
            lines,
            None,
            f"invalid JSON after record {number}: {error} (the file looks truncated or malformed)",
            handle.tell(),
        )


def read_csv_records(path: Path) -> Iterator[Record]:
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        reader = csv.DictReader(text)
        try:
            for row in reader:
                if None in row:
                    yield Record(reader.line_num, None, "more values than columns in the header", raw.tell())
                    continue
                missing = [k for k, v in row.items() if v is None]
                if missing:
                    yield Record(reader.line_num, None, f"missing values for {', '.join(missing)}", raw.tell())
                    continue
                yield Record(reader.line_num, row, None, raw.tell())
        except (csv.Error, UnicodeDecodeError) as error:
            yield Record(reader.line_num + 1, None, f"unreadable CSV: {error}", raw.tell())
