"""AI pre-annotation against our loopback OpenAI-compatible server: both orders, routing, suggestions."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from annotation.models import Candidate, Item, Judgment, Source
from annotation.queue import assignment_claim, assignment_submit
from arena.pre_annotation import JudgeError, project_pre_annotate
from arena.registry import model_register
from tests.annotation.queue_data import annotators, project_with_items
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def judge_server():
    with FakeOpenAIServer(tokens=8, rate=2000) as server:
        yield server


def _judge(name: str, model_id: str, url: str) -> str:
    model_register(name=name, backend="openai", endpoint=url, model_id=model_id, timeout_s=10.0)
    return name


def test_a_consistent_judge_suggests_and_a_position_biased_one_routes_items_to_humans(judge_server):
    project = project_with_items(3, overlap=2)
    # Make position 1 the longer answer everywhere: the consistent judge prefers it in both orders.
    for c in Candidate.objects.filter(position=1):
        Candidate.objects.filter(pk=c.pk).update(text=c.text + " with much more detail")
    consistent = project_pre_annotate(
        project=project, model_name=_judge("Long judge", "fake-judge-long", judge_server.url)
    )
    assert (consistent.judged, consistent.disagreed, consistent.failed) == (3, 0, 0)
    for item in Item.objects.all():
        assert item.suggestion["outcome"] == "b" and item.suggestion["orders_agree"] and item.priority == 0
    judgments = Judgment.objects.filter(source=Source.AI, judge="ai:Long judge")
    assert judgments.count() == 3 and {j.preference for j in judgments} == {0.0}

    biased = project_pre_annotate(
        project=project, model_name=_judge("First judge", "fake-judge-first", judge_server.url)
    )
    assert (biased.judged, biased.disagreed) == (3, 3)
    assert {j.preference for j in Judgment.objects.filter(judge="ai:First judge")} == {0.5}
    assert set(Item.objects.values_list("priority", flat=True)) == {1}
    again = project_pre_annotate(project=project, model_name="First judge")
    assert again.judged == 0, "an item is judged once per judge"


def test_a_human_who_contradicts_the_judge_sends_the_item_to_more_humans_first(judge_server):
    project = project_with_items(2, overlap=3)
    for c in Candidate.objects.filter(position=1):
        Candidate.objects.filter(pk=c.pk).update(text=c.text + " with much more detail")
    project_pre_annotate(project=project, model_name=_judge("Long judge", "fake-judge-long", judge_server.url))
    (alice,) = annotators(project, 1)
    lease = assignment_claim(project=project, annotator=alice)
    # Alice prefers position 0; the judge said position 1.
    shown = "left" if lease.display_order[0] == 0 else "right"
    assignment_submit(assignment_id=lease.pk, annotator=alice, data={"choice": shown})
    assert Item.objects.get(pk=lease.item_id).priority == 1
    other = Item.objects.exclude(pk=lease.item_id).get()
    assert other.priority == 0


def test_an_unknown_or_failing_judge_is_reported(judge_server):
    project = project_with_items(2, overlap=1)
    with pytest.raises(JudgeError, match="no registered model"):
        project_pre_annotate(project=project, model_name="nobody")
    report = project_pre_annotate(project=project, model_name=_judge("Broken", "fake-error", judge_server.url))
    assert (report.judged, report.failed) == (0, 2)
    assert not Judgment.objects.filter(source=Source.AI).exists()


def test_items_generated_by_models_keep_only_complete_answers(judge_server, tmp_path):
    project = project_with_items(0, overlap=1, slug="gen")
    for name, model_id in (("Gen one", "fake"), ("Gen two", "fake-2"), ("Gen broken", "fake-error")):
        _judge(name, model_id, judge_server.url)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Say hello.\n\nName a colour.\n")
    out = io.StringIO()
    call_command(
        "project_items", "gen", "--generate", str(prompts), "--models", "Gen one,Gen two,Gen broken", stdout=out
    )
    assert "2 items generated" in out.getvalue() and "Gen broken on prompt 1" in out.getvalue()
    items = Item.objects.filter(project=project)
    assert items.count() == 2
    assert all(i.comparison.candidates.count() == 2 for i in items)
    call_command("project_items", "gen", "--generate", str(prompts), "--models", "Gen one,Gen two", stdout=out)
    assert Item.objects.filter(project=project).count() == 2, "the same prompts and models add nothing twice"
