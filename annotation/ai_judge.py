"""AI pre-annotation: a registered model judges a project's items, in both candidate orders.

LLM judges favour a position (Wang et al., "Large Language Models are not Fair Evaluators"), so
every item is judged twice, with the candidates swapped, and the two verdicts are averaged into a
soft preference. Where the two orders disagree the judge is unsure: the item is routed to humans
first (its queue priority goes up), and so is an item where the first human disagrees with the
judge (Hybrid Preferences: humans where the AI is least reliable).

The judge's answer must end with [[A]], [[B]] or [[C]] (a tie), as in MT-Bench's pairwise prompt.

This module holds what annotation owns: which items a judge has yet to judge, the prompts, reading
the verdicts, storing the judgments and the routing. Looking the model up and asking it is arena's
(arena/pre_annotation.py), which knows the registered models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from annotation import live
from annotation.models import Item, JudgeKind, Judgment, Project, Source

DEFAULT_TEMPLATE = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
    "to the user question displayed below. Choose the assistant that follows the user's instructions and "
    "answers the user's question better. Avoid any position biases and do not let the length of the responses "
    "influence your evaluation. After a short explanation, output your final verdict strictly in this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.\n\n'
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)
_VERDICT = re.compile(r"\[\[([ABC])\]\]")
ROUTE_PRIORITY = 1  # items the judge is unsure of go before the rest


def parse_verdict(text: str) -> float | None:
    """P(A is better) from a judge's answer: 1, 0, ½ for a tie; None when it gave no verdict (the last one counts)."""
    found = _VERDICT.findall(text or "")
    if not found:
        return None
    return {"A": 1.0, "B": 0.0, "C": 0.5}[found[-1]]


def judge_prompt(template: str, question: str, answer_a: str, answer_b: str) -> list[dict]:
    return [{"role": "user", "content": template.format(question=question, answer_a=answer_a, answer_b=answer_b)}]


@dataclass
class JudgeReport:
    judged: int = 0
    disagreed: int = 0
    failed: int = 0


def judge_label(model_name: str) -> str:
    """The judge of a model's judgments."""
    return f"ai:{model_name}"


def judge_template(project: Project, template: str = "") -> str:
    """The prompt template: the one given, else the project's, else MT-Bench's."""
    return template or project.config.get("judge_template") or DEFAULT_TEMPLATE


def items_to_judge(*, project: Project, judge: str, limit: int) -> list[Item]:
    """Up to ``limit`` two-candidate items of the project that this judge has not judged yet."""
    items = list(
        Item.objects.filter(project=project)
        .exclude(comparison__judgments__judge=judge, comparison__judgments__source=Source.AI)
        .select_related("comparison")
        .prefetch_related("comparison__candidates")[:limit]
    )
    return [i for i in items if len(i.comparison.candidates.all()) == 2]


def judge_requests(items: list[Item], template: str) -> list[list[dict]]:
    """Two prompts per item, in the items' order: its candidates by position, then swapped."""
    requests = []
    for item in items:
        first, second = sorted(item.comparison.candidates.all(), key=lambda c: c.position)
        question = item.comparison.prompt
        requests.append(judge_prompt(template, question, first.text, second.text))
        requests.append(judge_prompt(template, question, second.text, first.text))
    return requests


def judgments_record(
    *, project: Project, items: list[Item], model_name: str, answers: list[tuple[str, str]]
) -> JudgeReport:
    """Store the model's verdicts on the items as AI judgments and suggestions.

    ``answers`` holds the judge's (text, error) for each of ``judge_requests(items, …)``, in order;
    the error is empty where the model answered. An item without a verdict in both orders is counted
    as failed and left as it was.
    """
    judge = judge_label(model_name)
    report = JudgeReport()
    now = timezone.now()
    for index, item in enumerate(items):
        (forward, forward_error), (backward, backward_error) = answers[2 * index], answers[2 * index + 1]
        p_forward = parse_verdict(forward) if not forward_error else None
        p_backward = parse_verdict(backward) if not backward_error else None
        if p_forward is None or p_backward is None:
            report.failed += 1
            continue
        # The swapped order's verdict is about position 1 as "A": turn it back into P(position 0 wins).
        preference = (p_forward + (1.0 - p_backward)) / 2
        agree = p_forward == 1.0 - p_backward
        outcome = "a" if preference > 0.5 else "b" if preference < 0.5 else "tie"
        with transaction.atomic():
            Judgment.objects.create(
                comparison=item.comparison,
                source=Source.AI,
                judge_kind=JudgeKind.AI,
                judge=judge,
                outcome=outcome,
                preference=preference,
                display_order=[0, 1],
                rationale=forward[-2000:],
                created_at=now,
                metadata={
                    "project": project.slug,
                    "verdicts": [p_forward, p_backward],
                    "orders_agree": agree,
                    "swapped_rationale": backward[-2000:],
                },
            )
            suggestion = {"outcome": outcome, "preference": preference, "orders_agree": agree, "judge": model_name}
            updates = {"suggestion": suggestion}
            if not agree:
                updates["priority"] = ROUTE_PRIORITY
                report.disagreed += 1
            Item.objects.filter(pk=item.pk).update(**updates)
        report.judged += 1
    if report.judged:
        live.votes_arrived(report.judged)
    return report


def route_after_human(item: Item, outcome: str | None) -> None:
    """The first human answer on a judged item: if it contradicts the judge, more humans look first."""
    suggestion = item.suggestion or {}
    if outcome and suggestion.get("outcome") and outcome != suggestion["outcome"] and item.priority < ROUTE_PRIORITY:
        Item.objects.filter(pk=item.pk).update(priority=ROUTE_PRIORITY)
