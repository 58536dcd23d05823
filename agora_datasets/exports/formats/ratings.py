"""Per-attribute ratings in the HelpSteer2 style: one row per (comparison, candidate) that has scores.

Columns: ``prompt`` (the last user message, as text), ``response``, ``model``, ``comparison`` (its key),
``position``, then for each Score attribute (sorted by name) its mean over the judgments that scored the
candidate, and ``<attribute>_count``, how many did (null and 0 where none did). An attribute whose name is
one of those columns is written as ``score_<attribute>``. Always the mean over annotators (``--aggregate
mean``); rationales do not apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pyarrow as pa

from agora_datasets.exports.formats import Format, Options
from agora_datasets.exports.selection import Group

FIXED = ("prompt", "response", "model", "comparison", "position")


def column(attribute: str) -> str:
    name = attribute if attribute not in FIXED else f"score_{attribute}"
    return name if not name.endswith("_count") else f"score_{name}"


def rating_rows(group: Group, options: Options) -> Iterator[dict]:
    values: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for judgment in group.judgments:
        for score in judgment.scores.all():
            values[score.position][score.attribute].append(score.value)
    for candidate in group.candidates:
        scored = values.get(candidate.position)
        if not scored:
            continue
        row = {
            "prompt": group.comparison.prompt,
            "response": candidate.text,
            "model": candidate.model,
            "comparison": group.comparison.key,
            "position": candidate.position,
        }
        for attribute in options.attributes:
            given = scored.get(attribute, [])
            row[column(attribute)] = sum(given) / len(given) if given else None
            row[column(attribute) + "_count"] = len(given)
        yield row


def rating_schema(options: Options) -> pa.Schema:
    fields = [
        ("prompt", pa.string()),
        ("response", pa.string()),
        ("model", pa.string()),
        ("comparison", pa.string()),
        ("position", pa.int64()),
    ]
    for attribute in options.attributes:
        fields += [(column(attribute), pa.float64()), (column(attribute) + "_count", pa.int64())]
    return pa.schema(fields)


FORMAT = Format("ratings", rating_rows, rating_schema, aggregations=("mean",), rationales=False, doc=__doc__)
