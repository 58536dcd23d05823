"""The database itself refuses dishonest preference data."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Candidate, Comparison, Judgment, Score

pytestmark = pytest.mark.django_db


@pytest.fixture
def comparison():
    c = Comparison.objects.create(
        key="t:1",
        context=[{"role": "user", "content": "hi"}],
        prompt="hi",
        source="import",
        created_at=timezone.now(),
    )
    Candidate.objects.create(comparison=c, position=0, model="m1", text="a")
    Candidate.objects.create(comparison=c, position=1, model="m2", text="b")
    return c


def judgment(comparison, **fields):
    values = {
        "comparison": comparison,
        "source": "import",
        "judge_kind": "external",
        "judge": "w1",
        "created_at": timezone.now(),
        "outcome": "a",
    }
    values.update(fields)
    return Judgment(**values)


def refused(obj) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        obj.save()
    return str(caught.value)


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"strength": 7, "outcome": "b"}, "judgment_strength_range"),
        ({"strength": -4}, "judgment_strength_range"),
        ({"strength": 2, "outcome": "a"}, "judgment_strength_matches_outcome"),
        ({"strength": 0, "outcome": "b"}, "judgment_strength_matches_outcome"),
        ({"strength": 1, "outcome": None}, "judgment_strength_matches_outcome"),
        ({"both_bad": True, "outcome": "a"}, "judgment_both_bad_is_tie"),
        ({"both_bad": True, "outcome": None}, "judgment_both_bad_is_tie"),
        ({"preference": 1.5}, "judgment_preference_range"),
        ({"preference": -0.1}, "judgment_preference_range"),
        ({"outcome": "c"}, "judgment_outcome_valid"),
        ({"source": "web"}, "judgment_source_valid"),
        ({"judge_kind": "robot"}, "judgment_kind_valid"),
    ],
)
def test_it_refuses_judgments_out_of_range(comparison, fields, constraint):
    assert constraint in refused(judgment(comparison, **fields))


def test_it_accepts_every_valid_pairwise_form(comparison):
    for n, fields in enumerate(
        [
            {"outcome": "a"},
            {"outcome": "a", "strength": -3},
            {"outcome": "b", "strength": 1},
            {"outcome": "tie", "strength": 0, "both_bad": True},
            {"outcome": None, "preference": 0.25},
        ]
    ):
        judgment(comparison, judge=f"w{n}", **fields).save()
    assert comparison.judgments.count() == 5


def test_one_judgment_per_comparison_judge_and_source(comparison):
    judgment(comparison).save()
    assert "judgment_one_per_judge_and_source" in refused(judgment(comparison, outcome="b"))
    judgment(comparison, source="ai", judge_kind="ai").save()  # another source is another judgment


def test_candidate_positions_are_unique(comparison):
    assert "candidate_position_unique" in refused(Candidate(comparison=comparison, position=1, model="m3", text="c"))


def test_comparison_keys_are_unique(comparison):
    duplicate = Comparison(key="t:1", context=[], prompt="", source="import", created_at=timezone.now())
    assert "annotation_comparison_key" in refused(duplicate)


def test_one_score_per_candidate_and_attribute(comparison):
    j = judgment(comparison)
    j.save()
    Score.objects.create(judgment=j, position=0, attribute="helpfulness", value=6)
    assert "score_unique" in refused(Score(judgment=j, position=0, attribute="helpfulness", value=2))
