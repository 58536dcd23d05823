"""A rigging voter, voting through the real vote path, is flagged by the judges' review; the boards
leave out all of that judge's votes until staff clear the judge, and the review does not raise it again."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from agora_datasets.exports.privacy import scrub
from annotation.models import JudgeFlag, JudgeFlagKind, Judgment
from arena import services
from arena.services import Vote
from ratings import services as ratings_services
from tests.arena.test_battles import finish_turn
from tests.arena.test_integrity import NARWHAL, QUOKKA, fit, models  # noqa: F401 - models is a fixture


def vote_as(judge: str, winner: str, count: int) -> None:
    for _ in range(count):
        battle = services.battle_create(prompt="Tell me a joke.", judge=judge)
        finish_turn(battle, ["Knock knock.", "Why did the chicken cross the road?"])
        choice = "a" if battle.model_a.name == winner else "b"
        services.vote_record(battle=battle, judge=judge, vote=Vote(choice=choice))


def test_a_rigging_voter_is_flagged_left_out_and_counted_again_once_cleared(models, client):  # noqa: F811
    for voter in range(4):  # the arena's own votes make the fit the review holds each judge to
        vote_as(f"voter:honest-{voter}", QUOKKA[0], 25)
    vote_as("voter:rigger", NARWHAL[0], 25)  # the model everyone else finds weaker, every time

    [flag] = ratings_services.judges_review_latest()
    assert (flag.judge, flag.kind) == ("voter:rigger", JudgeFlagKind.IMPROBABLE)
    assert flag.evidence["votes"] == 25 and flag.evidence["p_adjusted"] < 0.01

    board = fit()
    assert (board.judgments, board.integrity_left_out) == (100, 25)

    staff = User.objects.create_superuser("review-staff", password="pw-staff-123")
    client.force_login(staff)
    listing = client.get("/admin/annotation/judgeflag/", {"cleared": "no"}).content.decode()
    assert "voter:rigger" in listing and "Votes improbable under the fit" in listing
    cleared = client.post(
        "/admin/annotation/judgeflag/", {"action": "clear", "index": "0", "_selected_action": [flag.pk]}, follow=True
    )
    assert "Cleared 1 judge flag" in cleared.content.decode()

    assert (fit().judgments, JudgeFlag.objects.get().cleared_by) == (125, staff)
    assert ratings_services.judges_review_latest() == []  # staff's decision stands


def test_the_address_pseudonym_never_leaves_in_an_export():
    assert scrub({"battle": "b1", "address": "3f2a", "nested": {"remote_addr": "x", "keep": 1}}) == {
        "battle": "b1",
        "nested": {"keep": 1},
    }


def test_keys_per_address_are_counted_from_a_pseudonym_never_the_address(models, settings):  # noqa: F811
    settings.AGORA_JUDGE_MAX_KEYS_PER_ADDRESS = 2
    for key in ("k1", "k2", "k3"):
        battle = services.battle_create(prompt="Tell me a joke.", judge=f"voter:{key}")
        finish_turn(battle)
        services.vote_record(battle=battle, judge=f"voter:{key}", vote=Vote(choice="tie"), client_ip="203.0.113.9")
    stored = {j.metadata["address"] for j in Judgment.objects.all()}
    assert len(stored) == 1 and "203.0.113.9" not in json.dumps([j.metadata for j in Judgment.objects.all()])

    flags = ratings_services.judges_review_latest()
    assert {(f.judge, f.kind) for f in flags} == {
        (f"voter:{k}", JudgeFlagKind.SHARED_ADDRESS) for k in ("k1", "k2", "k3")
    }
    assert flags[0].evidence["keys_at_address"] == 3
