"""Judgments: read a selection by pages or as one stream, write judgments made elsewhere, and load a selection
into pandas or 🤗 datasets (``client.judgments``).

A row is the raw export's: ``{"id", "agora_raw", "comparison", "candidates", "judgment"}``. The filters are the
export's: ``project`` (required unless you are staff), ``source``, ``since``, ``until``, ``model``, ``category``,
``language`` and ``gold`` ("include" or "exclude"); ``source``, ``model``, ``category`` and ``language`` take a
value or a list, and ``since`` and ``until`` an ISO date (or date-time, UTC) or a ``datetime``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agora_client import ndjson

if TYPE_CHECKING:
    from agora_client.client import Client

FILTERS = frozenset({"project", "source", "since", "until", "model", "category", "language", "gold"})
LISTS = frozenset({"source", "model", "category", "language"})
# The flat columns of to_pandas and to_datasets, in order.
COLUMNS = (
    "id",
    "comparison_key",
    "prompt",
    "category",
    "language",
    "source",
    "judge",
    "judge_kind",
    "outcome",
    "strength",
    "both_bad",
    "preference",
    "ranking",
    "rationale",
    "time_spent_ms",
    "created_at",
    "model_a",
    "text_a",
    "model_b",
    "text_b",
    "candidates",
    "scores",
)


@dataclass
class WriteReport:
    """What a write did, summed over its requests. A row already stored (same comparison, judge and source)
    counts in ``judgments_present`` and changes nothing."""

    records: int = 0
    comparisons_added: int = 0
    judgments_added: int = 0
    judgments_present: int = 0

    def __add__(self, other: WriteReport) -> WriteReport:
        return WriteReport(
            self.records + other.records,
            self.comparisons_added + other.comparisons_added,
            self.judgments_added + other.judgments_added,
            self.judgments_present + other.judgments_present,
        )


def query(filters: dict[str, Any], allowed: frozenset[str] = FILTERS) -> dict[str, Any]:
    """The filters as query parameters: lists repeated (``?model=a&model=b``), dates in ISO form, None left out.
    A name the API does not know is refused here, since the server would ignore it and return everything."""
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise TypeError(f"unknown filter(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    params: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        if name in LISTS and isinstance(value, str):
            value = [value]
        params[name] = list(value) if name in LISTS else value
    return params


def _prompt(context: list) -> str | None:
    """The text of the last user message (OpenAI content parts: their text parts, joined)."""
    for message in reversed(context or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return content
    return None


def flat(row: dict) -> dict:
    """One raw row as the flat columns of ``COLUMNS``: the pair as ``model_a``/``text_a`` (position 0) and
    ``model_b``/``text_b`` (position 1), None where the comparison has no such candidate."""
    comparison, judgment = row.get("comparison", {}), row.get("judgment", {})
    candidates = sorted(row.get("candidates", []), key=lambda c: c.get("position", 0))
    by_position = {c.get("position"): c for c in candidates}
    a, b = by_position.get(0, {}), by_position.get(1, {})
    return {
        "id": row.get("id"),
        "comparison_key": comparison.get("key"),
        "prompt": _prompt(comparison.get("context")),
        "category": comparison.get("category"),
        "language": comparison.get("language"),
        "source": judgment.get("source"),
        "judge": judgment.get("judge"),
        "judge_kind": judgment.get("judge_kind"),
        "outcome": judgment.get("outcome"),
        "strength": judgment.get("strength"),
        "both_bad": judgment.get("both_bad"),
        "preference": judgment.get("preference"),
        "ranking": judgment.get("ranking"),
        "rationale": judgment.get("rationale"),
        "time_spent_ms": judgment.get("time_spent_ms"),
        "created_at": judgment.get("created_at"),
        "model_a": a.get("model"),
        "text_a": a.get("text"),
        "model_b": b.get("model"),
        "text_b": b.get("text"),
        "candidates": candidates,
        "scores": judgment.get("scores", []),
    }


class Judgments:
    def __init__(self, client: Client):
        self._client = client

    def list(self, **filters: Any) -> Iterator[dict]:
        """Every selected judgment, read a page (1,000) at a time, in the order they were stored."""
        return self._client.pages("/judgments", query(filters))

    def stream(self, *, min_agreement: float | None = None, **filters: Any) -> Iterator[dict]:
        """Every selected judgment in one streamed response (faster than pages for a large selection), a
        comparison's judgments together. ``min_agreement`` (0 to 1) keeps the comparisons whose judges agree
        at least that much."""
        params = query(filters)
        if min_agreement is not None:
            params["min_agreement"] = min_agreement
        with self._client.streamed("GET", "/judgments/stream", params=params) as response:
            yield from ndjson.loads_lines(response.iter_lines())

    def write(self, records: Iterable[dict], *, batch_size: int = 10_000) -> WriteReport:
        """Store judgments made elsewhere (staff): raw rows, as the reads return them (their ``id`` is dropped:
        the new Agora gives its own). A row already here is counted, not stored twice, so a retried write is
        safe; one bad row rejects its request, raised as ``Invalid`` with ``line N`` of that request."""
        if batch_size < 1:
            raise ValueError("batch_size must be 1 or more")
        rows = ({k: v for k, v in record.items() if k != "id"} for record in records)
        report = WriteReport()
        for batch in ndjson.batches(rows, batch_size):
            answer = self._client.call(
                "POST",
                "/judgments",
                content=ndjson.body(batch),
                headers={"Content-Type": ndjson.CONTENT_TYPE},
                repeatable=True,
            )
            report += WriteReport(**{name: answer[name] for name in WriteReport.__dataclass_fields__})
        return report

    def to_pandas(self, *, min_agreement: float | None = None, **filters: Any):
        """The selection as a pandas DataFrame of the flat columns (``COLUMNS``); needs the ``pandas`` extra."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install 'agora-client[pandas]'") from None
        rows = [flat(row) for row in self.stream(min_agreement=min_agreement, **filters)]
        return pandas.DataFrame(rows, columns=list(COLUMNS))

    def to_datasets(self, *, min_agreement: float | None = None, **filters: Any):
        """The selection as a ``datasets.Dataset`` of the flat columns (``COLUMNS``); needs the ``datasets``
        extra. It is built in memory: for millions of judgments, run an export (``client.exports``) instead."""
        try:
            import datasets
        except ImportError:
            raise ImportError("to_datasets needs 🤗 datasets: pip install 'agora-client[datasets]'") from None
        rows = [flat(row) for row in self.stream(min_agreement=min_agreement, **filters)]
        if not rows:
            return datasets.Dataset.from_dict({name: [] for name in COLUMNS})
        return datasets.Dataset.from_list(rows)
