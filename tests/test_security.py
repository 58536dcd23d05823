"""Security headers, DEBUG's default, the error pages, and the limits on logins and votes."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.test import Client
from django.urls import include, path

from annotation.models import Judgment
from arena import rate_limits, services
from arena.models import Battle
from arena.registry import model_register
from config.proxies import client_address, proxy_networks
from tests.arena.test_battles import finish_turn
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


# --- headers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/arena/", "/leaderboard/", "/accounts/login/", "/no-such-page/"])
def test_every_page_carries_the_security_headers(client, url):
    response = client.get(url)
    csp = csp_directives(response)
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # development, even over HTTPS (below)
    assert "Strict-Transport-Security" not in client.get(url, secure=True)


def test_the_admin_is_under_the_same_policy(staff_client):
    for url in ("/admin/", "/admin/annotation/project/add/"):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert csp_directives(response)["script-src"] == ["'self'"], url


def test_no_template_has_an_inline_script_style_or_handler():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    found = [
        f"{template.relative_to(ROOT)}: {match.group(0)}"
        for template in (ROOT / "templates").rglob("*.html")
        for match in inline.finditer(template.read_text())
    ]
    assert found == []


SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
secure = Client().get("/no-such-page/", secure=True)
plain = Client().get("/no-such-page/")
print(json.dumps({"debug": settings.DEBUG, "hsts": secure.get("Strict-Transport-Security"),
                  "hsts_plain": plain.get("Strict-Transport-Security"), "status": secure.status_code}))
"""


def settings_in(**variables: str) -> dict:
    """What a fresh process makes of the settings with these variables (no database is reached)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AGORA_ENV", "DJANGO_DEBUG")}
    # Server URLs that are never reached (production refuses to start without them).
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="postgres://nobody@127.0.0.1:9/none",
        REDIS_URL="redis://127.0.0.1:9/0",
        **variables,
    )
    out = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_hsts_is_sent_in_production_over_https_only():
    production = settings_in(AGORA_ENV="production", DJANGO_SECRET_KEY="x" * 50)
    assert production["status"] == 404
    assert production["hsts"] == "max-age=31536000"
    assert production["hsts_plain"] is None
    assert production["debug"] is False


def test_debug_is_off_unless_asked_for():
    assert settings_in()["debug"] is False
    assert settings_in(DJANGO_DEBUG="1")["debug"] is True


# --- error pages ---------------------------------------------------------------------------------------------


def test_an_unknown_address_gets_the_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing at this address (404)." in page
    assert 'href="/arena/"' in page  # the site's own page, navigation and all
    assert "Resolver404" not in page and "tried" not in page


def test_a_404_raised_with_a_message_shows_it(client):
    response = client.get("/arena/b/no-such-battle/")
    assert response.status_code == 404
    assert "No such battle." in response.content.decode()


def _boom(request):
    raise RuntimeError("internal detail that must not reach the visitor")


def _forbidden(request):
    raise PermissionDenied("Only the project's owners may see this.")


# Two views that fail, beside the real ones (the error pages link to them).
urlpatterns = [path("boom/", _boom), path("forbidden/", _forbidden), path("", include("config.urls"))]


@pytest.mark.urls("tests.test_security")
def test_a_server_error_gets_the_500_page_without_its_detail():
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side (500)." in page
    assert "internal detail" not in page and "RuntimeError" not in page
    assert "Content-Security-Policy" in response


@pytest.mark.urls("tests.test_security")
def test_a_refusal_gets_the_403_page_with_its_reason(client):
    response = client.get("/forbidden/")
    assert response.status_code == 403
    assert "Only the project&#x27;s owners may see this." in response.content.decode()


def test_a_form_without_its_csrf_token_gets_a_page_that_says_what_to_do():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert "Reload the page and send it again." in response.content.decode()


def test_static_files_are_served_with_debug_off(asgi_server):
    with urllib.request.urlopen(f"http://{asgi_server}/static/js/errors.js", timeout=10) as response:
        assert response.status == 200
        assert b"htmx:responseError" in response.read()


# --- login attempts -----------------------------------------------------------------------------------------


def log_in(client: Client, username: str, password: str, ip: str):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failed_logins_lock_that_account_from_that_address(client):
    User.objects.create_user("ann", password="pw-annotator-1")
    User.objects.create_user("bob", password="pw-bob-12345")
    for _ in range(4):
        refused = log_in(client, "ann", "wrong", "10.0.0.1")
        assert refused.status_code == 200
        assert "Please enter a correct username and password" in refused.content.decode()
    locked = log_in(client, "ann", "wrong", "10.0.0.1")
    assert locked.status_code == 429
    assert "Too many failed logins. Logging in from here is paused for 15 minutes" in locked.content.decode()
    # Locked: even the right password is refused from there, before it is checked.
    assert log_in(client, "ann", "pw-annotator-1", "10.0.0.1").status_code == 429
    # The same account from elsewhere, and another account from there, are not.
    assert log_in(Client(), "ann", "pw-annotator-1", "10.0.0.2").status_code == 302
    assert log_in(Client(), "bob", "pw-bob-12345", "10.0.0.1").status_code == 302


def test_many_failures_from_one_address_lock_the_address(client, settings):
    settings.AGORA_LOGIN_FAILURES_PER_IP = 8
    User.objects.create_user("carol", password="pw-carol-123")
    for name in ("a1", "a2", "a3", "a4"):  # under five per account, eight from the address
        for _ in range(2):
            log_in(client, name, "guess", "10.0.0.3")
    locked = log_in(client, "carol", "pw-carol-123", "10.0.0.3")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert log_in(Client(), "carol", "pw-carol-123", "10.0.0.4").status_code == 302


def test_a_successful_login_clears_the_count(client):
    User.objects.create_user("dan", password="pw-dan-12345")
    for _ in range(4):
        log_in(client, "dan", "wrong", "10.0.0.5")
    assert log_in(client, "dan", "pw-dan-12345", "10.0.0.5").status_code == 302
    for _ in range(4):
        assert log_in(Client(), "dan", "wrong", "10.0.0.5").status_code == 200


def test_logging_into_ones_own_account_does_not_clear_the_addresss_failures_on_another(client, settings):
    settings.AGORA_LOGIN_FAILURES_PER_IP = 6
    User.objects.create_user("eve", password="pw-eve-12345")
    User.objects.create_user("victim", password="pw-victim-12345")
    for _ in range(4):
        log_in(Client(), "victim", "guess", "10.0.0.9")
    assert log_in(Client(), "eve", "pw-eve-12345", "10.0.0.9").status_code == 302
    # Eve's success cleared her own count only: the address's count goes on and locks it.
    statuses = [log_in(Client(), "victim", "guess", "10.0.0.9").status_code for _ in range(3)]
    assert statuses[-1] == 429


# --- votes ------------------------------------------------------------------------------------------------


@pytest.fixture
def frozen_minute(monkeypatch):
    # The limits count per clock minute: the whole test counts in one, whenever it runs.
    now = time.time()
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def two_models(db):
    # Never called: the battles below are settled by hand.
    return [
        model_register(name=name, backend="openai", endpoint="http://127.0.0.1:9/v1", model_id=name.lower())[0]
        for name in ("Left Model", "Right Model")
    ]


def ready_battle(judge: str) -> Battle:
    battle = services.battle_create(prompt="What is 2+2?", judge=judge)
    finish_turn(battle)
    return battle


def test_votes_over_the_limit_are_refused_with_429_and_a_message(two_models, settings, frozen_minute):
    settings.AGORA_ARENA_VOTES_PER_MINUTE = 3
    visitor = Client()
    visitor.get("/arena/")
    response = visitor.post("/arena/", {"prompt": "What is 2+2?"})
    assert response.status_code == 302, response.content.decode()
    battle = Battle.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[-1])
    finish_turn(battle)
    url = f"/arena/b/{battle.public_id}/vote"
    assert visitor.post(url, {"choice": "a"}, **HTMX).status_code == 200
    for _ in range(4):  # retries of the stored vote answer as it did and are not counted
        assert visitor.post(url, {"choice": "a"}, **HTMX).status_code == 200
    for _ in range(2):  # a different vote is counted, and refused: the first vote stands
        changed = visitor.post(url, {"choice": "b"}, **HTMX)
        assert changed.status_code not in (200, 429) and "your first vote stands" in changed.content.decode()
    refused = visitor.post(url, {"choice": "b"}, **HTMX)
    assert refused.status_code == 429
    assert "Too many votes in the last minute. Wait a moment and try again." in refused.content.decode()
    # Past the limit, the visitor's own vote still answers as it did.
    assert visitor.post(url, {"choice": "a"}, **HTMX).status_code == 200
    assert Judgment.objects.count() == 1


def test_votes_from_one_address_are_limited_across_visitors(two_models, settings, frozen_minute):
    settings.AGORA_ARENA_VOTES_PER_MINUTE_PER_IP = 2
    ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"
    judges = [f"voter:ip-test-{random.random()}" for _ in range(3)]
    battles = [ready_battle(judge) for judge in judges]
    for judge, battle in zip(judges[:2], battles[:2], strict=True):
        services.vote_record(battle=battle, judge=judge, vote=services.Vote(choice="b"), client_ip=ip)
    with pytest.raises(services.RateLimited, match="Too many votes"):
        services.vote_record(battle=battles[2], judge=judges[2], vote=services.Vote(choice="b"), client_ip=ip)
    services.vote_record(battle=battles[2], judge=judges[2], vote=services.Vote(choice="b"), client_ip="10.9.9.9")
    assert Judgment.objects.count() == 3


def test_a_username_the_database_cannot_hold_is_refused_before_anyone_counts_it(client):
    from axes.models import AccessAttempt

    for login in ("/accounts/login/", "/admin/login/"):
        for username in ("x" * 100_000, "a\x00b"):
            page = client.post(login, {"username": username, "password": "whatever"})
            assert page.status_code == 200  # the form again, with what is wrong
            assert "Ensure this value has at most 150 characters" in page.content.decode() or (
                "NUL character" in page.content.decode() or "Null characters" in page.content.decode()
            )
    assert not AccessAttempt.objects.exists()


# --- behind a reverse proxy ---------------------------------------------------------------------------------

PROXY = "10.9.0.2"


@pytest.fixture
def behind_proxy(settings):
    settings.AGORA_TRUSTED_PROXIES = ["10.9.0.0/16"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600


def log_in_via(client: Client, username: str, password: str, peer: str, forwarded_for: str):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_a_trusted_proxy_each_visitor_is_counted_by_their_own_address(behind_proxy):
    User.objects.create_user("erin", password="pw-erin-12345")
    for _ in range(5):
        log_in_via(Client(), "erin", "wrong", PROXY, "203.0.113.7")
    # Whatever a client writes to the left of what the proxy appended does not change who it is.
    assert log_in_via(Client(), "erin", "pw-erin-12345", PROXY, "198.51.100.1, 203.0.113.7").status_code == 429
    # Another visitor behind the same proxy is not locked out with the first.
    assert log_in_via(Client(), "erin", "pw-erin-12345", PROXY, "203.0.113.8").status_code == 302


def test_a_visitor_reaching_the_server_directly_cannot_choose_an_address(behind_proxy):
    User.objects.create_user("finn", password="pw-finn-12345")
    for number in range(5):
        log_in_via(Client(), "finn", "wrong", "192.0.2.50", f"203.0.113.{number}")
    assert log_in_via(Client(), "finn", "pw-finn-12345", "192.0.2.50", "203.0.113.99").status_code == 429


def test_only_a_trusted_proxy_can_say_the_request_came_over_https(behind_proxy):
    via_proxy = Client().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert via_proxy.headers.get("Strict-Transport-Security") == "max-age=3600"
    direct = Client().get("/", REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in direct.headers


def test_a_trusted_proxy_setting_that_is_not_an_address_stops_the_start():
    with pytest.raises(ImproperlyConfigured, match="'10.0.0.300' is not an IP address"):
        proxy_networks(["10.0.0.1", "10.0.0.300"])
    networks = proxy_networks(["10.9.0.0/16", "fd00::1"])
    assert client_address(PROXY, "not-an-address, 10.9.0.7", networks) == PROXY
    assert client_address("fd00::1", "2001:db8::5", networks) == "2001:db8::5"
