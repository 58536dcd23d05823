"""The battle websocket: relays a battle's events to the visitor who started it.

Frames carry text, HTML rendered from it, sides and states — never a model
name. On connect the visitor first gets what happened so far (answers done,
failed, or the chunks buffered until now), then the live events; chunks the
snapshot already covered are dropped by sequence number.

Events travel over Redis pub/sub, which keeps nothing for a listener it could
not reach: an answer that finishes while Redis restarts publishes its end into
the void, and the socket, still open, would wait forever. So while the battle is
generating, a socket that has carried nothing for ``quiet_resync_s`` gets a fresh
snapshot from the database (which always has the end) and the stream buffer.
A streaming answer sends chunks far more often, so this costs a read only for
battles whose models are silent. The page's own watchdog (static/js/arena.js)
covers a socket that carries nothing at all, snapshots included.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from annotation.markdown import render_markdown
from arena.models import Answer, AnswerState, Battle, BattleState
from arena.pooled_sync import pooled_sync_to_async
from arena.services import judge_label
from arena.voters import voter_key_from_cookie
from workers import publishing

FORBIDDEN = 4403

logger = logging.getLogger(__name__)


class BattleConsumer(AsyncJsonWebsocketConsumer):
    # Below the page's watchdog (data-quiet-ms, 15 s by default), so a healthy socket is never taken for dead.
    quiet_resync_s = 10.0
    state = ""
    state_events = 0
    resync: asyncio.Task | None = None

    async def connect(self):
        public_id = self.scope["url_route"]["kwargs"]["public_id"]
        self.battle = await self._battle(public_id)
        if self.battle is None:
            await self.close(code=FORBIDDEN)
            return
        self.group = self.battle.group_name
        self.next_seq: dict[tuple[int, int], int] = {}
        # Join before reading the snapshot: whatever happens in between arrives twice, never not at all.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_snapshot()
        self.resync = asyncio.create_task(self._resync_while_quiet())

    async def dispatch(self, message):
        """Call the message's handler, without Channels' hop to the shared sync thread first.

        Channels' own dispatch closes stale database connections before every message, on the
        one thread that every consumer of the process shares for sync code. One hop per chunk
        queued every socket's chunks on that thread: under load, seconds between a token and the
        page. This consumer reads the database only through ``pooled_sync_to_async``, which closes
        stale connections itself around each call, on a thread of the pool.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code):
        if self.resync is not None:
            self.resync.cancel()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the browser only listens; prompts and votes go over HTTP

    @pooled_sync_to_async
    def _battle(self, public_id: str) -> Battle | None:
        key = voter_key_from_cookie(self.scope.get("cookies", {}).get(settings.VOTER_COOKIE_NAME))
        user = self.scope.get("user")
        if key is None and not (user and user.is_authenticated):
            return None
        judge = judge_label(user=user, voter_key=key or "")
        return Battle.objects.filter(public_id=public_id, voter=judge).first()

    @pooled_sync_to_async
    def _latest_answers(self) -> tuple[str, str, list[Answer]]:
        battle = Battle.objects.get(pk=self.battle.pk)
        answers = list(battle.answers.order_by("-turn", "side")[:2])
        return battle.state, battle.error, answers

    async def send_json(self, content, close=False):
        self.last_sent = time.monotonic()
        await super().send_json(content, close)

    async def _resync_while_quiet(self) -> None:
        while True:
            quiet_for = time.monotonic() - self.last_sent
            if quiet_for < self.quiet_resync_s:
                await asyncio.sleep(self.quiet_resync_s - quiet_for)
            elif self.state != BattleState.GENERATING:
                await asyncio.sleep(self.quiet_resync_s)  # nothing due; a follow-up's event may start a turn
            else:
                try:
                    await self._send_snapshot()
                except Exception as error:  # noqa: BLE001 - Redis or PostgreSQL away: try again after a pause
                    logger.warning("battle %s: could not resync a quiet socket: %r", self.battle.public_id, error)
                    await asyncio.sleep(self.quiet_resync_s)

    async def _send_snapshot(self) -> None:
        state_events = self.state_events
        state, error, answers = await self._latest_answers()
        for answer in answers:
            where = {"turn": answer.turn, "side": answer.side}
            if answer.state == AnswerState.DONE:
                await self.send_json({"t": "done", **where, "html": render_markdown(answer.text)})
            elif answer.state == AnswerState.FAILED:
                await self.send_json({"t": "failed", **where, "message": "This answer failed."})
            else:
                parts = await publishing.buffered_text(answer.pk)
                key = (answer.turn, answer.side)
                self.next_seq[key] = max(self.next_seq.get(key, 0), len(parts))
                await self.send_json({"t": "snapshot", **where, "text": "".join(parts), "next": len(parts)})
        if self.state_events != state_events:
            return  # a state event came while this read ran: it is newer than what was read
        self.state = state
        await self.send_json({"t": "state", "state": state, "message": error})

    async def _relay(self, frame_type: str, event: dict) -> None:
        """Send a group event on as a frame: its fields as they are, "t" naming the kind."""
        await self.send_json({"t": frame_type, **{k: v for k, v in event.items() if k != "type"}})

    async def arena_chunk(self, event):
        where = (event["turn"], event["side"])
        if event["seq"] < self.next_seq.get(where, 0):
            return  # already in the snapshot
        self.next_seq[where] = event["seq"] + 1
        await self._relay("chunk", event)

    async def arena_done(self, event):
        await self._relay("done", event)

    async def arena_failed(self, event):
        await self._relay("failed", event)

    async def arena_state(self, event):
        self.state = event["state"]
        self.state_events += 1
        await self._relay("state", event)
