"""Records from wherever people keep a dataset: a JSON, JSON lines, CSV or Parquet file, a folder
saved with ``datasets``' ``save_to_disk``, a folder of data files, or a Hub name.

JSON and JSONL go through annotation's streaming reader, CSV line by line, Parquet one record
batch at a time (``BATCH_ROWS`` rows), so memory stays bounded whatever the file's size. A
Parquet record's number is its row, counted from 1. Values Parquet holds that JSON does not
(times, decimals, bytes) are turned into text or numbers here, so they fit a ``jsonb`` column.

A ``DatasetSource`` (a folder or a Hub name) is read through Hugging Face ``datasets``: a
``save_to_disk`` folder with ``load_from_disk`` (memory-mapped Arrow, read a batch at a time),
anything else with ``load_dataset(..., streaming=True)``, the very call that fetches a Hub
dataset; a local folder of data files takes the same path without the network.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from annotation.imports.records import Record, RowError, read_csv_records, read_json_records, read_jsonl_lines
from annotation.imports.rows import check_label

BATCH_ROWS = 1024
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".gz": "gzip"}


# What a Hub dataset's name looks like ("owner/name" or "name"): no file suffix, no path parts.
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


@dataclass(frozen=True)
class DatasetSource:
    """A Hugging Face dataset: a local folder, or a name ``load_dataset`` resolves on the Hub."""

    location: str
    split: str | None = None

    @property
    def name(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]

    @property
    def saved(self) -> bool:
        folder = Path(self.location)
        return folder.is_dir() and any((folder / marker).is_file() for marker in _SAVED_MARKERS)

    def __str__(self) -> str:
        return self.location + (f" (split {self.split})" if self.split else "")


def source_for(location: str, split: str | None = None) -> Path | DatasetSource:
    """A file's Path, or a DatasetSource for a folder or a Hub name; FileNotFoundError for a file
    path that names nothing here."""
    path = Path(location)
    if path.is_file():
        if split:
            raise ValueError("--split goes with a dataset folder or a Hub name, not with a file")
        return path
    if path.is_dir() or (_HUB_NAME.match(location) and path.suffix.lower() not in {*SUFFIXES, ".json", ".jsonl"}):
        return DatasetSource(location, split)
    raise FileNotFoundError(f"{location}: no such file")


def file_kind(path: Path) -> str:
    """``dataset`` (a DatasetSource), ``parquet``, ``csv`` or ``json`` (JSON array or JSON lines)."""
    if isinstance(path, DatasetSource):
        return "dataset"
    return SUFFIXES.get(Path(path).suffix.lower(), "json")


def read_records(path: Path | DatasetSource) -> Iterator[Record]:
    kind = file_kind(path)
    if kind == "dataset":
        return read_dataset_records(path)
    if kind == "gzip":
        return read_gzip_records(path)
    if kind == "parquet":
        return read_parquet_records(path)
    if kind == "csv":
        return read_csv_records(path)
    return read_json_records(path)


class FileFormat:
    """A format read from any source ``read_records`` takes; subclasses say how to parse a record."""

    name = ""

    def __init__(self, path: Path | DatasetSource):
        self.path = path

    def records(self) -> Iterator[Record]:
        return read_records(self.path)


def judge_from_path(path: Path, judge: str | None) -> str:
    """``--judge`` when given, else the file's (or dataset's) name without its extensions."""
    if judge:
        return judge
    if isinstance(path, DatasetSource):
        return path.name
    name = Path(path).name
    for suffix in reversed(Path(path).suffixes):
        if suffix.lower() in {".jsonl", ".json", ".csv", ".parquet", ".pq", ".gz"}:
            name = name[: -len(suffix)]
    return name or Path(path).name


class JudgedFileFormat(FileFormat):
    """A format whose records name no judge: ``--judge``, else the file's or dataset's name."""

    takes_judge = True

    def __init__(self, path: Path | DatasetSource, judge: str | None = None):
        super().__init__(path)
        self.judge = judge_from_path(path, judge)

    def judge_label(self) -> str:
        """The judge every record is written under, checked per record like any other label."""
        return check_label(self.judge, "judge (from --judge or the file's name)")


def first_record(path: Path) -> Record | None:
    """The file's first record (or the error that stops it), for recognising the format."""
    records = read_records(path)
    try:
        return next(iter(records), None)
    finally:
        close = getattr(records, "close", None)
        if close:
            close()


class _Gunzipped:
    """Lines of a gzipped file, telling how far the compressed file has been read (progress)."""

    def __init__(self, raw):
        self.raw, self.stream, self.lines = raw, gzip.GzipFile(fileobj=raw), 0

    def readline(self, size: int = -1) -> bytes:
        line = self.stream.readline(size)
        self.lines += line.endswith(b"\n")
        return line

    def tell(self) -> int:
        return self.raw.tell()


def read_gzip_records(path: Path) -> Iterator[Record]:
    """Gzipped JSON lines (as HelpSteer2 and others are published)."""
    with open(path, "rb") as raw:
        handle = _Gunzipped(raw)
        try:
            first = handle.stream.peek(1)[:1]
            if first == b"[":
                yield Record(1, None, "a gzipped JSON array is not read; gunzip it, or write JSON lines", 0)
                return
            yield from read_jsonl_lines(handle)
        except (OSError, EOFError, zlib.error) as error:
            yield Record(handle.lines + 1, None, f"unreadable gzip data after line {handle.lines}: {error}", raw.tell())


def read_parquet_records(path: Path) -> Iterator[Record]:
    import pyarrow as pa  # only where a Parquet file is read
    import pyarrow.parquet as pq

    try:
        # Read column chunk by chunk, in this thread: buffering whole row groups ahead (pre_buffer) and
        # decoding columns on a thread pool doubled the memory a 1M-row import peaks at.
        parquet = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        yield Record(0, None, f"unreadable Parquet file: {error}", 0)
        return
    size = max(Path(path).stat().st_size, 1)
    total = max(parquet.metadata.num_rows, 1)
    number = 0
    # Columns of strings, numbers, booleans, lists and structs of them come out of to_pylist as JSON
    # holds them; only the others (times, decimals, bytes, maps) are walked by _plain.
    plain = all(_json_type(column.type) for column in parquet.schema_arrow)
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
            for row in batch.to_pylist():
                number += 1
                if plain:
                    yield Record(number, row, None, size * number // total)
                    continue
                try:
                    data = {str(k): _plain(v) for k, v in row.items()}
                except ValueError as error:
                    yield Record(number, None, str(error), size * number // total)
                    continue
                yield Record(number, data, None, size * number // total)
    except (pa.ArrowException, OSError) as error:
        yield Record(number + 1, None, f"unreadable Parquet data after row {number}: {error}", size)


def read_dataset_records(source: DatasetSource) -> Iterator[Record]:
    import datasets  # only where a dataset folder or a Hub name is read

    try:
        if source.saved:
            dataset = datasets.load_from_disk(source.location)
        else:
            dataset = datasets.load_dataset(source.location, split=source.split, streaming=True)
        if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
            dataset = _one_split(dataset, source)
    except _DatasetRefusal as error:
        yield Record(0, None, str(error), 0)
        return
    except Exception as error:  # noqa: BLE001 - datasets raises many kinds; each is said as it is
        yield Record(0, None, f"cannot read the dataset {source}: {type(error).__name__}: {error}", 0)
        return
    total = getattr(dataset, "num_rows", None) or 0
    number = 0
    for batch in dataset.iter(batch_size=BATCH_ROWS):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns), strict=True):
            number += 1
            position = number * 1000 // total if total else 0  # progress in thousandths of the rows
            try:
                yield Record(number, {str(c): _plain(v) for c, v in zip(columns, values, strict=True)}, None, position)
            except ValueError as error:
                yield Record(number, None, str(error), position)


class _DatasetRefusal(ValueError):
    pass


def _one_split(dataset, source: DatasetSource):
    splits = list(dataset)
    if source.split:
        if source.split not in dataset:
            raise _DatasetRefusal(f"{source.location} has no split {source.split!r}; its splits: {', '.join(splits)}")
        return dataset[source.split]
    if len(splits) == 1:
        return dataset[splits[0]]
    raise _DatasetRefusal(f"{source.location} has several splits ({', '.join(splits)}); choose one with --split")


def _json_type(arrow_type) -> bool:
    """Whether pyarrow gives this type's values as JSON would hold them (str, int, float, bool, None,
    and lists and dicts of those)."""
    import pyarrow.types as t

    if t.is_struct(arrow_type):
        return all(_json_type(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return _json_type(arrow_type.value_type)
    return any(
        check(arrow_type)
        for check in (t.is_string, t.is_large_string, t.is_boolean, t.is_integer, t.is_float32, t.is_float64, t.is_null)
    )


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


def require_fields(data: dict, names) -> None:
    """RowError naming every field of ``names`` the record lacks or leaves empty."""
    missing = [name for name in names if data.get(name) in (None, "")]
    if missing:
        raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def decoded(value, name: str):
    """A list or object that a CSV cell (or a release that stores JSON as text) holds as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise RowError(f"{name} must be JSON, got text that is not ({error.msg} at column {error.colno})") from None
