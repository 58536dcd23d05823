"""Logging in and out in a real browser: headless Chromium against the ASGI server.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`); Playwright
only drives it, so `playwright install` is never needed.

Users are created before Playwright starts: its sync API keeps an asyncio loop running
in this thread, and Django then refuses ORM calls (SynchronousOnlyOperation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.e2e.browser import TIMEOUT_MS, browser_context

pytestmark = pytest.mark.browser


@contextmanager
def browser_page(base_url: str) -> Iterator[Page]:
    with browser_context(base_url, TIMEOUT_MS) as context:
        yield context.new_page()


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("staff", [True, False], ids=["staff", "annotator"])
def test_logging_in_and_out_in_a_browser(asgi_server, staff):
    if staff:
        User.objects.create_superuser("boss", password="pw-staff-1")
    else:
        User.objects.create_user("ann", password="pw-annotator-1")
    username, password = ("boss", "pw-staff-1") if staff else ("ann", "pw-annotator-1")

    with browser_page(f"http://{asgi_server}") as page:
        log_in(page, username, password)
        expect(page).to_have_url(f"http://{asgi_server}/")  # LOGIN_REDIRECT_URL = home
        who = page.locator("header .who")
        expect(who.get_by_text(username, exact=True)).to_be_visible()
        expect(who.get_by_role("link", name="Log in")).to_have_count(0)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Leaderboard")).to_be_visible()  # the nav itself rendered
        expect(nav.get_by_role("link", name="Admin")).to_have_count(1 if staff else 0)

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"http://{asgi_server}/")  # LOGOUT_REDIRECT_URL = home
        expect(who.get_by_role("link", name="Log in")).to_be_visible()
        expect(who.get_by_text(username, exact=True)).to_have_count(0)
        expect(nav.get_by_role("link", name="Admin")).to_have_count(0)


def test_a_wrong_password_is_refused_in_a_browser(asgi_server):
    User.objects.create_user("ann", password="pw-annotator-1")

    with browser_page(f"http://{asgi_server}") as page:
        log_in(page, "ann", "not-the-password")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
        expect(page.locator("header .who").get_by_role("link", name="Log in")).to_be_visible()


def test_too_many_failed_logins_are_told_to_wait_in_a_browser(asgi_server):
    User.objects.create_user("ann", password="pw-annotator-1")

    with browser_page(f"http://{asgi_server}") as page:
        for _ in range(4):
            log_in(page, "ann", "not-the-password")
            expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
        with page.expect_response(lambda r: r.request.method == "POST" and "/accounts/login/" in r.url) as answer:
            log_in(page, "ann", "not-the-password")
        assert answer.value.status == 429
        expect(page.get_by_role("alert")).to_have_text(
            "Too many failed logins. Logging in from here is paused for 15 minutes; try again after that."
        )
        # Locked: the right password is refused too, with the same page.
        log_in(page, "ann", "pw-annotator-1")
        expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")
        expect(page.locator("header .who").get_by_role("link", name="Log in")).to_be_visible()
