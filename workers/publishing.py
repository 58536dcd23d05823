"""What the generation side tells the browser: events on a battle's Channels group.

Chunks also go to a short-lived Redis list per answer, so a socket that joins
late (the page loads after the first tokens were streamed, or reconnects)
can be sent everything so far before the live chunks (arena/consumers.py).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from django.conf import settings

BUFFER_TTL_S = 600


def buffer_key(answer_id: int) -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:stream:{answer_id}"


_clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}


def _redis() -> aioredis.Redis:
    """One client (and connection pool) per event loop: the worker's stream loop, daphne's loop."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return _clients[loop]


async def chunk(*, group: str, answer_id: int, turn: int, side: int, seq: int, text: str) -> None:
    pipe = _redis().pipeline(transaction=False)
    pipe.rpush(buffer_key(answer_id), text)
    if seq == 0:
        pipe.expire(buffer_key(answer_id), BUFFER_TTL_S)
    await pipe.execute()
    await get_channel_layer().group_send(
        group, {"type": "arena.chunk", "turn": turn, "side": side, "seq": seq, "text": text}
    )


async def events(group: str, messages: list[dict]) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(group, message)


async def buffered_text(answer_id: int) -> list[str]:
    return [part.decode() for part in await _redis().lrange(buffer_key(answer_id), 0, -1)]
