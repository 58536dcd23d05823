"""Pages and who may use them: anonymous visitor, annotator, staff."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from annotation.models import Candidate, Comparison, Judgment
from arena.voters import voter_key_from_cookie

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator():
    return User.objects.create_user("ann", password="pw-annotator-1")


@pytest.fixture
def staff():
    return User.objects.create_superuser("boss", password="pw-staff-1")


@pytest.fixture
def hostile_comparison():
    c = Comparison.objects.create(
        key="x:1",
        context=[{"role": "user", "content": "<b>hi</b>"}],
        prompt="<b>hi</b>",
        source="import",
        created_at=timezone.now(),
    )
    Candidate.objects.create(comparison=c, position=0, model="<script>alert(1)</script>", text="a")
    Candidate.objects.create(comparison=c, position=1, model="plain-model", text="b")
    Judgment.objects.create(
        comparison=c, source="import", judge_kind="external", judge="w", outcome="a", created_at=timezone.now()
    )
    return c


def test_the_home_page_says_what_is_here(client, hostile_comparison):
    page = client.get("/").content.decode()
    for link in ('href="/arena/"', 'href="/annotate/"', 'href="/leaderboard/"'):
        assert link in page
    assert '<th scope="row">Judgments</th><td>1</td>' in page
    assert 'href="/admin/"' not in page  # only staff see the admin link


def test_an_anonymous_visitor_gets_a_signed_stable_voter_key(client):
    first = client.get("/")
    cookie = first.cookies[settings.VOTER_COOKIE_NAME]
    key = voter_key_from_cookie(cookie.value)
    assert key and cookie["httponly"]
    second = client.get("/")
    assert settings.VOTER_COOKIE_NAME not in second.cookies  # kept, not reissued
    assert voter_key_from_cookie(cookie.value.replace(key, "forged-key")) is None


def test_a_forged_voter_cookie_is_replaced(client):
    client.cookies[settings.VOTER_COOKIE_NAME] = "someone-else:fake-signature"
    response = client.get("/")
    assert voter_key_from_cookie(response.cookies[settings.VOTER_COOKIE_NAME].value)


def test_annotate_needs_a_login(client, annotator):
    assert client.get("/annotate/")["Location"].startswith("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-annotator-1"})
    assert response.status_code == 302
    assert "You have made 0 judgments" in client.get("/annotate/").content.decode()
    client.post("/accounts/logout/")
    assert client.get("/annotate/").status_code == 302


def test_a_wrong_password_is_told_plainly(client, annotator):
    page = client.post("/accounts/login/", {"username": "ann", "password": "nope"}).content.decode()
    assert "Please enter a correct username and password" in page


def test_only_staff_reach_the_admin(client, annotator, staff, hostile_comparison):
    assert client.get("/admin/annotation/judgment/").status_code == 302
    client.force_login(annotator)
    assert client.get("/admin/annotation/judgment/").status_code == 302
    client.force_login(staff)
    for url in (
        "/admin/annotation/judgment/",
        "/admin/annotation/comparison/",
        "/admin/annotation/candidate/",
        "/admin/annotation/score/",
        f"/admin/annotation/comparison/{hostile_comparison.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/annotation/judgment/", {"q": "plain-model"}).context["cl"].result_count == 1
    assert client.get("/admin/annotation/judgment/", {"q": "no-such-model"}).context["cl"].result_count == 0
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_model_labels_and_prompts_are_escaped(client, staff, hostile_comparison):
    board = client.get("/leaderboard/").content.decode()
    assert "<script>alert(1)</script>" not in board
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in board
    client.force_login(staff)
    admin_page = client.get(f"/admin/annotation/comparison/{hostile_comparison.pk}/change/").content.decode()
    assert "<script>alert(1)</script>" not in admin_page


def test_the_leaderboard_counts_ties_as_half_wins(client, hostile_comparison):
    Judgment.objects.create(
        comparison=hostile_comparison,
        source="import",
        judge_kind="external",
        judge="w2",
        outcome="tie",
        created_at=timezone.now(),
    )
    # Before any fit, the page shows the observed results (and queues the first fit).
    rows = client.get("/leaderboard/").context["observed"]
    assert [(r["model"], r["battles"], r["wins"], r["ties"], r["win_rate"]) for r in rows] == [
        ("<script>alert(1)</script>", 2, 1, 1, 0.75),
        ("plain-model", 2, 0, 1, 0.25),
    ]
