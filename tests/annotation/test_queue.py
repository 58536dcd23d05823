"""The task queue under concurrency, and its rules one by one."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Assignment, AssignmentState, Item, Judgment, Source
from annotation.queue import (
    LeaseLost,
    QueueEmpty,
    QueueError,
    assignment_claim,
    assignment_skip,
    assignment_submit,
    leases_expire,
)
from tests.annotation.queue_data import annotators, project_with_items


def _check_counters(project) -> None:
    """taken/open/done must equal what the assignments say."""
    now = timezone.now()
    for item in Item.objects.filter(project=project).annotate(
        live=Count("assignments", filter=Q(assignments__state="leased")),
        completed=Count("assignments", filter=Q(assignments__state="done")),
    ):
        assert item.taken == item.live + item.completed, item
        assert item.done == item.completed, item
        assert item.open == (item.is_gold or item.taken < project.overlap), item
    assert not Assignment.objects.filter(state="leased", expires_at__lt=now - timedelta(seconds=30)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_hundred_annotators_hammering_the_queue_keep_every_rule():
    project = project_with_items(150, overlap=3, lease_seconds=10)
    people = annotators(project, 100)
    submitted: list[tuple[int, int]] = []  # (annotator, judgment) for every accepted submit
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = time.monotonic() + 25

    def annotator(user, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < stop:
                try:
                    assignment = assignment_claim(project=project, annotator=user, rng=rng)
                except QueueEmpty:
                    break
                roll = rng.random()
                if roll < 0.05:
                    # Walk away: the lease must expire and the item come back.
                    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now())
                    continue
                if roll < 0.10:
                    assignment_skip(assignment_id=assignment.pk, annotator=user, reason="unclear")
                    continue
                try:
                    judgment, created = assignment_submit(
                        assignment_id=assignment.pk, annotator=user, data={"choice": rng.choice(["left", "right"])}
                    )
                except LeaseLost:
                    continue
                if created:
                    with lock:
                        submitted.append((user.pk, judgment.pk))
                if roll > 0.95:  # a retried POST: the same answer again must not store a second one
                    again, created = assignment_submit(
                        assignment_id=assignment.pk,
                        annotator=user,
                        data={"choice": "left" if judgment.outcome == "a" else "right"}
                        if assignment.display_order == [0, 1]
                        else {"choice": "right" if judgment.outcome == "a" else "left"},
                    )
                    assert not created and again.pk == judgment.pk
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    def reaper() -> None:
        try:
            while time.monotonic() < stop + 1:
                leases_expire()
                time.sleep(0.2)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotator, args=(u, i)) for i, u in enumerate(people)]
    threads.append(threading.Thread(target=reaper))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    leases_expire(now=timezone.now() + timedelta(days=1))  # whatever is still leased has run out by then

    judgments = Judgment.objects.filter(source=Source.QUEUE)
    assert judgments.count() == len(submitted), "an accepted submission was lost or doubled"
    assert set(judgments.values_list("pk", flat=True)) == {j for _, j in submitted}
    per_person_item = Counter(judgments.values_list("comparison_id", "judge"))
    assert max(per_person_item.values()) == 1, "an annotator annotated an item twice"
    per_item = Counter(judgments.values_list("comparison_id", flat=True))
    assert max(per_item.values()) <= 3, "an item has more annotations than the overlap"
    assert not Assignment.objects.filter(state=AssignmentState.LEASED).exists(), "a lease outlived its time"
    _check_counters(project)
    assert len(submitted) > 150, "the run did not exercise the queue"


@pytest.mark.django_db
def test_a_live_lease_comes_back_before_a_new_one():
    project = project_with_items(3, overlap=1)
    (user,) = annotators(project, 1)
    first = assignment_claim(project=project, annotator=user)
    assert assignment_claim(project=project, annotator=user).pk == first.pk
    assignment_submit(assignment_id=first.pk, annotator=user, data={"choice": "left"})
    second = assignment_claim(project=project, annotator=user)
    assert second.item_id != first.item_id


@pytest.mark.django_db
def test_the_empty_queue_says_why():
    project = project_with_items(1, overlap=2)
    alice, bob, carol = annotators(project, 3)
    a = assignment_claim(project=project, annotator=alice)
    b = assignment_claim(project=project, annotator=bob)
    with pytest.raises(QueueEmpty, match="being worked on by someone else"):
        assignment_claim(project=project, annotator=carol)
    assignment_submit(assignment_id=a.pk, annotator=alice, data={"choice": "left"})
    with pytest.raises(QueueEmpty, match="done every item"):
        assignment_claim(project=project, annotator=alice)
    assignment_submit(assignment_id=b.pk, annotator=bob, data={"choice": "right"})
    with pytest.raises(QueueEmpty, match="already has its 2 annotations"):
        assignment_claim(project=project, annotator=carol)


@pytest.mark.django_db
def test_an_expired_lease_goes_back_and_a_late_answer_is_taken_only_if_there_is_room():
    project = project_with_items(1, overlap=1)
    alice, bob = annotators(project, 2)
    lease = assignment_claim(project=project, annotator=alice)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_expire() == 1
    # Room left: Alice's late answer is still stored.
    judgment, created = assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "left"})
    assert created and Item.objects.get().done == 1
    # No room: Bob's late answer after the item went to Carol is refused, and says so.
    project2 = project_with_items(1, overlap=1, slug="q")
    (carol,) = annotators(project2, 1, prefix="carol")
    late = assignment_claim(project=project2, annotator=bob)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    leases_expire()
    assignment_claim(project=project2, annotator=carol)
    with pytest.raises(LeaseLost, match="ran out"):
        assignment_submit(assignment_id=late.pk, annotator=bob, data={"choice": "left"})
    _check_counters(project2)


@pytest.mark.django_db
def test_skip_needs_a_reason_and_never_comes_back_to_the_same_person():
    project = project_with_items(1, overlap=1)
    alice, bob = annotators(project, 2)
    lease = assignment_claim(project=project, annotator=alice)
    with pytest.raises(QueueError, match="why"):
        assignment_skip(assignment_id=lease.pk, annotator=alice, reason=" ")
    assignment_skip(assignment_id=lease.pk, annotator=alice, reason="not my language")
    with pytest.raises(QueueEmpty):
        assignment_claim(project=project, annotator=alice)
    assert assignment_claim(project=project, annotator=bob).item_id == lease.item_id
    _check_counters(project)


@pytest.mark.django_db
def test_someone_elses_task_and_a_changed_answer_are_refused():
    project = project_with_items(1, overlap=2)
    alice, bob = annotators(project, 2)
    lease = assignment_claim(project=project, annotator=alice)
    with pytest.raises(QueueError, match="not yours"):
        assignment_submit(assignment_id=lease.pk, annotator=bob, data={"choice": "left"})
    assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "left"})
    with pytest.raises(QueueError, match="cannot be changed"):
        assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "right"})


@pytest.mark.django_db
def test_gold_items_are_mixed_in_at_the_ratio_and_do_not_count_against_overlap():
    project = project_with_items(40, overlap=1, gold=5, gold_ratio=0.5)
    (user,) = annotators(project, 1)
    rng = random.Random(3)
    gold_served = 0
    for _ in range(30):
        lease = assignment_claim(project=project, annotator=user, rng=rng)
        gold_served += lease.item.is_gold
        assignment_submit(assignment_id=lease.pk, annotator=user, data={"choice": "left"})
    assert gold_served == 5, "every gold item once, and no more"
    assert Item.objects.filter(is_gold=True, open=True).count() == 5
