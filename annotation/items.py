"""Filling a project's queue: items imported from a file, or sampled from arena battles.

An item file is JSONL (or a JSON array) or CSV, one item per record:

- ``prompt`` (text) or ``messages`` (OpenAI-style, up to the last user turn);
- ``candidates``: ``[{"model": …, "text": …}, …]`` (1 to 16; principle checks may use one), or
  CSV columns ``response_a``, ``response_b`` (``model_a``, ``model_b`` optional);
- optional ``id`` (the item's stable key; else a hash of its content), ``category``, ``language``,
  ``gold`` (the expected answer, e.g. ``{"choice": "a"}`` or a number) and ``gold_tolerance``.

The foundation's import rules apply: every record is checked first and a bad one rejects the
whole file, naming its line, so nothing is half-imported. Re-importing a file adds nothing twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from annotation.imports import sql
from annotation.imports.records import Record, RowError, read_csv_records, read_json_records
from annotation.imports.rows import (
    MAX_CANDIDATES,
    CandidateRow,
    ComparisonRow,
    check_json,
    check_label,
    check_messages,
    check_text,
    content_key,
)
from annotation.imports.writes import comparisons_write, copy_rows, json_text
from annotation.models import Comparison, Item, Project, Source

BATCH = 2000  # rows a statement: fewer round trips, measured best of 500, 2000 and 5000


@dataclass
class ItemRow:
    key: str
    context: list
    candidates: list[tuple[str, str]]  # (model, text)
    category: str = ""
    language: str = ""
    gold: object = None
    gold_tolerance: float = 0.0


@dataclass
class ItemsReport:
    read: int = 0
    added: int = 0
    already: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)


class ItemsError(Exception):
    """The file cannot be imported; the message lists what is wrong, by line, and ``errors`` each one as
    (where, reason): ("line 3", "a record needs a prompt (or messages)")."""

    def __init__(self, message: str, errors: list[tuple[str, str]] = ()):
        super().__init__(message)
        self.errors = list(errors)


class TooManyItems(ItemsError):
    """More records than one request may bring."""


def _json_field(value, name: str):
    """A field as given, or parsed when it is text (a CSV cell holds a list as JSON)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise RowError(f"{name} is not valid JSON") from None


def _row(project: Project, data: dict) -> ItemRow:
    if not isinstance(data, dict):
        raise RowError("each record must be an object")
    if "messages" in data:
        context = _json_field(data["messages"], "messages")
    elif isinstance(data.get("prompt"), str) and data["prompt"].strip():
        context = [{"role": "user", "content": data["prompt"]}]
    else:
        raise RowError("a record needs a prompt (or messages)")
    check_messages(context, "messages")
    check_json(context, "messages")
    if "candidates" in data:
        raw = _json_field(data["candidates"], "candidates")
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            raise RowError("candidates must be a list of {model, text} objects")
        candidates = [(str(c.get("model") or f"candidate-{i}"), c.get("text")) for i, c in enumerate(raw)]
    else:
        texts = [data.get(f"response_{side}") for side in ("a", "b") if data.get(f"response_{side}") is not None]
        candidates = [
            (str(data.get(f"model_{side}") or side.upper()), text)
            for side, text in zip(("a", "b"), texts, strict=False)
        ]
    if not 1 <= len(candidates) <= MAX_CANDIDATES:
        raise RowError(f"an item needs 1 to {MAX_CANDIDATES} candidates, got {len(candidates)}")
    for i, (model, text) in enumerate(candidates):
        check_label(model, f"candidate {i} model")
        if not isinstance(text, str):
            raise RowError(f"candidate {i} text must be text")
        check_text(text, f"candidate {i} text")
    gold = data.get("gold")
    if isinstance(gold, str) and gold.strip().startswith("{"):
        gold = _json_field(gold, "gold")
    check_json(gold, "gold")
    try:
        tolerance = float(data.get("gold_tolerance") or 0)
    except (TypeError, ValueError, OverflowError):
        raise RowError("gold_tolerance must be a number") from None
    if not math.isfinite(tolerance) or tolerance < 0:
        raise RowError("gold_tolerance must be a number of 0 or more")
    identity = str(data["id"]) if data.get("id") not in (None, "") else content_key("c", context, candidates)
    key = f"project:{project.slug}:{identity}"
    check_label(key, "id")
    category = check_label(str(data.get("category") or ""), "category", max_length=100, required=False)
    language = check_label(str(data.get("language") or ""), "language", max_length=50, required=False)
    return ItemRow(
        key=key,
        context=context,
        candidates=candidates,
        category=category,
        language=language,
        gold=gold if gold not in ("", None) else None,
        gold_tolerance=tolerance,
    )


def items_import(*, project: Project, path: Path) -> ItemsReport:
    records = read_csv_records(path) if path.suffix.lower() == ".csv" else read_json_records(path)
    return items_import_records(project=project, records=records)


def items_import_records(*, project: Project, records: Iterable[Record], limit: int | None = None) -> ItemsReport:
    """Check every record, then add them all in one transaction, or none. ``limit``: at most this many records
    (a request's cap); one more rejects the whole lot before anything is written."""
    report = ItemsReport()
    rows: list[ItemRow] = []
    for record in records:
        report.read += 1
        if limit is not None and report.read > limit:
            raise TooManyItems(f"more than {limit:,} items in one request; send them in parts")
        try:
            if record.error:
                raise RowError(record.error)
            rows.append(_row(project, record.data))
        except RowError as error:
            report.errors.append((f"line {record.line}", str(error)))
    if report.errors:
        shown = "\n".join(f"{where}: {reason}" for where, reason in report.errors[:20])
        more = f"\n… and {len(report.errors) - 20} more" if len(report.errors) > 20 else ""
        raise ItemsError(
            f"{len(report.errors)} record(s) cannot be imported; nothing was imported:\n{shown}{more}",
            errors=report.errors,
        )
    if not rows:
        raise ItemsError("the file holds no items")
    _write_all(project, rows, report, same_texts=True)
    return report


def _write_all(project: Project, rows: list[ItemRow], report: ItemsReport, *, same_texts: bool) -> None:
    """Every row in one transaction, in batches; the item statistics refreshed once they are committed.

    ``same_texts``: an id already used must come with the same texts (a pushed item's id is the client's
    promise that it is the same item); generated items are keyed by prompt and models, their texts differ."""
    try:
        with transaction.atomic():
            for start in range(0, len(rows), BATCH):
                _write(project, rows[start : start + BATCH], report, same_texts=same_texts)
    except RowError as error:  # a key already used with other candidates: the transaction rolled back whole
        raise ItemsError(f"{error}; nothing was imported", errors=[("id", str(error))]) from None
    if report.added:
        item_statistics_refresh()


def item_retire(*, item: Item) -> Item:
    """Close the item for good: no new claims; leases out now may still be submitted, answers are kept."""
    Item.objects.filter(pk=item.pk).update(retired=True, open=False)
    item.refresh_from_db()
    return item


def item_statistics_refresh() -> None:
    """ANALYZE the items table once new items are committed.

    The claim finds an annotator's next item by walking the open-items index of the project in queue
    order, which takes a fraction of a millisecond. With statistics from before a project had its items,
    PostgreSQL expects a row or two for it and plans a sort of all its open items instead: measured at
    38 ms a claim for a project of 2,000 items (0.1 ms after ANALYZE), growing with the project. Autovacuum
    analyzes only after a tenth of the table changed, so a new project in a large table could wait forever.
    """

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotation_item")

    transaction.on_commit(analyze)


def _write(project: Project, batch: list[ItemRow], report: ItemsReport, *, same_texts: bool) -> None:
    now = timezone.now()
    comparisons = [
        ComparisonRow(
            key=row.key,
            context=row.context,
            source=Source.IMPORT,
            created_at=now,
            candidates=[CandidateRow(position=i, model=m, text=t) for i, (m, t) in enumerate(row.candidates)],
            category=row.category,
            language=row.language,
            metadata={"project": project.slug},
        )
        for row in batch
    ]
    ids, _ = comparisons_write(comparisons, same_texts=same_texts)
    have = set(
        Item.objects.filter(project=project, comparison_id__in=ids.values()).values_list("comparison_id", flat=True)
    )
    new_items = {}
    for row in batch:  # the first record of a key decides its gold answer, as the file import always did
        cid = ids[row.key]
        if cid not in have and cid not in new_items:
            new_items[cid] = row
    copy_rows(
        sql.COPY_ITEMS_SQL,
        (
            (project.pk, cid, 0, 0, 0, True, row.gold is not None, json_text(row.gold), row.gold_tolerance, None, False)
            for cid, row in new_items.items()
        ),
    )
    report.added += len(new_items)
    report.already += len(batch) - len(new_items)


def items_from_battles(*, project: Project, limit: int, category: str = "") -> int:
    """Add up to ``limit`` arena comparisons (two candidates) not yet in the project; returns how many."""
    comparisons = Comparison.objects.filter(source=Source.ARENA).exclude(items__project=project)
    if category:
        comparisons = comparisons.filter(category=category)
    ids = list(comparisons.order_by("-created_at").values_list("id", flat=True)[:limit])
    Item.objects.bulk_create(Item(project=project, comparison_id=i) for i in ids)
    if ids:
        item_statistics_refresh()
    return len(ids)


@dataclass
class GenerateReport:
    added: int = 0
    failed: list[str] = field(default_factory=list)


def items_from_answers(
    *, project: Project, prompts: list[str], model_names: list[str], answers: list[tuple[str, str]]
) -> GenerateReport:
    """Queue models' answers to prompts as items (arena/item_generation.py asks the models).

    ``answers`` holds (text, error) for each prompt and, within it, each of ``model_names`` in order;
    the error is empty where the model answered. An item keeps the answers that came back; one with
    fewer than two (one for principle checks) is left out and reported, so a failing model never
    leaves a half-filled item in the queue.
    """
    needed = 1 if project.task_type == "principles" else 2
    report = GenerateReport()
    rows = []
    for i, prompt in enumerate(prompts):
        got = []
        for j, name in enumerate(model_names):
            text, error = answers[i * len(model_names) + j]
            if not error and text.strip():
                got.append((name, text))
            else:
                report.failed.append(f"{name} on prompt {i + 1}: {error or 'an empty answer'}")
        if len(got) < needed:
            continue
        # Keyed by the prompt and the models that answered: asking again adds nothing twice.
        answered = [name for name, _ in got]
        rows.append(
            ItemRow(
                key=f"project:{project.slug}:gen:" + content_key("g", prompt, answered).split(":")[1],
                context=[{"role": "user", "content": prompt}],
                candidates=got,
            )
        )
    items_report = ItemsReport()
    _write_all(project, rows, items_report, same_texts=False)
    report.added = items_report.added
    return report
