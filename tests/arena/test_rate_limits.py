"""The prompt and vote limits fail open: with Redis unreachable, a prompt is answered and a vote stored."""

from __future__ import annotations

import logging
import time
import uuid
from types import SimpleNamespace

import pytest
from django.test import Client

from annotation.models import Judgment
from arena import rate_limits
from arena.models import Battle
from tests.arena.test_battles import finish_turn
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def unreachable_redis(settings, monkeypatch):
    # A port that nothing listens on: every connection is refused, as while Redis restarts.
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setattr(rate_limits, "_last_warning", float("-inf"))


def warnings_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "arena.rate_limits" and r.levelno == logging.WARNING]


def test_with_redis_unreachable_prompts_and_votes_past_the_limits_are_answered_and_stored(
    two_models, settings, unreachable_redis, caplog
):
    settings.AGORA_ARENA_PROMPTS_PER_MINUTE = settings.AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP = 1
    settings.AGORA_ARENA_VOTES_PER_MINUTE = settings.AGORA_ARENA_VOTES_PER_MINUTE_PER_IP = 1
    visitor = Client()
    visitor.get("/arena/")
    caplog.set_level(logging.WARNING, logger="arena.rate_limits")
    for prompt in ("What is 2+2?", "Name a prime number."):
        response = visitor.post("/arena/", {"prompt": prompt})
        assert response.status_code == 302, response.content.decode()
        battle = Battle.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[-1])
        finish_turn(battle)
        vote = visitor.post(f"/arena/b/{battle.public_id}/vote", {"choice": "b"}, **HTMX)
        assert vote.status_code == 200, vote.content.decode()
    assert Judgment.objects.count() == 2
    logged = warnings_logged(caplog)
    assert len(logged) == 1  # eight uncounted hits, one warning for the minute
    assert "Redis is unreachable" in logged[0]


def test_with_redis_reachable_the_same_limit_refuses_the_second_hit(unreachable_redis, settings, monkeypatch):
    now = time.time()  # one clock minute for the whole test, whenever it runs
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now))
    key = f"visitor-{uuid.uuid4()}"
    assert rate_limits.hit("test", key, 1) and rate_limits.hit("test", key, 1)  # uncounted while unreachable
    settings.REDIS_URL = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    assert rate_limits.hit("test", key, 1)
    assert not rate_limits.hit("test", key, 1)
