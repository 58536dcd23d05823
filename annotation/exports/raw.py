"""The raw export: one JSON line per judgment, with everything.

Each line holds the comparison (key, context, category, language, source,
metadata, created_at), its candidates and the judgment (judge, display order,
outcome, strength, both-bad, preference, ranking, principles, scores,
rationale, time spent, metadata, created_at). Database ids are left out and rows
are ordered by comparison key, source and judge, so the same data gives the
same bytes in any database; ``import_judgments --format agora`` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from annotation.models import Candidate, Judgment, Score

FORMAT_VERSION = 1


def raw_queryset(queryset: QuerySet[Judgment] | None = None) -> QuerySet[Judgment]:
    queryset = Judgment.objects.all() if queryset is None else queryset
    return (
        queryset.select_related("comparison")
        .prefetch_related(
            Prefetch("comparison__candidates", queryset=Candidate.objects.order_by("position")),
            Prefetch("scores", queryset=Score.objects.order_by("position", "attribute")),
        )
        .order_by("comparison__key", "source", "judge")
    )


def judgment_to_raw(judgment: Judgment) -> dict:
    comparison = judgment.comparison
    return {
        "agora_raw": FORMAT_VERSION,
        "comparison": {
            "key": comparison.key,
            "context": comparison.context,
            "category": comparison.category,
            "language": comparison.language,
            "source": comparison.source,
            "metadata": comparison.metadata,
            "created_at": comparison.created_at.isoformat(),
        },
        "candidates": [
            {
                "position": c.position,
                "model": c.model,
                "text": c.text,
                "conversation": c.conversation,
                "output_tokens": c.output_tokens,
                "latency_ms": c.latency_ms,
                "finish_reason": c.finish_reason,
                "metadata": c.metadata,
            }
            for c in comparison.candidates.all()
        ],
        "judgment": {
            "source": judgment.source,
            "judge_kind": judgment.judge_kind,
            "judge": judgment.judge,
            "display_order": judgment.display_order,
            "outcome": judgment.outcome,
            "strength": judgment.strength,
            "both_bad": judgment.both_bad,
            "preference": judgment.preference,
            "ranking": judgment.ranking,
            "principles": judgment.principles,
            "scores": [{"position": s.position, "attribute": s.attribute, "value": s.value}
                       for s in judgment.scores.all()],
            "rationale": judgment.rationale,
            "time_spent_ms": judgment.time_spent_ms,
            "metadata": judgment.metadata,
            "created_at": judgment.created_at.isoformat(),
        },
    }


def raw_lines(queryset: QuerySet[Judgment] | None = None, chunk_size: int = 2000) -> Iterator[str]:
    """JSON lines in a stable order, streamed from the database in chunks."""
    for judgment in raw_queryset(queryset).iterator(chunk_size=chunk_size):
        yield json.dumps(judgment_to_raw(judgment), ensure_ascii=False, sort_keys=True) + "\n"
