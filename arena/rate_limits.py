"""Per-visitor and per-IP rate limits on prompts and votes, counted in Redis.

A fixed one-minute window per key: INCR then EXPIRE, atomic in a pipeline.
Redis rather than PostgreSQL because every web process must share the count
and a counter row per visitor would be write-hot.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def hit(scope: str, key: str, limit: int) -> bool:
    """Count one hit; True if it is within the limit for the current minute."""
    if limit <= 0:
        return True
    window = int(time.time() // 60)
    name = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:rl:{scope}:{key}:{window}"
    pipe = _client().pipeline()
    pipe.incr(name)
    pipe.expire(name, 120)
    count, _ = pipe.execute()
    return int(count) <= limit


def vote_rate_check(*, judge: str, client_ip: str | None) -> bool:
    """Count one vote; False when the visitor, or their address, is over this minute's limit."""
    return hit("vote", judge, settings.AGORA_ARENA_VOTES_PER_MINUTE) and (
        not client_ip or hit("vote-ip", client_ip, settings.AGORA_ARENA_VOTES_PER_MINUTE_PER_IP)
    )
