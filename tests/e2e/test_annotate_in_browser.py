"""An annotator labels items by keyboard only, for each task type, in headless Chromium."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from annotation.models import Judgment, Membership, Role, Score
from tests.annotation.queue_data import project_with_items
from tests.e2e.browser import TIMEOUT_MS, browser_context
from tests.e2e.test_login_in_browser import log_in

pytestmark = pytest.mark.browser


TASKS = {
    # task type: (project fields, keys pressed for one item, what the judgment must hold)
    "pairwise": ({}, ["2"], lambda j: j.outcome in ("a", "b")),
    "ternary": ({}, ["t"], lambda j: j.outcome == "tie"),
    "graded": ({}, ["7"], lambda j: j.strength in (-3, 3) and j.outcome in ("a", "b")),
    "likert": (
        {"config": {"attributes": ["helpfulness", "coherence"], "scale": [0, 4]}},
        ["4", "3", "1", "0"],
        lambda j: sorted(s.value for s in j.scores.all()) == [0, 1, 3, 4],
    ),
    "ranking": ({"config": {}}, ["2", "1", "2"], lambda j: j.ranking is not None and len(j.ranking) == 2),
    "principles": (
        {"config": {"principles": ["is factual", "is concise"]}},
        ["y", "n"],
        lambda j: sorted(j.principles.values()) == [False, True],
    ),
}


@pytest.mark.parametrize("kind", list(TASKS))
def test_labeling_by_keyboard_only(asgi_server, kind):
    fields, keys, holds = TASKS[kind]
    project = project_with_items(
        2,
        overlap=1,
        slug=f"kb-{kind}",
        task_type=kind,
        rationale="optional",
        guidelines="Prefer **correct** answers.",
        candidates=3 if kind == "ranking" else 2,
        **fields,
    )
    user = User.objects.create_user("kay", password="pw-kay-12345")
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)

    with browser_context(f"http://{asgi_server}", TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "kay", "pw-kay-12345")
        page.goto(f"/annotate/{project.slug}/")
        for item in range(2):
            expect(page.locator("#task .candidate")).to_have_count(3 if kind == "ranking" else 2)
            page.locator("body").click(position={"x": 1, "y": 1})  # focus the page, not a field
            for key in keys:
                page.keyboard.press(key)
            page.keyboard.press("r")
            page.keyboard.type(f"reason {item}")
            page.keyboard.press("Control+Enter")
            expect(page.locator("#progress")).to_contain_text(f"yours: {item + 1}")
        expect(page.locator("#queue-empty")).to_contain_text("done every item")

    judgments = list(Judgment.objects.filter(user=user).order_by("id"))
    assert len(judgments) == 2
    for item, judgment in enumerate(judgments):
        assert holds(judgment), (kind, judgment.__dict__)
        assert judgment.rationale == f"reason {item}"
        assert judgment.time_spent_ms and judgment.time_spent_ms > 0
    if kind == "likert":
        assert Score.objects.filter(judgment__user=user).count() == 8


def test_skipping_by_keyboard(asgi_server):
    project = project_with_items(1, overlap=1, slug="kb-skip")
    user = User.objects.create_user("sid", password="pw-sid-12345")
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    with browser_context(f"http://{asgi_server}", TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "sid", "pw-sid-12345")
        page.goto(f"/annotate/{project.slug}/")
        page.locator("body").click(position={"x": 1, "y": 1})
        page.keyboard.press("s")
        page.keyboard.type("not my language")
        page.keyboard.press("Enter")
        expect(page.locator("#queue-empty")).to_be_visible()
    assert not Judgment.objects.exists()


def test_an_owner_reads_the_dashboard(asgi_server):
    from annotation.queue import assignment_claim, assignment_submit

    project = project_with_items(4, overlap=2, slug="dash")
    people = []
    for name in ("ann-a", "ann-b"):
        user = User.objects.create_user(name)
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    for user in people:
        for _ in range(4):
            lease = assignment_claim(project=project, annotator=user)
            assignment_submit(assignment_id=lease.pk, annotator=user, data={"choice": "left"}, time_spent_ms=500)
    owner = User.objects.create_user("olga", password="pw-olga-12345")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    with browser_context(f"http://{asgi_server}", TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "olga", "pw-olga-12345")
        page.goto("/annotate/")
        page.get_by_role("link", name="Dashboard").click()
        expect(page.locator("#progress-summary")).to_contain_text("4 of 4 items")
        expect(page.locator("#agreement")).to_contain_text("choice")
        expect(page.locator("#annotators")).to_contain_text("ann-a")
        expect(page.locator("#flags")).to_contain_text("answered in 0.5 s")  # under the 2 s floor
        expect(page.locator("#export-link")).to_be_visible()


def test_an_owner_raises_the_overlap_and_adds_a_member(asgi_server):
    project = project_with_items(2, overlap=1, slug="own")
    owner = User.objects.create_user("otto", password="pw-otto-12345")
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    User.objects.create_user("newcomer")
    with browser_context(f"http://{asgi_server}", TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "otto", "pw-otto-12345")
        page.goto("/annotate/own/dashboard/")
        page.locator("#settings-link").click()
        page.locator("#id_overlap").fill("3")
        page.locator("#id_guidelines").fill("<script>window.pwned = 1</script> Be **fair**.")
        page.locator("#settings-form button[type=submit]").click()
        expect(page.locator("#id_overlap")).to_have_value("3")
        page.locator("#member-form #id_username").fill("newcomer")
        page.locator("#member-form #id_role").select_option("reviewer")
        page.locator("#member-form button[type=submit]").click()
        expect(page.locator("#members")).to_contain_text("newcomer")
        expect(page.locator("#members")).to_contain_text("Reviewer")
        page.goto("/annotate/own/")  # the owner may annotate too: the guidelines render inert
        assert page.evaluate("window.pwned") is None
    project.refresh_from_db()
    assert project.overlap == 3 and project.guidelines.startswith("<script>")
    assert Membership.objects.get(user__username="newcomer").role == Role.REVIEWER
