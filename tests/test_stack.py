"""The whole topology end to end: ASGI server, Redis (layer and broker), a Celery worker.

Marked smoke: CI also runs these against the embedded servers.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
import websockets

pytestmark = pytest.mark.smoke


def test_the_asgi_server_answers_http_over_the_database(asgi_server):
    with urllib.request.urlopen(f"http://{asgi_server}/healthz", timeout=10) as response:
        assert json.load(response) == {"ok": True}
    with urllib.request.urlopen(f"http://{asgi_server}/", timeout=10) as response:
        page = response.read().decode()
    assert "<title>Home · Agora</title>" in page


def test_a_websocket_message_goes_through_a_worker_and_back(asgi_server, celery_worker_process):
    async def round_trip() -> dict:
        async with websockets.connect(
            f"ws://{asgi_server}/ws/ping/", origin=f"http://{asgi_server}"
        ) as socket:
            await socket.send(json.dumps({"ping": "hello-42"}))
            return json.loads(await asyncio.wait_for(socket.recv(), timeout=30))

    assert asyncio.run(round_trip()) == {"pong": "hello-42"}
