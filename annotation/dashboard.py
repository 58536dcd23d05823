"""What a project's owners see: progress, agreement, annotator quality and flags.

Reads the project's queue judgments once and hands plain triples to annotation/quality. Which
agreement fits depends on the answer: nominal α for choices and principle checks, ordinal α for
graded strengths, interval α for Likert scores (per attribute); Fleiss' κ where every item has
the same number of answers; Cohen's κ for the annotator pairs who share the most items.

One selector per panel of the page (``progress``, ``agreements``, ``pairs``, ``annotators``,
``flags``, ``skips``), each returning plain typed rows; ``project_dashboard`` reads what they share
(the done judgments, the annotators' names, the answers per attribute, gold and competence scores)
once and composes them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count

from annotation.models import Assignment, AssignmentState, Item, Judgment, Project, Score, TaskType
from annotation.quality import agreement, competence
from annotation.quality.gold import gold_expected, gold_value, judgment_answer

PAIRS_SHOWN = 10
FLAGS_SHOWN = 100
SKIPS_SHOWN = 10

# What every panel reads of a done queue judgment: one query for them all.
JUDGMENT_FIELDS = (
    "id",
    "user_id",
    "outcome",
    "strength",
    "principles",
    "time_spent_ms",
    "assignment__item_id",
    "assignment__item__is_gold",
    "assignment__item__gold_answer",
    "assignment__item__gold_tolerance",
)

Triple = tuple[Hashable, Any, Any]  # (unit, annotator id, answer), as annotation/quality reads them
Name = str | int | None  # an annotator's username; the id when the account is not found


# --- what the page shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    value: float | None
    n_units: int
    n_pairable: int
    reason: str | None

    @classmethod
    def of(cls, result: agreement.Agreement) -> Metric:
        return cls(value=result.value, n_units=result.n_units, n_pairable=result.n_pairable, reason=result.reason)


@dataclass(frozen=True)
class Progress:
    items: int
    complete: int  # items with the project's overlap of answers
    annotations: int
    gold_annotations: int
    leased: int
    by_state: dict[str, int]


@dataclass(frozen=True)
class AgreementRow:
    attribute: str
    level: str
    alpha: Metric
    percent: Metric
    fleiss: Metric | None = None  # nominal answers where every item has the same number (>1) of them


@dataclass(frozen=True)
class PairRow:
    a: Name
    b: Name
    shared: int
    kappa: float | None
    reason: str | None


@dataclass(frozen=True)
class AnnotatorRow:
    name: Name
    done: int
    gold: float | None  # accuracy on gold items; None without gold answers
    gold_n: int
    competence: float | None  # Dawid–Skene accuracy


@dataclass(frozen=True)
class FlagRow:
    annotator: Name
    kind: str
    reason: str


@dataclass(frozen=True)
class Dashboard:
    progress: Progress
    agreements: list[AgreementRow]
    pairs: list[PairRow]
    annotators: list[AnnotatorRow]
    flags: list[FlagRow]
    skips: list[tuple[str, int]]  # (reason, count), the most frequent first


# --- what the panels share ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """The answers agreement is measured on: triples per attribute, at one level of measurement."""

    level: str
    by_attribute: dict[str, list[Triple]]
    main: list[Triple]  # the main categorical answer (the first attribute); none for Likert scores


@dataclass(frozen=True)
class Quality:
    gold: dict[Hashable, competence.GoldScore]  # by annotator id
    competence: dict[Hashable, float]  # Dawid–Skene accuracy by annotator id; pairwise and ternary only


def done_judgments(project: Project) -> list[dict]:
    return list(
        Judgment.objects.filter(assignment__item__project=project, assignment__state=AssignmentState.DONE).values(
            *JUDGMENT_FIELDS
        )
    )


def annotator_names(project: Project) -> dict[int, str]:
    ids = Assignment.objects.filter(item__project=project).values_list("annotator_id", flat=True).distinct()
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


def _regular(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r["assignment__item__is_gold"]]


def answers_by_attribute(project: Project, rows: list[dict]) -> Answers:
    """The answers on regular (not gold) items, by what they answer."""
    kind = project.task_type
    regular = _regular(rows)
    by_attribute: dict[str, list[Triple]] = defaultdict(list)
    level = "nominal"
    if kind in (TaskType.PAIRWISE, TaskType.TERNARY, TaskType.GRADED):
        level = "ordinal" if kind == TaskType.GRADED else "nominal"
        by_attribute["choice" if level == "nominal" else "strength"] = [
            (r["assignment__item_id"], r["user_id"], judgment_answer(r, kind)) for r in regular
        ]
    elif kind == TaskType.PRINCIPLES:
        for r in regular:
            for principle, value in (r["principles"] or {}).items():
                by_attribute[principle].append((r["assignment__item_id"], r["user_id"], value))
    elif kind == TaskType.LIKERT:
        level = "interval"
        gold_ids = {r["id"] for r in rows if r["assignment__item__is_gold"]}
        for judgment_id, user_id, item_id, position, attribute, value in Score.objects.filter(
            judgment__assignment__item__project=project
        ).values_list(
            "judgment_id", "judgment__user_id", "judgment__assignment__item_id", "position", "attribute", "value"
        ):
            if judgment_id not in gold_ids:
                by_attribute[attribute].append((f"{item_id}:{position}", user_id, value))
    main = next(iter(by_attribute.values()), []) if kind != TaskType.LIKERT else []
    return Answers(level=level, by_attribute=dict(by_attribute), main=main)


def quality_scores(project: Project, rows: list[dict], answers: Answers) -> Quality:
    """Gold accuracy per annotator, and Dawid–Skene competence on the main categorical answer."""
    kind = project.task_type
    gold_rows = [r for r in rows if r["assignment__item__is_gold"]]
    gold_answers = [(r["user_id"], r["assignment__item_id"], gold_value(r, kind)) for r in gold_rows]
    gold = {r["assignment__item_id"]: gold_expected(r) for r in gold_rows}
    ds_accuracy: dict = {}
    if kind in (TaskType.PAIRWISE, TaskType.TERNARY) and answers.main:
        try:
            ds_accuracy = competence.dawid_skene([(user, unit, value) for unit, user, value in answers.main]).accuracy
        except competence.CompetenceError:
            ds_accuracy = {}
    return Quality(gold=competence.gold_accuracy(gold_answers, gold), competence=ds_accuracy)


# --- the panels ---------------------------------------------------------------------------------


def progress(project: Project, rows: list[dict]) -> Progress:
    items = Item.objects.filter(project=project, is_gold=False, retired=False)  # a retired item needs no more
    assignments = Assignment.objects.filter(item__project=project)
    regular = len(_regular(rows))
    return Progress(
        items=items.count(),
        complete=items.filter(done__gte=project.overlap).count(),
        annotations=regular,
        gold_annotations=len(rows) - regular,
        leased=assignments.filter(state=AssignmentState.LEASED).count(),
        by_state=dict(assignments.values_list("state").annotate(n=Count("id")).order_by()),
    )


def agreements(answers: Answers) -> list[AgreementRow]:
    rows = []
    for attribute, triples in sorted(answers.by_attribute.items()):
        if not triples:
            continue
        data = agreement.reliability_matrix(triples)
        fleiss = None
        if answers.level == "nominal":
            per_item = Counter(unit for unit, _, _ in triples)
            if per_item and len(set(per_item.values())) == 1 and next(iter(per_item.values())) > 1:
                fleiss = Metric.of(agreement.fleiss_kappa(data))
        rows.append(
            AgreementRow(
                attribute=attribute,
                level=answers.level,
                alpha=Metric.of(agreement.krippendorff_alpha(data, answers.level)),
                percent=Metric.of(agreement.percent_agreement(data)),
                fleiss=fleiss,
            )
        )
    return rows


def pairs(project: Project, answers: Answers, names: dict[int, str]) -> list[PairRow]:
    """Cohen's κ on the main answer for the annotator pairs who share the most items (two or more)."""
    if not answers.main:
        return []
    by_user: dict[Any, dict] = defaultdict(dict)
    for unit, user, value in answers.main:
        by_user[user][unit] = value
    shared = sorted(
        ((len(by_user[a].keys() & by_user[b].keys()), a, b) for a, b in combinations(by_user, 2)),
        reverse=True,
    )[:PAIRS_SHOWN]
    rows = []
    for count, a, b in shared:
        if count < 2:
            continue
        units = sorted(by_user[a].keys() & by_user[b].keys())
        kappa = agreement.cohen_kappa(
            [by_user[a][u] for u in units],
            [by_user[b][u] for u in units],
            weights="linear" if project.task_type == TaskType.GRADED else None,
        )
        rows.append(PairRow(a=names.get(a, a), b=names.get(b, b), shared=count, kappa=kappa.value, reason=kappa.reason))
    return rows


def annotators(rows: list[dict], quality: Quality, names: dict[int, str]) -> list[AnnotatorRow]:
    """Everyone who answered, the most answers first."""
    done = Counter(r["user_id"] for r in rows)
    return [
        AnnotatorRow(
            name=names.get(user, user),
            done=done[user],
            gold=quality.gold[user].accuracy if user in quality.gold else None,
            gold_n=quality.gold[user].total if user in quality.gold else 0,
            competence=quality.competence.get(user),
        )
        for user in sorted(done, key=lambda u: -done[u])
    ]


def flags(rows: list[dict], quality: Quality, names: dict[int, str]) -> list[FlagRow]:
    """Low accuracy on gold or by Dawid–Skene, and answers faster than the settings allow."""
    threshold = settings.AGORA_QUALITY_MIN_ACCURACY
    found = competence.flag_low_accuracy(quality.gold, threshold=threshold, min_answers=3)
    found += competence.flag_low_accuracy(quality.competence, threshold=threshold, source="Dawid–Skene")
    timings = [
        (r["user_id"], r["assignment__item_id"], r["time_spent_ms"] / 1000)
        for r in rows
        if r["time_spent_ms"] is not None
    ]
    if timings:
        found += competence.flag_fast_answers(
            timings,
            min_seconds=settings.AGORA_QUALITY_MIN_SECONDS,
            median_fraction=settings.AGORA_QUALITY_MEDIAN_FRACTION,
        )
    return [FlagRow(annotator=names.get(f.annotator, f.annotator), kind=f.kind, reason=f.reason) for f in found][
        :FLAGS_SHOWN
    ]


def skips(project: Project) -> list[tuple[str, int]]:
    reasons = Counter(
        Assignment.objects.filter(item__project=project, state=AssignmentState.SKIPPED).values_list(
            "skip_reason", flat=True
        )
    )
    return reasons.most_common(SKIPS_SHOWN)


def project_dashboard(project: Project) -> Dashboard:
    rows = done_judgments(project)
    names = annotator_names(project)
    answers = answers_by_attribute(project, rows)
    quality = quality_scores(project, rows, answers)
    return Dashboard(
        progress=progress(project, rows),
        agreements=agreements(answers),
        pairs=pairs(project, answers, names),
        annotators=annotators(rows, quality, names),
        flags=flags(rows, quality, names),
        skips=skips(project),
    )
