"""Boards and integrity flags: flagged judgments leave the fit (in SQL), come back when cleared, and the
default board's key is the one runs had before the setting existed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotation.integrity import integrity_flags_clear
from annotation.models import FlagKind, IntegrityFlag, Judgment, Source
from ratings import selectors, services
from ratings.boards import Board, scheduled_boards
from ratings.models import RatingRun, RunState
from tests.ratings.test_leaderboard_page import _battles, _fitted

pytestmark = pytest.mark.django_db


def _flag(judgment: Judgment) -> IntegrityFlag:
    return IntegrityFlag.objects.create(
        judgment=judgment,
        position=0,
        model=judgment.comparison.candidates.get(position=0).model,
        kind=FlagKind.SELF_IDENTIFICATION,
        evidence={"matches": [{"rule": "self-introduction", "term": "alpha", "excerpt": "I am Alpha."}]},
        created_at=timezone.now(),
    )


def test_the_default_board_keeps_its_key_and_integrity_off_gets_its_own():
    assert Board().integrity and Board().key == "bt"
    assert [b.key for b in scheduled_boards()] == ["bt", "bt|style|ci=sandwich", "rao-kupper"]
    # Runs stored before the setting existed have no "integrity" in their parameters: the default, on.
    assert Board.from_dict({"method": "bt", "style": True, "ci": "sandwich"}).integrity
    assert Board(integrity=False).key == "bt|integrity=off"
    assert Board.from_dict(Board(integrity=False).as_dict()) == Board(integrity=False)


def test_flagged_judgments_leave_the_fit_and_return_when_cleared():
    _battles(["alpha", "beta", "gamma"], n=30)
    flagged = list(Judgment.objects.order_by("id")[:4])
    flags = [_flag(j) for j in flagged]
    run = _fitted(Board(ci="none"))
    assert run.state == RunState.DONE and (run.judgments, run.integrity_left_out) == (26, 4)
    # Each flagged vote is gone from the models' vote counts, not only from the total.
    battles = {row["model"]: row["battles"] for row in run.result["models"]}
    assert sum(battles.values()) == 2 * 26

    integrity_flags_clear(flags=IntegrityFlag.objects.filter(pk__in=[flags[0].pk, flags[1].pk]), user=None)
    run = _fitted(Board(ci="none"))
    assert (run.judgments, run.integrity_left_out) == (28, 2)
    off = _fitted(Board(ci="none", integrity=False))
    assert (off.judgments, off.integrity_left_out) == (30, None)


def test_the_count_left_out_follows_the_boards_selection():
    _battles(["alpha", "beta"], n=6)
    first, second = Judgment.objects.order_by("id")[:2]
    _flag(first)
    _flag(second)
    # Two flags on one judgment (both sides named themselves) leave out one vote.
    IntegrityFlag.objects.create(
        judgment=first, position=1, model="beta", kind=FlagKind.SELF_IDENTIFICATION, created_at=timezone.now()
    )
    first.comparison.category = "jokes"
    first.comparison.save()
    assert selectors.integrity_left_out(Board()) == 2
    assert selectors.integrity_left_out(Board(category="jokes")) == 1
    assert selectors.integrity_left_out(Board(source=Source.IMPORT)) == 0


def test_a_cleared_flag_makes_the_boards_due_for_a_refit(settings):
    settings.AGORA_RATINGS_BOARDS = [{"method": "bt", "ci": "none"}]
    settings.AGORA_RATINGS_EVERY_JUDGMENTS = 1
    _battles(["alpha", "beta"], n=6)
    flag = _flag(Judgment.objects.first())
    [queued] = services.refresh_due()
    services.run_execute(queued.pk)
    assert services.refresh_due() == [], "nothing changed since the fit"
    integrity_flags_clear(flags=IntegrityFlag.objects.filter(pk=flag.pk), user=None)
    [again] = services.refresh_due()
    assert again.board == "bt|ci=none"


def test_clearing_twice_keeps_the_first_clearing():
    _battles(["alpha", "beta"], n=3)
    flag = _flag(Judgment.objects.first())
    first, second = (User.objects.create_user(name) for name in ("first-staff", "second-staff"))
    assert integrity_flags_clear(flags=IntegrityFlag.objects.filter(pk=flag.pk), user=first) == 1
    assert integrity_flags_clear(flags=IntegrityFlag.objects.filter(pk=flag.pk), user=second) == 0
    flag.refresh_from_db()
    assert flag.cleared_by == first


def test_the_leaderboard_says_how_many_votes_it_leaves_out(client):
    _battles(["alpha", "beta", "gamma"], n=12)
    _flag(Judgment.objects.first())
    _fitted(Board())
    page = client.get("/leaderboard/").content.decode()
    assert "1 flagged vote left out: an answer named its own model" in page
    assert "/admin/annotation/integrityflag/" not in page  # the review link is for staff
    client.force_login(User.objects.create_superuser("board-staff", password="pw-staff-123"))
    assert "/admin/annotation/integrityflag/?cleared=no" in client.get("/leaderboard/").content.decode()
    assert RatingRun.objects.filter(board="bt", state=RunState.DONE).count() == 1
