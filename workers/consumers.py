"""A health websocket: proves that web, Redis (layer and broker) and a worker talk."""

from __future__ import annotations

import secrets

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from workers.tasks import ping


class PingConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = f"ping.{secrets.token_hex(8)}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        token = str(content.get("ping", ""))[:64]
        await sync_to_async(ping.delay)(self.group, token)

    async def pong(self, event):
        await self.send_json({"pong": event["token"]})
