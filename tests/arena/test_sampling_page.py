"""The published sampling: the policy in force, and every model's battles and shares, per organization
too; a running battle counts nowhere until it is over, so no one reads its models off the counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from arena.models import Battle, BattleState
from arena.registry import model_register
from arena.selectors import sampling_report

pytestmark = pytest.mark.django_db


def model(name: str, organization: str, active: bool = True, weight: float = 1.0):
    return model_register(
        name=name,
        backend="openai",
        endpoint="http://127.0.0.1:9/v1",
        model_id=name,
        organization=organization,
        active=active,
        weight=weight,
    )[0]


def battle(a, b, state: str, days_ago: int = 0) -> Battle:
    made = Battle.objects.create(voter="voter:k", model_a=a, model_b=b, state=state)
    Battle.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return made


@pytest.fixture
def arena():
    m = {
        "north-1": model("north-1", "North Labs"),
        "north-0": model("north-0", "North Labs", active=False),  # retired: still listed with its battles
        "south-1": model("south-1", "South AI", weight=3.0),
        "plain": model("plain", ""),
    }
    battle(m["north-1"], m["south-1"], BattleState.VOTED)
    battle(m["south-1"], m["plain"], BattleState.VOTED)
    battle(m["north-0"], m["south-1"], BattleState.VOTED, days_ago=90)
    battle(m["north-1"], m["plain"], BattleState.FAILED)
    battle(m["north-1"], m["south-1"], BattleState.READY)  # running: not counted
    battle(m["north-0"], m["plain"], BattleState.GENERATING)
    return m


def test_every_model_with_its_settled_battles_and_shares(arena):
    report = sampling_report()
    rows = {r.name: r for r in report.models}
    assert (report.battles, report.recent) == (4, 3)
    assert {n: (r.battles, r.recent) for n, r in rows.items()} == {
        "south-1": (3, 2),
        "north-1": (2, 2),
        "plain": (2, 2),
        "north-0": (1, 0),
    }
    assert rows["south-1"].share == pytest.approx(3 / 8) and rows["south-1"].recent_share == pytest.approx(2 / 6)
    assert sum(r.share for r in rows.values()) == pytest.approx(1.0)
    assert [r.name for r in report.models][0] == "south-1"  # most battles first
    assert report.organizations == ["North Labs", "South AI"]


def test_a_running_battle_changes_no_count(arena, client):
    def shares() -> bytes:  # the table alone: the whole page differs by its CSRF token and nonce
        return client.get("/arena/sampling/", {"part": "shares"}).content

    before = shares()
    battle(arena["north-1"], arena["plain"], BattleState.READY)
    battle(arena["south-1"], arena["plain"], BattleState.GENERATING)
    assert shares() == before
    battle(arena["south-1"], arena["plain"], BattleState.VOTED)
    assert shares() != before


def test_the_public_page_states_the_policy_and_each_organization_lists_its_retired_models(arena, client):
    page = client.get("/arena/sampling/").content.decode()
    assert "InformationPolicy" in page and "informs the ranking most" in page
    assert "4 battles in all, 3 in the last 30 days" in page
    assert "37.5%" in page  # south-1: 3 of 8 appearances
    assert "?organization=North%20Labs" in page

    north = client.get("/arena/sampling/", {"organization": "North Labs"}).content.decode()
    assert "north-1" in north and "north-0" in north and "inactive" in north
    assert "south-1" not in north.split("Battles per model")[1].split("Each organization")[0]


@pytest.mark.parametrize("organization", ["Nobody", "North\x00Labs", "x" * 5000])
def test_an_unknown_organization_is_refused_with_a_message(arena, client, organization):
    response = client.get("/arena/sampling/", {"organization": organization})
    assert response.status_code == 404
    assert "No model of the arena belongs to that organization" in response.content.decode()


def test_the_leaderboard_loads_the_shares_table_alone(arena, client):
    assert 'hx-get="/arena/sampling/?part=shares"' in client.get("/leaderboard/").content.decode()
    part = client.get("/arena/sampling/", {"part": "shares"}).content.decode()
    assert part.lstrip().startswith('<section id="sampling-shares"') and "<html" not in part
    assert "south-1" in part
