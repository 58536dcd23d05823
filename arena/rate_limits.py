"""Per-visitor and per-IP rate limits on prompts and votes, counted in Redis.

A fixed one-minute window per key: INCR then EXPIRE, atomic in a pipeline.
Redis rather than PostgreSQL because every web process must share the count
and a counter row per visitor would be write-hot.

The limits fail open: while Redis cannot be reached (a restart, a network
fault), every hit is allowed, so a vote is still stored and a prompt still
answered instead of a 500; a warning says so, at most once a minute per
process. A limit that lets a few more requests through during an outage
costs less than refusing every visitor, and PostgreSQL's constraints, not the
limits, keep the votes right.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WARN_EVERY_S = 60.0
# A request waits at most about this long on an unreachable Redis before it is let through.
SOCKET_TIMEOUT_S = 1.0

_last_warning = float("-inf")


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S)


def hit(scope: str, key: str, limit: int) -> bool:
    """Count one hit; True if it is within the limit for the current minute, or Redis is unreachable."""
    global _last_warning
    if limit <= 0:
        return True
    now = time.time()
    window = int(now // 60)
    name = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:rl:{scope}:{key}:{window}"
    pipe = _client(settings.REDIS_URL).pipeline()
    pipe.incr(name)
    pipe.expire(name, 120)
    try:
        count, _ = pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        # Unguarded by a lock: two threads may both warn once, which is harmless.
        if now - _last_warning >= WARN_EVERY_S:
            _last_warning = now
            logger.warning("rate limits not counted: Redis is unreachable (%s); letting requests through", error)
        return True
    return int(count) <= limit


def vote_rate_check(*, judge: str, client_ip: str | None) -> bool:
    """Count one vote; False when the visitor, or their address, is over this minute's limit."""
    return hit("vote", judge, settings.AGORA_ARENA_VOTES_PER_MINUTE) and (
        not client_ip or hit("vote-ip", client_ip, settings.AGORA_ARENA_VOTES_PER_MINUTE_PER_IP)
    )
