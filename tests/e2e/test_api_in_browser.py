"""The API as a person meets it in a browser: a token made on its page, shown once, and used; the docs page.

Headless Chromium against the ASGI server; the token is then used by an HTTP client, as a script would."""

from __future__ import annotations

import re

import httpx
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from annotation.models import Membership, Project, Role
from tests.e2e.browser import TIMEOUT_MS, browser_context
from tests.e2e.test_login_in_browser import log_in

pytestmark = pytest.mark.browser


def test_a_token_is_made_on_its_page_shown_once_and_works(asgi_server):
    user = User.objects.create_user("lena", password="pw-lena-1")
    project = Project.objects.create(name="Poems", slug="poems")
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    base = f"http://{asgi_server}"

    with browser_context(base, TIMEOUT_MS) as context:
        page = context.new_page()
        log_in(page, "lena", "pw-lena-1")
        page.get_by_role("link", name="lena").click()  # the username leads to the tokens
        expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
        page.get_by_label("Name").fill("notebook")
        page.get_by_label("Scope").select_option("write")
        page.get_by_role("button", name="Create token").click()
        token = page.locator("#new-token").inner_text()
        assert re.fullmatch(r"agora_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
        expect(page.get_by_role("cell", name="notebook")).to_be_visible()
        page.reload()  # after the redirect: a reload makes no second token and shows none
        expect(page.locator("#new-token")).to_have_count(0)
        assert token not in page.content()

        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            assert [p["slug"] for p in api.get("/api/v1/projects").json()] == ["poems"]

        expect(page.get_by_role("cell", name="notebook")).to_have_count(1)
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text(re.compile("revoked"))).to_be_visible()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/v1/projects").status_code == 401

        page.goto("/api/v1/docs")  # the schema's own page, its scripts served by the app (no CDN)
        expect(page.get_by_text("Agora API").first).to_be_visible()
        expect(page.get_by_text("/api/v1/projects/{slug}/items").first).to_be_visible()
