"""Errors reach the person, and the pages run under the Content-Security-Policy: headless Chromium
against the ASGI server (DEBUG off, as `make run` serves).

The server error is a real one: a trigger in the test database refuses the insert the submit makes.
The database is changed from another thread while the browser is open: Playwright's sync API keeps
an asyncio loop running in this one, and Django then refuses database calls here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.db import connection, connections
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from annotation.models import Judgment, Membership, Role
from arena.models import Answer, AnswerState, Battle, BattleState
from arena.registry import model_register
from arena.voters import SALT
from ratings.boards import board_from_query
from ratings.models import RatingRun
from tests.annotation.queue_data import project_with_items
from tests.e2e.browser import TIMEOUT_MS, browser_context
from tests.e2e.test_login_in_browser import log_in

pytestmark = pytest.mark.browser

SERVER_ERROR = "Something went wrong on our side (500). Your input was not saved; try again."
UNREACHABLE = "Could not reach the server. Check your connection, then try again."


def in_other_thread(work: Callable[[], None]) -> None:
    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def refuse_judgments(on: bool) -> None:
    """A trigger that makes every judgment insert fail, as a broken database would."""
    table = Judgment._meta.db_table
    with connection.cursor() as cursor:
        if on:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION agora_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER agora_test_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION agora_test_refuse()"
            )
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS agora_test_refuse ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS agora_test_refuse()")


@pytest.fixture
def refused_judgments(transactional_db):
    refuse_judgments(True)
    try:
        yield
    finally:
        in_other_thread(lambda: refuse_judgments(False))


@contextmanager
def annotator_on_task(base_url: str, slug: str) -> Iterator[Page]:
    """An annotator of a one-item pairwise project, on its task page (rows made before the browser opens)."""
    project = project_with_items(1, overlap=1, slug=slug)
    user = User.objects.create_user("erin", password="pw-erin-12345")
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    with browser_context(base_url, TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "erin", "pw-erin-12345")
        page.goto(f"/annotate/{slug}/")
        expect(page.locator("#task .candidate")).to_have_count(2)
        yield page


def request_error(page: Page):
    """The message errors.js puts right after the form that sent the request."""
    return page.locator("#answer-form + p.request-error[role=alert]")


def test_a_server_error_is_shown_where_the_action_was_and_the_form_stays_usable(asgi_server, refused_judgments):
    with annotator_on_task(f"http://{asgi_server}", "err-500") as page:
        page.get_by_label("Left").check()
        page.get_by_role("textbox", name=re.compile("Why")).fill("left is clearer")
        submit = page.get_by_role("button", name=re.compile("Submit"))
        submit.click()

        expect(request_error(page)).to_have_text(SERVER_ERROR)
        expect(page.locator("p.request-error")).to_have_count(1)
        # Nothing was swapped away: the answer as given, and the button to send it again.
        expect(page.get_by_label("Left")).to_be_checked()
        expect(page.get_by_role("textbox", name=re.compile("Why"))).to_have_value("left is clearer")
        expect(submit).to_be_enabled()

        submit.click()  # the same failure again: one message, replaced, not two
        expect(page.locator("p.request-error")).to_have_count(1)
        expect(submit).to_be_enabled()

        in_other_thread(lambda: refuse_judgments(False))
        submit.click()
        expect(page.locator("#progress")).to_contain_text("yours: 1")
        expect(page.locator("p.request-error")).to_have_count(0)

    assert Judgment.objects.get().rationale == "left is clearer"  # stored once, when it could be


def test_a_request_that_never_reaches_the_server_says_so(asgi_server):
    with annotator_on_task(f"http://{asgi_server}", "err-net") as page:
        page.route(re.compile(r".*/submit/$"), lambda route: route.abort("connectionrefused"))
        page.get_by_label("Right").check()
        submit = page.get_by_role("button", name=re.compile("Submit"))
        submit.click()
        expect(request_error(page)).to_have_text(UNREACHABLE)
        expect(submit).to_be_enabled()

        page.unroute(re.compile(r".*/submit/$"))
        submit.click()
        expect(page.locator("#progress")).to_contain_text("yours: 1")
        expect(page.locator("p.request-error")).to_have_count(0)

    assert Judgment.objects.count() == 1


def test_a_refusal_that_comes_back_as_a_whole_page_is_not_swapped_into_the_task(asgi_server):
    with annotator_on_task(f"http://{asgi_server}", "err-csrf") as page:
        page.context.clear_cookies(name="csrftoken")  # the form's token no longer matches: 403, a whole page
        page.get_by_label("Left").check()
        page.get_by_role("button", name=re.compile("Submit")).click()
        expect(request_error(page)).to_contain_text("This form was not accepted (403)")
        expect(page.locator("#task .candidate")).to_have_count(2)  # the task is still there, not a page in it
        expect(page.locator("#task header.top")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("Submit"))).to_be_enabled()
    assert not Judgment.objects.exists()


# --- the Content-Security-Policy -------------------------------------------------------------------------

# Records every violation a page reports, from before any of its own scripts run.
VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${where}`);
});
"""


def violations(page: Page, console: list[str]) -> list[str]:
    """What this page reported: the events, and the console's words for them (cleared for the next page)."""
    found = page.evaluate("window.__violations") + [m for m in console if "Content Security Policy" in m]
    console.clear()
    return found


@contextmanager
def watched(context: BrowserContext) -> Iterator[tuple[Page, list[str]]]:
    context.add_init_script(VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    yield page, console


def test_the_pages_run_under_the_policy_with_no_violation(asgi_server):
    # Rows first (see the module's docstring): a task, a fitted board with a heatmap, a battle ready to vote on.
    project = project_with_items(1, overlap=1, slug="csp")
    boss = User.objects.create_superuser("boss", password="pw-staff-1")
    Membership.objects.create(project=project, user=boss, role=Role.ANNOTATOR)
    RatingRun.objects.create(
        board=board_from_query({}).key,
        state="done",
        judgments=10,
        duration_ms=5,
        finished_at=timezone.now(),
        result={
            "models": [
                {"model": "m1", "rating": 1010.0, "lower": 1000.0, "upper": 1020.0, "battles": 10},
                {"model": "m2", "rating": 990.0, "lower": 980.0, "upper": 1000.0, "battles": 10},
            ],
            "matrices": {"models": ["m1", "m2"], "observed": [[None, 0.8], [0.2, None]]},
        },
    )
    models = [
        model_register(name=name, backend="openai", endpoint="http://127.0.0.1:9/v1", model_id=name)[0]
        for name in ("csp-a", "csp-b")
    ]
    key = "csp-visitor"
    battle = Battle.objects.create(
        voter=f"voter:{key}", model_a=models[0], model_b=models[1], state=BattleState.READY, ready_at=timezone.now()
    )
    for side, model in enumerate(models):
        Answer.objects.create(
            battle=battle,
            turn=0,
            side=side,
            model=model,
            prompt="Hi",
            state=AnswerState.DONE,
            text=f"Answer {side}",
            deadline=timezone.now(),
        )

    base = f"http://{asgi_server}"
    with browser_context(base, TIMEOUT_MS) as context, watched(context) as (page, console):
        context.add_cookies([{"name": "agora_voter", "value": signing.Signer(salt=SALT).sign(key), "url": base}])
        seen: dict[str, list[str]] = {}

        page.goto("/arena/")
        seen["arena"] = violations(page, console)

        with page.expect_websocket() as socket:  # connect-src 'self' lets the battle's websocket through
            page.goto(f"/arena/b/{battle.public_id}/")
        expect(page.locator("#vote-fieldset")).to_be_enabled()
        assert socket.value.url.endswith(f"/ws/arena/{battle.public_id}/")
        seen["battle"] = violations(page, console)

        page.goto("/accounts/login/")
        seen["login"] = violations(page, console)
        log_in(page, "boss", "pw-staff-1")
        expect(page.locator("header .who")).to_contain_text("boss")

        page.goto("/annotate/csp/")
        expect(page.locator("fieldset.group.current")).to_have_count(1)  # annotate.js ran
        seen["task"] = violations(page, console)

        page.goto("/leaderboard/")
        cell = page.locator("table.heatmap td[data-hue]").nth(1)  # heatmap.js coloured it
        expect(cell).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")
        seen["leaderboard"] = violations(page, console)

        page.goto("/admin/")
        seen["admin"] = violations(page, console)
        page.goto(f"/admin/auth/user/{boss.pk}/change/")
        expect(page.locator("#id_user_permissions_from")).to_be_attached()  # the admin's SelectFilter ran
        seen["admin change form"] = violations(page, console)

        page.goto("/no-such-page/")
        expect(page.get_by_text("There is nothing at this address (404).")).to_be_visible()
        seen["404"] = violations(page, console)

    assert seen == {name: [] for name in seen}
