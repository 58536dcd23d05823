"""Which judgments an export takes, how several judgments on one comparison become rows, and the split.

The database does the row filters (project, source, dates, model, category, language, gold items, fast
answers, annotators who fail gold) and streams the judgments ordered by comparison key, judge and source;
the stream is cut into one group per comparison, so memory holds one comparison's judgments at a time. The
group filters (agreement, prompt dedup) and the train/test split work on those groups.

Prompts are compared normalized: NFKC, case-folded, whitespace collapsed, of the comparison's prompt (its
last user message). The split hashes that: sha256 → a number in [0, 1); below ``test_share`` is "test".
The same prompt therefore always lands in the same split, in every export and every database, and never in
both; with dedup, the first comparison (by key) of each prompt is kept.

Aggregation (``aggregate``): ``each`` gives one verdict per judgment; ``majority`` the most frequent outcome
among the comparison's pairwise judgments (a tie of the vote gives nothing), its strength and preference the
means over the majority's judgments that have them; ``mean`` the sign of the mean signed strength (a judgment
without a strength counts −1/0/+1 from its outcome) and the mean preference (1/0/0.5 from the outcome when a
judgment has none). A judgment with only a soft preference has the outcome it implies (above 0.5: "a").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import NamedTuple

import orjson
from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, TextField
from django.db.models.functions import Cast
from psycopg.adapt import Loader

from agora_datasets.exports.sql import JIT_OFF, JIT_SET_SQL, JIT_SHOW_SQL, rows_with_candidates_sql
from annotation.models import Candidate, Comparison, Item, Judgment, Score
from annotation.quality.competence import flag_low_accuracy, gold_accuracy
from annotation.quality.gold import gold_expected, gold_value

AGGREGATIONS = ("each", "majority", "mean")
SIGN = {"a": -1, "tie": 0, "b": 1}
PREFERENCE = {"a": 1.0, "tie": 0.5, "b": 0.0}


class SelectionError(ValueError):
    """Filters that cannot select anything meaningful (a bad range, an unknown project)."""


@dataclass(frozen=True)
class ExportFilters:
    """What to take. Empty tuples and None mean "no filter"."""

    project: str | None = None  # slug: judgments made in its queue, and AI judgments made for it
    sources: tuple[str, ...] = ()
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until
    models: tuple[str, ...] = ()  # either candidate is one of these
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    exclude_gold: bool = True  # judgments on comparisons that are gold items anywhere
    min_gold_accuracy: float | None = None  # drop every judgment of an annotator below this on gold items
    min_gold_answers: int = 3  # gold answers an annotator needs before the accuracy counts
    min_seconds: float | None = None  # drop answers given faster than this (unknown times are kept)
    min_agreement: float | None = None  # keep comparisons whose majority outcome share is at least this
    aggregate: str = "each"
    dedup_prompts: bool = False
    test_share: float = 0.0

    def check(self) -> None:
        if self.aggregate not in AGGREGATIONS:
            raise SelectionError(f"aggregate must be one of {', '.join(AGGREGATIONS)}")
        if not 0 <= self.test_share < 1:
            raise SelectionError("the test share must be at least 0 and below 1")
        if self.min_agreement is not None and not 0 < self.min_agreement <= 1:
            raise SelectionError("the minimum agreement must be above 0 and at most 1")
        if self.min_gold_accuracy is not None and not 0 <= self.min_gold_accuracy <= 1:
            raise SelectionError("the minimum gold accuracy must be from 0 to 1")
        if self.min_seconds is not None and self.min_seconds < 0:
            raise SelectionError("the minimum seconds must be 0 or more")
        if self.since and self.until and self.since >= self.until:
            raise SelectionError("--since must be before --until")

    def as_dict(self) -> dict:
        values = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            values[name] = (
                value.isoformat() if isinstance(value, datetime) else list(value) if isinstance(value, tuple) else value
            )
        return values


def normalize_prompt(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "").casefold()).strip()


def prompt_digest(text: str) -> bytes:
    return hashlib.sha256(normalize_prompt(text).encode("utf-8")).digest()


def split_of(prompt: str, test_share: float) -> str:
    """ "train" or "test" from the prompt alone; "all" when there is no split."""
    if not test_share:
        return "all"
    fraction = int.from_bytes(prompt_digest(prompt)[:8], "big") / 2**64
    return "test" if fraction < test_share else "train"


def project_filter(slug: str) -> Q:
    """A project's judgments: its queue's, and the AI judgments made for its items."""
    made_for = Exists(Item.objects.filter(project__slug=slug, comparison=OuterRef("comparison_id")))
    return Q(assignment__item__project__slug=slug) | (Q(source="ai", metadata__project=slug) & made_for)


def failing_judges(filters: ExportFilters) -> list[str]:
    """Judges whose accuracy on gold items is below the threshold (with enough gold answers to tell)."""
    if filters.min_gold_accuracy is None:
        return []
    rows = Judgment.objects.filter(assignment__item__is_gold=True)
    if filters.project:
        rows = rows.filter(assignment__item__project__slug=filters.project)
    rows = rows.values(
        "judge",
        "outcome",
        "strength",
        "assignment__item_id",
        "assignment__item__gold_answer",
        "assignment__item__project__task_type",
    ).order_by("id")
    answers, gold = [], {}
    for row in rows.iterator(chunk_size=5000):
        answers.append(
            (row["judge"], row["assignment__item_id"], gold_value(row, row["assignment__item__project__task_type"]))
        )
        gold[row["assignment__item_id"]] = gold_expected(row)
    scores = gold_accuracy(answers, gold)
    flags = flag_low_accuracy(scores, threshold=filters.min_gold_accuracy, min_answers=filters.min_gold_answers)
    return sorted({flag.annotator for flag in flags})


def filtered_judgments(filters: ExportFilters) -> QuerySet[Judgment]:
    """The row filters, in SQL."""
    queryset = Judgment.objects.all()
    if filters.project:
        queryset = queryset.filter(project_filter(filters.project))
    if filters.sources:
        queryset = queryset.filter(source__in=filters.sources)
    if filters.since:
        queryset = queryset.filter(created_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(created_at__lt=filters.until)
    if filters.models:
        queryset = queryset.filter(
            Exists(Candidate.objects.filter(comparison=OuterRef("comparison_id"), model__in=filters.models))
        )
    if filters.categories:
        queryset = queryset.filter(comparison__category__in=filters.categories)
    if filters.languages:
        queryset = queryset.filter(comparison__language__in=filters.languages)
    if filters.exclude_gold:
        queryset = queryset.exclude(Exists(Item.objects.filter(comparison=OuterRef("comparison_id"), is_gold=True)))
    if filters.min_seconds is not None:
        queryset = queryset.exclude(time_spent_ms__lt=filters.min_seconds * 1000)
    failing = failing_judges(filters)
    if failing:
        queryset = queryset.exclude(judge__in=failing)
    return queryset


def judgment_queryset(filters: ExportFilters) -> QuerySet[Judgment]:
    """The row filters, in SQL, ordered by comparison key, judge and source."""
    return (
        filtered_judgments(filters)
        .select_related("comparison")
        .annotate(project_id=F("assignment__item__project_id"))
        .prefetch_related(
            Prefetch("comparison__candidates", queryset=Candidate.objects.order_by("position")),
            Prefetch("scores", queryset=Score.objects.order_by("position", "attribute")),
        )
        .order_by(*EXPORT_ORDER)
    )


def outcome_of(judgment: Judgment) -> str | None:
    """The pairwise outcome, or the one a soft preference implies."""
    if judgment.outcome:
        return judgment.outcome
    if judgment.preference is not None:
        return "a" if judgment.preference > 0.5 else "b" if judgment.preference < 0.5 else "tie"
    return None


def agreement(judgments: list[Judgment]) -> float | None:
    """The share of the majority outcome among the pairwise judgments; None without any."""
    votes = Counter(o for o in map(outcome_of, judgments) if o)
    return max(votes.values()) / sum(votes.values()) if votes else None


@dataclass
class Group:
    """One comparison with the judgments an export keeps on it."""

    comparison: Comparison
    candidates: list[Candidate]
    judgments: list[Judgment]
    split: str


class JudgmentValues(NamedTuple):
    """The judgment fields the pairwise, KTO and ranking formats read, as plain values (no model instance)."""

    id: int
    comparison_id: int
    source: str
    judge: str
    outcome: str | None
    strength: int | None
    preference: float | None
    both_bad: bool
    rationale: str
    project_id: int | None
    principles_json: str | None
    metadata_json: str | None
    ranking_json: str | None

    # The JSON columns arrive as text and are parsed only when a format reads them.
    @property
    def principles(self):
        return None if self.principles_json is None else orjson.loads(self.principles_json)

    @property
    def metadata(self):
        return None if self.metadata_json is None else orjson.loads(self.metadata_json)

    @property
    def ranking(self):
        return None if self.ranking_json is None else orjson.loads(self.ranking_json)


class ComparisonValues(NamedTuple):
    id: int
    key: str
    prompt: str
    context: list


class CandidateValues(NamedTuple):
    position: int
    model: str
    text: str


def _as_text(name: str) -> Cast:
    return Cast(name, output_field=TextField())


class _FragmentLoader(Loader):
    """A json column as an orjson fragment: copied into a JSONL line as it is, never parsed."""

    def load(self, data) -> orjson.Fragment:
        return orjson.Fragment(bytes(data))


# The export order, and the columns a value row starts with (the judgment's, then its comparison's).
EXPORT_ORDER = ("comparison__key", "judge", "source")
VALUE_COLUMNS = (*JudgmentValues._fields, "comparison__key", "comparison__prompt", "context_json")


def _value_rows(filters: ExportFilters, chunk_size: int, json_texts: bool) -> Iterator[tuple]:
    """Judgment fields, then the comparison's key, prompt and context (JSON text), then the candidate columns
    (exports/sql.py's ``candidate_columns_sql``), in export order: one query, streamed ``chunk_size`` rows at a
    time (no cursor to declare, nothing held on the server), so PostgreSQL reads ahead while the rows are
    written."""
    queryset = (
        filtered_judgments(filters)
        .annotate(
            project_id=F("assignment__item__project_id"),
            principles_json=_as_text("principles"),
            metadata_json=_as_text("metadata"),
            ranking_json=_as_text("ranking"),
            context_json=_as_text("comparison__context"),
        )
        .order_by(*EXPORT_ORDER)
        .values_list(*VALUE_COLUMNS)
    )
    judgments_sql, params = queryset.query.sql_with_params()
    order = [VALUE_COLUMNS.index(name) + 1 for name in EXPORT_ORDER]
    sql = rows_with_candidates_sql(judgments_sql, order, json_texts)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        if json_texts:  # the only json-typed columns are the two texts
            cursor.adapters.register_loader("json", _FragmentLoader)
        # A streamed read of every row gains nothing from JIT compilation, which costs seconds up front.
        jit = cursor.execute(JIT_SHOW_SQL).fetchone()[0]
        cursor.execute(JIT_SET_SQL, [JIT_OFF])
        try:
            yield from cursor.stream(sql, params, size=chunk_size)
        finally:
            cursor.execute(JIT_SET_SQL, [jit])


def _candidates(model_0, text_0, model_1, text_1, more, json_texts: bool) -> list[CandidateValues]:
    found = [] if model_0 is None else [CandidateValues(0, model_0, text_0)]
    if model_1 is not None:
        found.append(CandidateValues(1, model_1, text_1))
    if more is not None:
        for position, model, text in orjson.loads(more):
            found.append(CandidateValues(position, model, orjson.Fragment(orjson.dumps(text)) if json_texts else text))
    return found


def _value_groups(
    filters: ExportFilters, chunk_size: int, json_texts: bool
) -> Iterator[tuple[ComparisonValues, list, list]]:
    # A plain loop rather than groupby: this runs once per exported row, and the rows of one comparison
    # arrive together (the ORDER BY starts with its key).
    width = len(JudgmentValues._fields)
    make = JudgmentValues._make
    current, comparison, candidates, judgments = None, None, [], []
    for row in _value_rows(filters, chunk_size, json_texts):
        if row[1] != current:
            if judgments:
                yield comparison, candidates, judgments
            current, judgments = row[1], []
            key, prompt, context, *columns = row[width:]
            comparison = ComparisonValues(current, key, prompt, None if context is None else orjson.loads(context))
            candidates = _candidates(*columns, json_texts)
        judgments.append(make(row[:width]))
    if judgments:
        yield comparison, candidates, judgments


def _model_groups(filters: ExportFilters, chunk_size: int) -> Iterator[tuple[Comparison, list, list]]:
    stream = judgment_queryset(filters).iterator(chunk_size=chunk_size)
    for _, run in groupby(stream, key=lambda j: j.comparison_id):
        judgments = list(run)
        comparison = judgments[0].comparison
        yield comparison, list(comparison.candidates.all()), judgments


def groups(
    filters: ExportFilters, chunk_size: int = 2000, *, values: bool = False, json_texts: bool = False
) -> Iterator[Group]:
    """One group per comparison. ``values``: plain-value judgments, comparison and candidates (the fields in
    ``JudgmentValues``, ``ComparisonValues`` and ``CandidateValues``, read without model instances or
    prefetches) instead of model instances, for the formats that read no more than those. ``json_texts``
    (with ``values``; the writers, which make JSON lines of every row): each candidate's text is an
    ``orjson.Fragment`` holding it as a JSON string literal, made by PostgreSQL (whose escaping is
    orjson's), so the texts, most of an export's bytes, are neither decoded nor encoded on the way."""
    filters.check()
    seen: set[bytes] = set()
    read = _value_groups(filters, chunk_size, json_texts) if values else _model_groups(filters, chunk_size)
    for comparison, candidates, judgments in read:
        if filters.min_agreement is not None:
            share = agreement(judgments)
            if share is None or share < filters.min_agreement - 1e-12:
                continue
        if filters.dedup_prompts:
            digest = prompt_digest(comparison.prompt)
            if digest in seen:
                continue
            seen.add(digest)
        yield Group(comparison, candidates, judgments, split_of(comparison.prompt, filters.test_share))


@dataclass
class Verdict:
    """A pairwise verdict over positions 0 and 1: one judgment's, or the aggregate of several."""

    outcome: str
    strength: float | None
    preference: float | None
    both_bad: bool
    judgments: list[Judgment] = field(default_factory=list)

    @property
    def judgment(self) -> Judgment | None:
        """The judgment itself when the verdict is one judgment's."""
        return self.judgments[0] if len(self.judgments) == 1 else None

    @property
    def margin(self) -> float:
        """|strength| (0..3); else from a soft preference, |2p − 1|·3; else 0 (no extra margin)."""
        if self.strength is not None:
            return float(abs(self.strength))
        if self.preference is not None:
            return abs(2 * self.preference - 1) * 3
        return 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def verdicts(judgments: list[Judgment], aggregate: str) -> list[Verdict]:
    if aggregate == "each":
        return [Verdict(o, j.strength, j.preference, j.both_bad, [j]) for j in judgments if (o := outcome_of(j))]
    pairwise = [(j, outcome_of(j)) for j in judgments]
    pairwise = [(j, o) for j, o in pairwise if o]
    if not pairwise:
        return []
    voters = [j for j, _ in pairwise]
    if aggregate == "majority":
        votes = Counter(o for _, o in pairwise).most_common()
        if len(votes) > 1 and votes[0][1] == votes[1][1]:
            return []
        outcome = votes[0][0]
        winners = [j for j, o in pairwise if o == outcome]
        return [
            Verdict(
                outcome,
                _mean([j.strength for j in winners if j.strength is not None]),
                _mean([j.preference for j in winners if j.preference is not None]),
                outcome == "tie" and 2 * sum(j.both_bad for j in winners) > len(winners),
                voters,
            )
        ]
    signed = _mean([j.strength if j.strength is not None else SIGN[o] for j, o in pairwise])
    preference = _mean([j.preference if j.preference is not None else PREFERENCE[o] for j, o in pairwise])
    outcome = "a" if signed < 0 else "b" if signed > 0 else "tie"
    both_bad = outcome == "tie" and 2 * sum(j.both_bad for j in voters) > len(voters)
    return [Verdict(outcome, signed, preference, both_bad, voters)]
