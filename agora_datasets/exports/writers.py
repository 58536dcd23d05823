"""Row writers: JSONL and Parquet, streamed, each into a ``.partial`` file beside its target.

JSONL rows are one compact JSON line each (orjson: UTF-8, no ASCII escapes, keys in schema order or sorted).
Parquet rows are the same lines, ``batch_size`` at a time parsed into the format's explicit schema and
written as a row group, so memory stays bounded and every file of a format has the same columns and types,
even an empty one.

Both hand the slow part to a thread of their own (``Background``): JSONL its 1 MiB blocks, to be written and
added to the file's sha256; Parquet its row groups, to be parsed, encoded and compressed. That work releases
the GIL, so it runs beside the thread that makes the rows instead of after it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

FILE_FORMATS = ("jsonl", "parquet")


def line_options(*, sort_keys: bool = False) -> int:
    """orjson's options for one JSONL line (a writer computes them once, not per row)."""
    return orjson.OPT_APPEND_NEWLINE | (orjson.OPT_SORT_KEYS if sort_keys else 0)


def jsonl_line(row: dict, *, sort_keys: bool = False) -> bytes:
    """One JSONL line: the bytes every way of exporting (file, standard output, job) writes for a row."""
    return orjson.dumps(row, option=line_options(sort_keys=sort_keys))


class Background:
    """Calls ``work`` on each item put, in order, on a thread of its own; a few items wait at most, so
    memory stays bounded. An error in ``work`` is raised by the next ``put`` or by ``close``."""

    def __init__(self, work: Callable[[object], None], *, name: str, depth: int = 8):
        self.work = work
        self.error: BaseException | None = None
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.items.get()) is not None:
            if self.error is None:
                try:
                    self.work(item)
                except BaseException as error:
                    self.error = error

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.items.put(item)

    def close(self) -> None:
        """Wait for every item put so far; raise the error one of them met."""
        if self.thread.is_alive():
            self.items.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


class _LineBlocks:
    """What both writers do with rows: each becomes one JSON line, the lines are gathered until
    ``_block_full()``, and each block goes to ``_write_block`` on the writer's thread. Closing hands
    over the last block, waits for the thread, then closes the file (``_file_open``/``_file_close``),
    whatever failed on the way. A writer defines those four and calls ``_start``."""

    def _start(self, *, sort_keys: bool, name: str, depth: int = 8) -> None:
        self.rows, self.size = 0, 0
        self.lines: list[bytes] = []
        self.options = line_options(sort_keys=sort_keys)
        self.background = Background(self._write_block, name=name, depth=depth)

    def write(self, row: dict) -> None:
        line = orjson.dumps(row, option=self.options)
        self.lines.append(line)
        self.size += len(line)
        self.rows += 1
        if self._block_full():
            self._flush()

    def _flush(self) -> None:
        if self.lines:
            self.background.put(b"".join(self.lines))
            self.lines, self.size = [], 0

    def close(self) -> None:
        try:
            if self._file_open():
                self._flush()
        finally:
            try:
                self.background.close()
            finally:
                self._file_close()


class JsonlWriter(_LineBlocks):
    """Lines gathered into blocks of about 1 MiB, each written and hashed on the writer's thread."""

    BLOCK_BYTES = 1 << 20

    def __init__(self, path: Path, schema: pa.Schema | None, *, sort_keys: bool = False, batch_size: int = 1000):
        self.path = path
        self.handle = open(path, "wb")
        self.digest = hashlib.sha256()
        self._start(sort_keys=sort_keys, name="jsonl-writer")

    def _block_full(self) -> bool:
        return self.size >= self.BLOCK_BYTES

    def _write_block(self, block: bytes) -> None:
        self.handle.write(block)
        self.digest.update(block)

    def _file_open(self) -> bool:
        return not self.handle.closed

    def _file_close(self) -> None:
        self.handle.close()

    @property
    def sha256(self) -> str:
        """The written file's checksum (once closed), hashed on the way out: the file is never read back."""
        return self.digest.hexdigest()


class ParquetWriter(_LineBlocks):
    """Rows become JSON lines, as for JSONL (so the texts stay the JSON literals PostgreSQL wrote, never
    Python strings), and every ``batch_size`` lines one row group: on the writer's thread, pyarrow's JSON
    reader parses them into the format's schema and the Parquet writer compresses them, neither holding the
    GIL. A row with a field the schema lacks is an error, not a silently dropped column."""

    def __init__(self, path: Path, schema: pa.Schema, *, sort_keys: bool = False, batch_size: int = 1000):
        self.path, self.schema, self.batch_size = path, schema, batch_size
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.parse_options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        # Columns come from the schema, not the lines' key order: no sorting.
        self._start(sort_keys=False, name="parquet-writer", depth=4)

    def _block_full(self) -> bool:
        return len(self.lines) >= self.batch_size

    def _write_block(self, block: bytes) -> None:
        # One parse block for the whole group: a line longer than the reader's block would fail.
        options = pa_json.ReadOptions(use_threads=False, block_size=len(block) + 1)
        try:
            table = pa_json.read_json(pa.BufferReader(block), read_options=options, parse_options=self.parse_options)
        except pa.ArrowInvalid as error:
            raise pa.ArrowInvalid(f"a row does not fit the Parquet columns {self.schema.names}: {error}") from None
        self.writer.write_table(table)

    def _file_open(self) -> bool:
        return self.writer.is_open

    def _file_close(self) -> None:
        self.writer.close()

    @property
    def sha256(self) -> str:
        return sha256_of(self.path)


WRITERS = {"jsonl": JsonlWriter, "parquet": ParquetWriter}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
