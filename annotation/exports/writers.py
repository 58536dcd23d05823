"""Row writers: JSONL and Parquet, streamed, each into a ``.partial`` file beside its target.

JSONL rows are one ``json.dumps`` line each (UTF-8, keys in schema order). Parquet rows are buffered
``batch_size`` at a time and written as row groups with the format's explicit schema, so memory stays
bounded and every file of a format has the same columns and types, even an empty one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FILE_FORMATS = ("jsonl", "parquet")


class JsonlWriter:
    def __init__(self, path: Path, schema: pa.Schema | None, *, sort_keys: bool = False, batch_size: int = 1000):
        self.path, self.rows, self.sort_keys = path, 0, sort_keys
        self.handle = open(path, "w", encoding="utf-8", newline="\n")
        # json.dumps with these arguments, without building an encoder for every row.
        self.encode = json.JSONEncoder(ensure_ascii=False, sort_keys=sort_keys).encode

    def write(self, row: dict) -> None:
        self.handle.write(self.encode(row) + "\n")
        self.rows += 1

    def close(self) -> None:
        self.handle.close()


class ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema, *, sort_keys: bool = False, batch_size: int = 1000):
        self.path, self.rows, self.schema, self.batch_size = path, 0, schema, batch_size
        self.buffer: list[dict] = []
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, row: dict) -> None:
        self.buffer.append(row)
        self.rows += 1
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


WRITERS = {"jsonl": JsonlWriter, "parquet": ParquetWriter}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
