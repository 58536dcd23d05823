"""Projects with items for the queue tests."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotation.models import Candidate, Comparison, Item, Membership, Project, Role, Source


def project_with_items(
    n_items: int, *, overlap: int = 3, slug: str = "p", gold: int = 0, candidates: int = 2, **fields
) -> Project:
    project = Project.objects.create(name=slug.title(), slug=slug, overlap=overlap, **fields)
    now = timezone.now()
    comparisons = Comparison.objects.bulk_create(
        Comparison(
            key=f"{slug}:{i}",
            context=[{"role": "user", "content": f"question {i}"}],
            prompt=f"question {i}",
            source=Source.IMPORT,
            created_at=now,
        )
        for i in range(n_items + gold)
    )
    Candidate.objects.bulk_create(
        Candidate(comparison=c, position=p, model=f"model-{p}", text=f"answer {p} to {c.prompt}")
        for c in comparisons
        for p in range(candidates)
    )
    Item.objects.bulk_create(
        Item(project=project, comparison=c, is_gold=i >= n_items, gold_answer={"choice": "a"} if i >= n_items else None)
        for i, c in enumerate(comparisons)
    )
    return project


def annotators(project: Project, n: int, prefix: str = "ann") -> list:
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"{prefix}{i}") for i in range(n))
    users = list(User.objects.filter(username__startswith=prefix).order_by("id"))
    Membership.objects.bulk_create(Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users)
    return users
