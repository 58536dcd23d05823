"""Filling a project's queue from files and from arena battles."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.models import Candidate, Comparison, Item, Project, Source
from annotation.queue import QueueEmpty, assignment_claim, assignment_submit
from tests.annotation.queue_data import annotators

pytestmark = pytest.mark.django_db


def _project(slug: str = "p", **fields) -> Project:
    return Project.objects.create(name=slug, slug=slug, **fields)


def _run(*args) -> str:
    out = io.StringIO()
    call_command("project_items", *args, stdout=out)
    return out.getvalue()


def test_jsonl_items_with_gold_import_once(tmp_path):
    project = _project()
    path = tmp_path / "items.jsonl"
    records = [
        {
            "id": "q1",
            "prompt": "Name a prime.",
            "candidates": [{"model": "m1", "text": "7"}, {"model": "m2", "text": "**9**"}],
        },
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "candidates": [{"model": "m1", "text": "Hello"}, {"model": "m3", "text": "Hey"}],
            "category": "chat",
        },
        {"id": "gold-1", "prompt": "2+2?", "candidates": [{"text": "4"}, {"text": "5"}], "gold": {"choice": "a"}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert "3 items added" in _run("p", "--file", str(path))
    assert "0 items added, 3 already" in _run("p", "--file", str(path))
    assert Item.objects.filter(project=project, is_gold=True).get().gold_answer == {"choice": "a"}
    assert Comparison.objects.get(key="project:p:q1").prompt == "Name a prime."
    bold = Candidate.objects.get(comparison__key="project:p:q1", position=1)
    assert bold.style_bold == 1 and bold.model == "m2"


def test_csv_items(tmp_path):
    _project()
    path = tmp_path / "items.csv"
    path.write_text("prompt,response_a,response_b,model_a\nWhy?,Because.,No idea.,alpha\n")
    assert "1 items added" in _run("p", "--file", str(path))
    models = list(Candidate.objects.order_by("position").values_list("model", flat=True))
    assert models == ["alpha", "B"]


def test_a_bad_record_rejects_the_file_naming_its_line(tmp_path):
    _project()
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"prompt": "ok", "candidates": [{"text": "a"}, {"text": "b"}]})
        + "\n"
        + json.dumps({"prompt": "", "candidates": []})
        + "\n"
        + "{not json\n"
    )
    with pytest.raises(CommandError) as caught:
        _run("p", "--file", str(path))
    message = str(caught.value)
    assert "line 2" in message and "line 3" in message and "nothing was imported" in message
    assert not Item.objects.exists() and not Comparison.objects.exists()
    with pytest.raises(CommandError, match="no project"):
        _run("nope", "--file", str(path))


def test_battles_become_items_and_one_person_judges_a_shared_comparison_once():
    now = timezone.now()
    for i in range(3):
        c = Comparison.objects.create(
            key=f"arena:{i}",
            context=[{"role": "user", "content": "q"}],
            prompt="q",
            source=Source.ARENA,
            created_at=now,
        )
        Candidate.objects.bulk_create(Candidate(comparison=c, position=p, model=f"m{p}", text="t") for p in (0, 1))
    first, second = _project("first"), _project("second")
    assert "3 arena battles added" in _run("first", "--from-battles", "10")
    assert "0 arena battles" in _run("first", "--from-battles", "10")
    _run("second", "--from-battles", "1")
    (alice,) = annotators(first, 1)
    lease = assignment_claim(project=second, annotator=alice)
    assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "left"})
    served = set()
    while True:
        try:
            lease = assignment_claim(project=first, annotator=alice)
        except QueueEmpty:
            break
        served.add(lease.item.comparison_id)
        assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": "left"})
    assert len(served) == 2, "the comparison judged in the other project is not served again"


def _planner_rows() -> float:
    """How many rows PostgreSQL's planner believes annotation_item holds (set by ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'annotation_item'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_new_items_refresh_the_planners_statistics(tmp_path):
    """Without it a new project's claims sort all its open items instead of walking the queue's index."""
    _project()
    path = tmp_path / "items.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": f"Question {i}?", "candidates": [{"text": "yes"}, {"text": "no"}]})
            + "\n"
            for i in range(30)
        )
    )
    _run("p", "--file", str(path))
    assert _planner_rows() == Item.objects.count() == 30
    path.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "prompt": f"Other {i}?", "candidates": [{"text": "yes"}, {"text": "no"}]}) + "\n"
            for i in range(12)
        )
    )
    _run("p", "--file", str(path))
    assert _planner_rows() == 42


@pytest.mark.django_db(transaction=True)
def test_the_same_push_twice_at_once_adds_each_item_once():
    """A client's retry racing its first try: both arrive together (a barrier), one writes, the other finds
    the rows; neither fails on the unique key."""
    import threading

    from django.db import connection

    from annotation.imports.records import Record
    from annotation.items import items_import_records

    project = Project.objects.create(name="Race", slug="race")
    records = [
        {"id": f"r{i}", "prompt": f"q{i}", "candidates": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]}
        for i in range(50)
    ]
    barrier, reports, errors = threading.Barrier(2), [], []

    def push():
        try:
            barrier.wait()
            reports.append(
                items_import_records(project=project, records=[Record(i + 1, r) for i, r in enumerate(records)])
            )
        except Exception as error:  # noqa: BLE001 - any failure is the test's finding
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.added for r in reports) == [0, 50] and sorted(r.already for r in reports) == [0, 50]
    assert Item.objects.filter(project=project).count() == 50
