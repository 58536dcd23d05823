"""TRL's conversational preference and KTO (unpaired) formats.

``trl-preference``: ``prompt`` (the comparison's messages up to the last user turn), ``chosen`` and
``rejected`` (one assistant message each), then ``margin`` (with ``--margin``: |strength| 0..3, or
|2p − 1|·3 from a soft preference, or 0 = no extra margin), ``chosen_model``, ``rejected_model``,
``comparison`` (its key), ``judge`` (the pseudonym; null for aggregated rows) and ``rationale`` (with
``--rationales``). A tie has no chosen answer: ties are dropped under either ``--ties`` policy (both-bad
ties included: a pair of two bad answers teaches no preference).

``trl-kto``: ``prompt``, ``completion`` (one assistant message), ``label`` (bool), ``model``,
``comparison``, ``judge``, ``rationale``. From a pairwise verdict the winner's completion is true and the
loser's false; a tie is dropped, except a both-bad tie under ``--ties both-bad-pair``, which gives both
completions false. From binary principle checks on a one-candidate comparison: true when every principle
holds. From thumbs (``Judgment.metadata["thumbs"]`` = {position: true/false or "up"/"down"}) when present.
Aggregated, those labels are a majority vote per candidate (an even vote gives nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pyarrow as pa

from agora_datasets.exports.formats import MESSAGES, Format, Options, assistant, extra_fields, messages, with_extras
from agora_datasets.exports.selection import Group, Verdict, verdicts
from annotation.models import Judgment


def pair(group: Group) -> tuple | None:
    """The candidates at positions 0 and 1, or None. A group's candidates come ordered by position (from 0
    up), so those two can only be its first two."""
    candidates = group.candidates
    if len(candidates) >= 2 and candidates[0].position == 0 and candidates[1].position == 1:
        return candidates[0], candidates[1]
    return None


def ordered(verdict: Verdict, candidates: tuple) -> tuple:
    """(chosen, rejected) for a decided verdict."""
    return candidates if verdict.outcome == "a" else candidates[::-1]


def decided(group: Group, options: Options) -> Iterator[tuple[Verdict, object, object]]:
    """(verdict, chosen, rejected) for each verdict that prefers one of the candidates at positions 0 and 1:
    the pairs the preference formats are made of (ties are dropped)."""
    candidates = pair(group)
    if candidates is None:
        return
    for verdict in verdicts(group.judgments, options.aggregate):
        if verdict.outcome != "tie":
            yield (verdict, *ordered(verdict, candidates))


def preference_rows(group: Group, options: Options) -> Iterator[dict]:
    prompt = messages(group.comparison.context)
    for verdict, chosen, rejected in decided(group, options):
        row = {"prompt": prompt, "chosen": assistant(chosen.text), "rejected": assistant(rejected.text)}
        if options.margin:
            row["margin"] = verdict.margin
        row |= {"chosen_model": chosen.model, "rejected_model": rejected.model}
        yield with_extras(row, verdict, group, options)


def preference_schema(options: Options) -> pa.Schema:
    fields = [("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES)]
    fields += [("margin", pa.float64())] if options.margin else []
    fields += [("chosen_model", pa.string()), ("rejected_model", pa.string())]
    return pa.schema(fields + extra_fields(options))


def _thumb(value) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"up": True, "down": False}.get(str(value).lower())


def labels(judgment: Judgment, group: Group) -> list[tuple[int, bool]]:
    """(position, label) from the judgment's principle checks and thumbs."""
    found = []
    principles = judgment.principles or {}
    if principles and len(group.candidates) == 1:
        found.append((group.candidates[0].position, all(bool(v) for v in principles.values())))
    thumbs = (judgment.metadata or {}).get("thumbs")
    if isinstance(thumbs, dict):
        for position, value in sorted(thumbs.items(), key=lambda kv: str(kv[0])):
            label = _thumb(value)
            if label is not None and str(position).isdigit():
                found.append((int(position), label))
    return found


def kto_rows(group: Group, options: Options) -> Iterator[dict]:
    prompt = messages(group.comparison.context)
    by_position = {c.position: c for c in group.candidates}

    def row(candidate, label: bool, verdict: Verdict) -> dict:
        values = {"prompt": prompt, "completion": assistant(candidate.text), "label": label, "model": candidate.model}
        return with_extras(values, verdict, group, options)

    candidates = pair(group)
    if candidates is not None:
        for verdict in verdicts(group.judgments, options.aggregate):
            if verdict.outcome != "tie":
                chosen, rejected = ordered(verdict, candidates)
                yield row(chosen, True, verdict)
                yield row(rejected, False, verdict)
            elif verdict.both_bad and options.ties == "both-bad-pair":
                yield row(candidates[0], False, verdict)
                yield row(candidates[1], False, verdict)
    if options.aggregate == "each":
        for judgment in group.judgments:
            for position, label in labels(judgment, group):
                if position in by_position:
                    yield row(by_position[position], label, Verdict("", None, None, False, [judgment]))
        return
    votes: dict[int, list[Judgment]] = defaultdict(list)
    tally: dict[int, int] = defaultdict(int)
    for judgment in group.judgments:
        for position, label in labels(judgment, group):
            votes[position].append(judgment)
            tally[position] += 1 if label else -1
    for position in sorted(votes):
        if tally[position] and position in by_position:
            yield row(by_position[position], tally[position] > 0, Verdict("", None, None, False, votes[position]))


def kto_schema(options: Options) -> pa.Schema:
    fields = [("prompt", MESSAGES), ("completion", MESSAGES), ("label", pa.bool_()), ("model", pa.string())]
    return pa.schema(fields + extra_fields(options))


PREFERENCE = Format("trl-preference", preference_rows, preference_schema, values=True, doc=__doc__)
KTO = Format("trl-kto", kto_rows, kto_schema, values=True, doc=__doc__)
