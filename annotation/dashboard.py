"""What a project's owners see: progress, agreement, annotator quality and flags.

Reads the project's queue judgments once and hands plain triples to annotation/quality. Which
agreement fits depends on the answer: nominal α for choices and principle checks, ordinal α for
graded strengths, interval α for Likert scores (per attribute); Fleiss' κ where every item has
the same number of answers; Cohen's κ for the annotator pairs who share the most items.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

from django.conf import settings
from django.db.models import Count

from annotation.models import Assignment, AssignmentState, Item, Judgment, Project, Score, TaskType
from annotation.quality import agreement, competence
from annotation.quality.gold import gold_expected, gold_value, judgment_answer

PAIRS_SHOWN = 10


def _names(project: Project) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    ids = Assignment.objects.filter(item__project=project).values_list("annotator_id", flat=True).distinct()
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


def _metric(result: agreement.Agreement) -> dict:
    return {"value": result.value, "n_units": result.n_units, "n_pairable": result.n_pairable, "reason": result.reason}


def project_dashboard(project: Project) -> dict:
    kind = project.task_type
    names = _names(project)
    rows = list(
        Judgment.objects.filter(assignment__item__project=project, assignment__state=AssignmentState.DONE).values(
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
    )
    regular = [r for r in rows if not r["assignment__item__is_gold"]]
    by_attribute: dict[str, list[tuple]] = defaultdict(list)
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

    agreements = []
    for attribute, triples in sorted(by_attribute.items()):
        if not triples:
            continue
        data = agreement.reliability_matrix(triples)
        entry = {
            "attribute": attribute,
            "level": level,
            "alpha": _metric(agreement.krippendorff_alpha(data, level)),
            "percent": _metric(agreement.percent_agreement(data)),
        }
        if level == "nominal":
            per_item = Counter(unit for unit, _, _ in triples)
            if per_item and len(set(per_item.values())) == 1 and next(iter(per_item.values())) > 1:
                entry["fleiss"] = _metric(agreement.fleiss_kappa(data))
        agreements.append(entry)

    pairs = []
    main = next(iter(by_attribute.values()), []) if kind != TaskType.LIKERT else []
    if main:
        answers: dict[int, dict] = defaultdict(dict)
        for unit, user, value in main:
            answers[user][unit] = value
        shared = sorted(
            ((len(answers[a].keys() & answers[b].keys()), a, b) for a, b in combinations(answers, 2)),
            reverse=True,
        )[:PAIRS_SHOWN]
        for count, a, b in shared:
            if count < 2:
                continue
            units = sorted(answers[a].keys() & answers[b].keys())
            kappa = agreement.cohen_kappa(
                [answers[a][u] for u in units],
                [answers[b][u] for u in units],
                weights="linear" if kind == TaskType.GRADED else None,
            )
            pairs.append(
                {
                    "a": names.get(a, a),
                    "b": names.get(b, b),
                    "shared": count,
                    "kappa": kappa.value,
                    "reason": kappa.reason,
                }
            )

    # Quality: gold accuracy, Dawid–Skene competence on the main categorical answer, speed.
    gold_answers = [
        (r["user_id"], r["assignment__item_id"], gold_value(r, kind)) for r in rows if r["assignment__item__is_gold"]
    ]
    gold = {r["assignment__item_id"]: gold_expected(r) for r in rows if r["assignment__item__is_gold"]}
    gold_scores = competence.gold_accuracy(gold_answers, gold)
    ds_accuracy: dict = {}
    if kind in (TaskType.PAIRWISE, TaskType.TERNARY) and main:
        try:
            ds_accuracy = competence.dawid_skene([(user, unit, value) for unit, user, value in main]).accuracy
        except competence.CompetenceError:
            ds_accuracy = {}
    threshold = settings.AGORA_QUALITY_MIN_ACCURACY
    flags = competence.flag_low_accuracy(gold_scores, threshold=threshold, min_answers=3)
    flags += competence.flag_low_accuracy(ds_accuracy, threshold=threshold, source="Dawid–Skene")
    timings = [
        (r["user_id"], r["assignment__item_id"], r["time_spent_ms"] / 1000)
        for r in rows
        if r["time_spent_ms"] is not None
    ]
    if timings:
        flags += competence.flag_fast_answers(
            timings,
            min_seconds=settings.AGORA_QUALITY_MIN_SECONDS,
            median_fraction=settings.AGORA_QUALITY_MEDIAN_FRACTION,
        )
    done = Counter(r["user_id"] for r in rows)
    annotators = [
        {
            "name": names.get(user, user),
            "done": done[user],
            "gold": gold_scores[user].accuracy if user in gold_scores else None,
            "gold_n": gold_scores[user].total if user in gold_scores else 0,
            "competence": ds_accuracy.get(user),
        }
        for user in sorted(done, key=lambda u: -done[u])
    ]
    items = Item.objects.filter(project=project, is_gold=False)
    skips = Counter(
        Assignment.objects.filter(item__project=project, state=AssignmentState.SKIPPED).values_list(
            "skip_reason", flat=True
        )
    )
    return {
        "items": items.count(),
        "complete": items.filter(done__gte=project.overlap).count(),
        "annotations": len(regular),
        "gold_annotations": len(rows) - len(regular),
        "leased": Assignment.objects.filter(item__project=project, state=AssignmentState.LEASED).count(),
        "by_state": dict(
            Assignment.objects.filter(item__project=project).values_list("state").annotate(n=Count("id")).order_by()
        ),
        "agreements": agreements,
        "pairs": pairs,
        "annotators": annotators,
        "flags": [
            {"annotator": names.get(f.annotator, f.annotator), "kind": f.kind, "reason": f.reason} for f in flags
        ][:100],
        "skips": skips.most_common(10),
    }
