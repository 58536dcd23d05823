"""One export run: the selected groups through a format into one file per split, then the manifest.

``export_rows`` streams ``(split, row)`` pairs; ``export_dataset`` writes them. Every file is written as
``<name>.partial`` beside its target and renamed only when all of them are complete, the manifest last, so
a failed export leaves no half file. Output naming: a file path ``data.jsonl`` is the file itself, or
``data-train.jsonl`` and ``data-test.jsonl`` with a split, its manifest ``data.jsonl.manifest.json``; an
existing folder gets ``<format>.<ext>`` (or ``train.<ext>`` and ``test.<ext>``) and ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from agora_datasets.exports.formats import Format, Options
from agora_datasets.exports.manifest import code_version, manifest_write
from agora_datasets.exports.selection import ExportFilters, groups, judgment_queryset
from agora_datasets.exports.writers import WRITERS
from annotation.models import Score


def score_attributes(filters: ExportFilters) -> tuple[str, ...]:
    """The Score attributes among the selected judgments (the ratings columns)."""
    judgments = judgment_queryset(filters).order_by().values("id")
    return tuple(
        sorted(Score.objects.filter(judgment__in=judgments).order_by().values_list("attribute", flat=True).distinct())
    )


def splits(filters: ExportFilters) -> tuple[str, ...]:
    return ("train", "test") if filters.test_share else ("all",)


def output_paths(output: Path, fmt: Format, file_format: str, filters: ExportFilters) -> tuple[dict, Path]:
    """{split: data file}, and the manifest's path."""
    if output.is_dir():
        names = {s: output / f"{s if s != 'all' else fmt.name}.{file_format}" for s in splits(filters)}
        return names, output / "manifest.json"
    if not output.parent.is_dir():
        raise FileNotFoundError(f"{output.parent}: no such folder")
    names = {
        s: output if s == "all" else output.with_name(f"{output.stem}-{s}{output.suffix}") for s in splits(filters)
    }
    return names, output.with_name(output.name + ".manifest.json")


def export_groups(
    fmt: Format,
    filters: ExportFilters,
    options: Options,
    *,
    chunk_size: int = 2000,
    counts: dict | None = None,
    progress: Callable[[int], None] | None = None,
    json_texts: bool = False,
) -> Iterator[tuple[str, list[dict]]]:
    """(split, the rows of one comparison) in a stable order; ``counts`` (if given) gathers rows, comparisons
    and judgments per source. ``json_texts``: candidate texts as JSON fragments, for the writers (``groups``)."""
    for group in groups(filters, chunk_size=chunk_size, values=fmt.values, json_texts=json_texts):
        rows = list(fmt.rows(group, options))
        if progress is not None:
            progress(1)  # one more comparison done
        if not rows:
            continue
        if counts is not None:
            counts["rows"][group.split] += len(rows)
            counts["comparisons"][group.split] += 1
            by_source = counts["judgments_by_source"][group.split]
            for judgment in group.judgments:
                by_source[judgment.source] += 1
        yield group.split, rows


def export_rows(
    fmt: Format,
    filters: ExportFilters,
    options: Options,
    *,
    chunk_size: int = 2000,
    counts: dict | None = None,
    progress: Callable[[int], None] | None = None,
    json_texts: bool = False,
) -> Iterator[tuple[str, dict]]:
    """(split, row) in a stable order (see ``export_groups``)."""
    for split, rows in export_groups(
        fmt, filters, options, chunk_size=chunk_size, counts=counts, progress=progress, json_texts=json_texts
    ):
        for row in rows:
            yield split, row


def export_dataset(
    fmt: Format,
    filters: ExportFilters,
    options: Options,
    output: Path,
    *,
    file_format: str = "jsonl",
    chunk_size: int = 2000,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the export and its manifest; returns the manifest."""
    targets, manifest_path = output_paths(output, fmt, file_format, filters)
    schema = fmt.schema(options)
    counts = {"rows": Counter(), "comparisons": Counter(), "judgments_by_source": defaultdict(Counter)}
    writers = {}
    try:
        for split, path in targets.items():
            partial = path.with_name(path.name + ".partial")
            writers[split] = WRITERS[file_format](partial, schema, sort_keys=fmt.sort_keys, batch_size=batch_size)
        for split, rows in export_groups(
            fmt, filters, options, chunk_size=chunk_size, counts=counts, progress=progress, json_texts=True
        ):  # both writers take JSON lines
            write = writers[split].write
            for row in rows:
                write(row)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            with contextlib.suppress(Exception):
                writer.close()
            writer.path.unlink(missing_ok=True)
        raise
    files = []
    for split, path in targets.items():
        partial = writers[split].path
        files.append(
            {
                "split": split,
                "path": path.name,
                "rows": writers[split].rows,
                "bytes": partial.stat().st_size,
                "sha256": writers[split].sha256,
            }
        )
        os.replace(partial, path)
    manifest = {
        "format": fmt.name,
        "file_format": file_format,
        "filters": filters.as_dict(),
        "options": {
            "ties": options.ties,
            "margin": options.margin,
            "rationales": options.rationales,
            "release": options.privacy.release,
        },
        "judges": "HMAC-SHA256 pseudonyms keyed by a per-export salt (not recorded)"
        if fmt.name != "raw" or options.privacy.release
        else "stored labels",
        "counts": {
            "rows": {s: counts["rows"][s] for s in targets},
            "comparisons": {s: counts["comparisons"][s] for s in targets},
            "judgments_by_source": {s: dict(sorted(counts["judgments_by_source"][s].items())) for s in targets},
        },
        "code_version": code_version(),
        "files": files,
    }
    manifest_write(manifest_path, manifest)
    return manifest
