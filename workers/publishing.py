"""What the generation side tells the browser: events on a battle's Channels group.

Chunks also go to a short-lived Redis list per answer, so a socket that joins
late (the page loads after the first tokens were streamed, or reconnects)
can be sent everything so far before the live chunks (arena/consumers.py).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

BUFFER_TTL_S = 600


def buffer_key(answer_id: int) -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:stream:{answer_id}"


_clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}


def _redis() -> aioredis.Redis:
    """One client (and connection pool) per event loop: the worker's stream loop, the web server's."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return _clients[loop]


def _group_channel(layer, group: str) -> str | None:
    """The Redis channel a group_send to ``group`` publishes on, when we can publish there ourselves.

    That is when the layer is channels_redis's pub/sub layer whose hosts are all the Redis of
    REDIS_URL (settings list it several times, for several subscriber connections); any other
    layer, or shards on other servers, gets its messages through group_send.
    """
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("hosts") or []
    if not isinstance(layer, RedisPubSubChannelLayer) or {*hosts} != {settings.REDIS_URL}:
        return None
    return pubsub_group_channel_name(layer, group)


def pubsub_group_channel_name(layer: RedisPubSubChannelLayer, group: str) -> str:
    """The Redis pub/sub channel channels_redis's ``group_send`` publishes a group's messages on.

    channels_redis has no public API for it: ``RedisPubSubLoopLayer._get_group_channel_name`` (reached
    through the layer's per-event-loop proxy) is the method its own group_add, group_discard and group_send
    call, so asking it keeps our publishes on the channel its subscribers listen to, whatever the naming.
    Checked against channels-redis 4.3.0 (pinned in pyproject.toml); tests/workers/test_publishing.py fails
    if the method goes away or stops naming the channel group_send publishes on. Must run in an event loop.
    """
    return layer._get_group_channel_name(group)


async def chunk(*, group: str, answer_id: int, turn: int, side: int, seq: int, text: str) -> None:
    """Append to the stream buffer, then publish to the group: one round trip to Redis.

    Both commands go in one pipeline, which Redis runs in order: a socket that reads the buffer
    after this chunk was published finds it there. Publishing here, rather than through the
    layer's group_send, also skips the lock that makes every publish of the process wait for the
    previous one's reply (channels_redis serialises them on one connection).
    """
    message = {"type": "arena.chunk", "turn": turn, "side": side, "seq": seq, "text": text}
    layer = get_channel_layer()
    channel = _group_channel(layer, group)
    pipe = _redis().pipeline(transaction=False)
    pipe.rpush(buffer_key(answer_id), text)
    if seq == 0:
        pipe.expire(buffer_key(answer_id), BUFFER_TTL_S)
    if channel is not None:
        pipe.publish(channel, layer.serialize(message))
    await pipe.execute()
    if channel is None:
        await layer.group_send(group, message)


async def events(group: str, messages: list[dict]) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(group, message)


async def buffered_text(answer_id: int) -> list[str]:
    return [part.decode() for part in await _redis().lrange(buffer_key(answer_id), 0, -1)]
