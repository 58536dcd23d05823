"""The battle websocket through the real ASGI application and the Redis channel layer."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core import signing
from django.db import connections

from arena import services
from arena.consumers import BattleConsumer
from arena.tasks import generate_answer
from arena.voters import SALT
from config.asgi import application
from tests.arena.conftest import register_openai
from tests.arena.test_battles import finish_turn
from tests.fakes.openai_server import FakeOpenAIServer
from workers.publishing import buffer_key

pytestmark = pytest.mark.django_db(transaction=True)


# A wait for what must arrive, not a measure of speed: the handshake and frames take well under a second on
# an idle machine, and several on a busy one (the handshake's default of 1 s timed out there in CI).
WAIT_S = 30


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
        connected, code = await socket.connect(timeout=WAIT_S)
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
            connected, _ = await socket.connect(timeout=WAIT_S)
            assert connected
            frames = []
            while not (frames and frames[-1]["t"] == "state" and frames[-1]["state"] == "ready"):
                frames.append(await socket.receive_json_from(timeout=WAIT_S))
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


@contextlib.asynccontextmanager
async def shared_sync_thread_held():
    """Hold the one thread that sync_to_async's default (thread-sensitive) calls share, for the block.

    What the block awaits must arrive while it is held: a step that needs the thread times out.
    """
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(15)

    holding = asyncio.ensure_future(sync_to_async(hold)())
    while not started.is_set():
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        await holding


def test_chunks_reach_the_socket_while_the_shared_sync_thread_is_busy(two_models):
    """A chunk is relayed on the event loop alone: no hop to the sync thread all consumers share.

    Another consumer's database work (or anything run by sync_to_async) holds that thread here
    until the chunk has arrived; a relay that waited for the thread would never see it arrive.
    """
    battle = services.battle_create(prompt="Busy thread.", judge="voter:busy")

    async def watch() -> dict:
        socket = communicator(battle.public_id, "busy")
        connected, _ = await socket.connect(timeout=WAIT_S)
        assert connected
        while (await socket.receive_json_from(timeout=WAIT_S))["t"] != "state":
            pass  # the snapshot of the queued answers
        async with shared_sync_thread_held():
            chunk = {"type": "arena.chunk", "turn": 0, "side": 1, "seq": 0, "text": "hello"}
            await get_channel_layer().group_send(battle.group_name, chunk)
            frame = await socket.receive_json_from(timeout=WAIT_S)
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
        return frame

    assert asyncio.run(watch()) == {"t": "chunk", "turn": 0, "side": 1, "seq": 0, "text": "hello"}


def test_a_socket_connects_while_the_shared_sync_thread_is_busy(two_models):
    """The handshake's session, user and battle reads run on the thread pool, not on the shared thread."""
    battle = services.battle_create(prompt="Busy connect.", judge="voter:early")

    async def watch() -> tuple[bool, list[dict]]:
        async with shared_sync_thread_held():
            socket = communicator(battle.public_id, "early")
            connected, _ = await socket.connect(timeout=WAIT_S)
            frames = [await socket.receive_json_from(timeout=WAIT_S)]
            while frames[-1]["t"] != "state":
                frames.append(await socket.receive_json_from(timeout=WAIT_S))
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
        return connected, frames

    connected, frames = asyncio.run(watch())
    assert connected
    assert [(f["t"], f.get("side")) for f in frames] == [("snapshot", 0), ("snapshot", 1), ("state", None)]


def test_a_quiet_socket_of_a_generating_battle_gets_the_end_that_its_lost_events_carried(two_models, monkeypatch):
    """The answers finish in the database while no event reaches the socket (as while Redis restarts):
    the socket, quiet while the battle is generating, is sent a fresh snapshot with the end."""
    monkeypatch.setattr(BattleConsumer, "quiet_resync_s", 0.2)
    battle = services.battle_create(prompt="Lost events.", judge="voter:deaf")

    async def watch() -> tuple[list[dict], list[dict]]:
        socket = communicator(battle.public_id, "deaf")
        connected, _ = await socket.connect(timeout=WAIT_S)
        assert connected
        first = [await socket.receive_json_from(timeout=WAIT_S)]
        while first[-1]["t"] != "state":
            first.append(await socket.receive_json_from(timeout=WAIT_S))
        await database_sync_to_async(finish_turn)(battle)  # settled, and nothing published
        frames = []
        while not (frames and frames[-1]["t"] == "state" and frames[-1]["state"] == "ready"):
            frames.append(await socket.receive_json_from(timeout=WAIT_S))
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
        return first, frames

    first, frames = asyncio.run(watch())
    assert first[-1] == {"t": "state", "state": "generating", "message": ""}
    done = {f["side"]: f["html"] for f in frames if f["t"] == "done"}
    assert done == {0: "<p>Answer <strong>A</strong></p>\n", 1: "<p>Answer B</p>\n"}


def test_a_follow_up_tells_the_open_sockets_that_the_battle_is_generating_again(two_models, monkeypatch):
    """So a socket that goes quiet during the new turn is resynced, as during the first one."""
    monkeypatch.setattr(BattleConsumer, "quiet_resync_s", 0.2)
    battle = services.battle_create(prompt="First turn.", judge="voter:follows")
    finish_turn(battle)

    async def next_state(socket) -> tuple[dict, list[dict]]:
        frames = [await socket.receive_json_from(timeout=WAIT_S)]
        while frames[-1]["t"] != "state":
            frames.append(await socket.receive_json_from(timeout=WAIT_S))
        return frames[-1], frames

    async def watch() -> tuple[dict, dict, list[dict]]:
        socket = communicator(battle.public_id, "follows")
        connected, _ = await socket.connect(timeout=WAIT_S)
        assert connected
        before, _ = await next_state(socket)
        await database_sync_to_async(services.turn_add)(battle=battle, prompt="And then?", judge="voter:follows")
        after, _ = await next_state(socket)
        await database_sync_to_async(finish_turn)(battle)  # the new turn settles, and nothing is published
        end, frames = await next_state(socket)
        while end["state"] != "ready":
            end, more = await next_state(socket)
            frames += more
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
        return before, after, frames

    before, after, frames = asyncio.run(watch())
    assert before["state"] == "ready"
    assert after == {"t": "state", "state": "generating", "message": ""}
    assert {f["side"] for f in frames if f["t"] == "done" and f["turn"] == 1} == {0, 1}
