"""Reward-model pairs with implicit prompts: ``chosen`` and ``rejected`` are whole conversations (the
comparison's context plus that candidate's assistant message), as reward trainers read them, then
``margin`` (always: |strength| 0..3, |2p − 1|·3 from a soft preference, or 0), ``chosen_model``,
``rejected_model``, ``comparison``, ``judge`` and, with ``--rationales``, ``rationale``. Ties are dropped,
as in ``trl-preference``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from agora_datasets.exports.formats import MESSAGES, Format, Options, assistant, extra_fields, messages, with_extras
from agora_datasets.exports.formats.trl import decided
from agora_datasets.exports.selection import Group


def pair_rows(group: Group, options: Options) -> Iterator[dict]:
    context = messages(group.comparison.context)
    for verdict, chosen, rejected in decided(group, options):
        row = {
            "chosen": context + assistant(chosen.text),
            "rejected": context + assistant(rejected.text),
            "margin": verdict.margin,
            "chosen_model": chosen.model,
            "rejected_model": rejected.model,
        }
        yield with_extras(row, verdict, group, options)


def pair_schema(options: Options) -> pa.Schema:
    fields = [
        ("chosen", MESSAGES),
        ("rejected", MESSAGES),
        ("margin", pa.float64()),
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
    ]
    return pa.schema(fields + extra_fields(options))


PAIRS = Format("reward-pairs", pair_rows, pair_schema, values=True, doc=__doc__)
