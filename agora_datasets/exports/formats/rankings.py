"""Rankings: ``prompt`` (messages), ``candidates`` (texts, by position), ``models``, ``ranking`` (groups of
indexes into ``candidates``, best first, ties sharing a group), ``comparison``, ``judge`` and, with
``--rationales``, ``rationale``.

A judgment's ranking is its listwise ``ranking``, or for two candidates its pairwise outcome ([[0], [1]],
[[1], [0]], a tie [[0, 1]]). Aggregated: ``majority`` is the most frequent ranking (an even vote gives
nothing); ``mean`` groups the candidates by their mean place (a tied group shares its mean place). A
resulting ranking that ties everything says nothing and is dropped; partial ties stay (``--ties`` does not
apply here).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

import pyarrow as pa

from agora_datasets.exports.formats import MESSAGES, Format, Options, extra_fields, messages, with_extras
from agora_datasets.exports.selection import Group, Verdict, outcome_of
from annotation.models import Judgment

FROM_OUTCOME = {"a": [[0], [1]], "b": [[1], [0]], "tie": [[0, 1]]}


def ranking_of(judgment: Judgment, index: dict[int, int]) -> tuple[tuple[int, ...], ...] | None:
    """The judgment's ranking over candidate indexes, or None."""
    groups = judgment.ranking
    if not groups and len(index) == 2 and 0 in index and 1 in index:
        groups = FROM_OUTCOME.get(outcome_of(judgment) or "")
    if not groups:
        return None
    ranked = tuple(tuple(sorted(index[p] for p in g if p in index)) for g in groups)
    return tuple(g for g in ranked if g) or None


def mean_ranking(rankings: list[tuple[tuple[int, ...], ...]]) -> tuple[tuple[int, ...], ...]:
    places: dict[int, list[float]] = defaultdict(list)
    for ranking in rankings:
        place = 1
        for group in ranking:
            for candidate in group:
                places[candidate].append(place + (len(group) - 1) / 2)
            place += len(group)
    means = defaultdict(list)
    for candidate, values in places.items():
        means[round(sum(values) / len(values), 9)].append(candidate)
    return tuple(tuple(sorted(means[m])) for m in sorted(means))


def ranking_rows(group: Group, options: Options) -> Iterator[dict]:
    index = {c.position: i for i, c in enumerate(group.candidates)}
    ranked = [(j, r) for j in group.judgments if (r := ranking_of(j, index))]
    if not ranked:
        return
    if options.aggregate == "each":
        results = [(r, [j]) for j, r in ranked]
    elif options.aggregate == "majority":
        votes = Counter(r for _, r in ranked).most_common()
        if len(votes) > 1 and votes[0][1] == votes[1][1]:
            return
        results = [(votes[0][0], [j for j, _ in ranked])]
    else:
        results = [(mean_ranking([r for _, r in ranked]), [j for j, _ in ranked])]
    for ranking, judgments in results:
        if len(ranking) < 2:  # everything tied: no order to learn
            continue
        row = {
            "prompt": messages(group.comparison.context),
            "candidates": [c.text for c in group.candidates],
            "models": [c.model for c in group.candidates],
            "ranking": [list(g) for g in ranking],
        }
        yield with_extras(row, Verdict("", None, None, False, judgments), group, options)


def ranking_schema(options: Options) -> pa.Schema:
    fields = [
        ("prompt", MESSAGES),
        ("candidates", pa.list_(pa.string())),
        ("models", pa.list_(pa.string())),
        ("ranking", pa.list_(pa.list_(pa.int64()))),
    ]
    return pa.schema(fields + extra_fields(options))


FORMAT = Format("rankings", ranking_rows, ranking_schema, values=True, doc=__doc__)
