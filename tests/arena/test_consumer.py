"""The battle websocket through the real ASGI application and the Redis channel layer."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core import signing
from django.db import connections

from arena import services
from arena.voters import SALT
from config.asgi import application
from tests.arena.conftest import register_openai
from tests.fakes.openai_server import FakeOpenAIServer
from workers.publishing import buffer_key
from workers.tasks import generate_answer

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(public_id: str, voter_key: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if voter_key is not None:
        cookie = f"{settings.VOTER_COOKIE_NAME}={signing.Signer(salt=SALT).sign(voter_key)}"
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, f"/ws/arena/{public_id}/", headers=headers)


def generate_in_background(battle) -> None:
    def work(answer_id: int):
        try:
            generate_answer(answer_id)
        finally:
            connections.close_all()  # or this thread's connection holds the test database open

    for answer in battle.answers.all():
        threading.Thread(target=work, args=(answer.pk,)).start()


def test_another_visitor_cannot_open_a_battles_socket(two_models):
    battle = services.battle_create(prompt="Mine.", judge="voter:owner")

    async def attempt(key):
        socket = communicator(battle.public_id, key)
        connected, code = await socket.connect()
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
        return connected, code

    assert asyncio.run(attempt("intruder"))[0] is False
    assert asyncio.run(attempt(None))[0] is False
    assert asyncio.run(attempt("owner"))[0] is True


def test_a_socket_that_joins_mid_stream_gets_every_chunk_once(db):
    with FakeOpenAIServer(tokens=40, rate=40) as slow:
        register_openai("Late A", "late-a", slow.url)
        register_openai("Late B", "late-b", slow.url)
        battle = services.battle_create(prompt="Stream slowly.", judge="voter:late")
        answers = list(battle.answers.all())
        generate_in_background(battle)
        client = redis.Redis.from_url(settings.REDIS_URL)
        deadline = time.monotonic() + 10
        while not all(client.llen(buffer_key(a.pk)) >= 5 for a in answers):
            assert time.monotonic() < deadline
            time.sleep(0.02)

        async def watch() -> list[dict]:
            socket = communicator(battle.public_id, "late")
            connected, _ = await socket.connect()
            assert connected
            frames = []
            while not (frames and frames[-1]["t"] == "state" and frames[-1]["state"] == "ready"):
                frames.append(await socket.receive_json_from(timeout=10))
            await socket.disconnect()
            await database_sync_to_async(connections.close_all)()  # the consumer's ORM thread
            return frames

        frames = asyncio.run(watch())

    for answer in answers:
        answer.refresh_from_db()
        mine = [f for f in frames if f.get("side") == answer.side]
        snapshot = next(f for f in mine if f["t"] == "snapshot")
        assert 5 <= snapshot["next"] < 40  # joined mid-stream
        chunks = [f for f in mine if f["t"] == "chunk"]
        first = snapshot["next"]
        assert [c["seq"] for c in chunks] == list(range(first, first + len(chunks)))  # no gap, no repeat
        assert snapshot["text"] + "".join(c["text"] for c in chunks) == answer.text
        assert [f["t"] for f in mine][-1] == "done"
