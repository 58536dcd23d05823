"""The owners' dashboard: numbers from the quality modules on real submissions, and who may see it."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotation.models import Assignment, Membership, Role
from annotation.quality import agreement
from annotation.queue import QueueEmpty, assignment_claim, assignment_submit
from tests.annotation.queue_data import annotators, project_with_items

pytestmark = pytest.mark.django_db


def _work(project, people, answer) -> list[tuple]:
    """Everyone works the queue in turns until it is dry; ``answer(user, item)`` gives 'a' or 'b' in data terms."""
    rng = random.Random(1)
    triples = []
    active = list(people)
    while active:
        for user in list(active):
            try:
                lease = assignment_claim(project=project, annotator=user, rng=rng)
            except QueueEmpty:
                active.remove(user)
                continue
            outcome = answer(user, lease.item)
            shown = "left" if (lease.display_order[0] == 0) == (outcome == "a") else "right"
            assignment_submit(assignment_id=lease.pk, annotator=user, data={"choice": shown}, time_spent_ms=5000)
            if not lease.item.is_gold:
                triples.append((lease.item_id, user.pk, outcome))
    return triples


def test_the_dashboard_shows_agreement_quality_and_flags(client, login):
    project = project_with_items(12, overlap=3, gold=4, gold_ratio=0.5)
    people = annotators(project, 4)
    careless = people[3]

    def answer(user, item):
        if item.is_gold:
            return "b" if user == careless else "a"  # gold answer is "a"
        return "a" if (item.pk % 3 or user == careless) else "b"

    triples = _work(project, people, answer)
    Assignment.objects.filter(annotator=careless).update(finished_at=timezone.now())
    owner = User.objects.create_user("olive")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    login(owner)
    page = client.get(f"/annotate/{project.slug}/dashboard/").content.decode()
    expected = agreement.krippendorff_alpha(agreement.reliability_matrix(triples), "nominal").value
    assert f"{expected:.3f}" in page
    assert "Krippendorff" in page and "Dawid" in page
    assert "ann3" in page and "gold accuracy 0.00" in page  # the careless one is flagged on gold


def test_only_owners_and_staff_see_the_dashboard(client, login):
    project = project_with_items(2, overlap=1)
    (annotator,) = annotators(project, 1)
    reviewer = User.objects.create_user("rev")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    for user in (annotator, reviewer):
        login(user)
        assert client.get(f"/annotate/{project.slug}/dashboard/").status_code == 404
    login(User.objects.create_user("boss", is_staff=True))
    assert client.get(f"/annotate/{project.slug}/dashboard/").status_code == 200
    client.logout()
    assert client.get(f"/annotate/{project.slug}/dashboard/").status_code == 302


def test_an_empty_project_dashboard_says_so(client, login):
    project = project_with_items(0, overlap=1, slug="empty")
    owner = User.objects.create_user("own")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    login(owner)
    page = client.get("/annotate/empty/dashboard/").content.decode()
    assert "No item has two annotations yet" in page and "No annotations yet" in page and "nan" not in page.lower()
