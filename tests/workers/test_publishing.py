"""workers/publishing.py publishes a stream's chunks itself, on the Redis channel channels_redis's group_send
would use: a private channels_redis method names that channel, and these tests fail if it goes away or
stops naming the channel group_send publishes on (after an upgrade of channels-redis, say)."""

from __future__ import annotations

import asyncio

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection

from workers.publishing import pubsub_group_channel_name


def test_the_private_method_is_still_there():
    assert callable(getattr(RedisPubSubLoopLayer, "_get_group_channel_name", None))


def test_it_names_the_channel_group_send_publishes_on(monkeypatch):
    published = []

    async def publish(self, channel, message):
        published.append(channel)

    monkeypatch.setattr(RedisSingleShardConnection, "publish", publish)
    layer = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:6379/0"] * 3, prefix="test-prefix")
    groups = ["battle-1", "battle-22", "x"]

    async def run():
        names = [pubsub_group_channel_name(layer, group) for group in groups]
        for group in groups:
            await layer.group_send(group, {"type": "arena.chunk", "text": "hi"})
        return names

    assert asyncio.run(run()) == published
    assert len(set(published)) == len(groups)
