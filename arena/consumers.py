"""The battle websocket: relays a battle's events to the visitor who started it.

Frames carry text, HTML rendered from it, sides and states — never a model
name. On connect the visitor first gets what happened so far (answers done,
failed, or the chunks buffered until now), then the live events; chunks the
snapshot already covered are dropped by sequence number.
"""

from __future__ import annotations

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from annotation.markdown import render_markdown
from arena.models import Answer, AnswerState, Battle
from arena.services import judge_label
from arena.voters import voter_key_from_cookie
from config.websocket_auth import pooled_sync_to_async
from workers import publishing

FORBIDDEN = 4403


class BattleConsumer(AsyncJsonWebsocketConsumer):
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

    async def _send_snapshot(self) -> None:
        state, error, answers = await self._latest_answers()
        for answer in answers:
            where = {"turn": answer.turn, "side": answer.side}
            if answer.state == AnswerState.DONE:
                await self.send_json({"t": "done", **where, "html": render_markdown(answer.text)})
            elif answer.state == AnswerState.FAILED:
                await self.send_json({"t": "failed", **where, "message": "This answer failed."})
            else:
                parts = await publishing.buffered_text(answer.pk)
                self.next_seq[(answer.turn, answer.side)] = len(parts)
                await self.send_json({"t": "snapshot", **where, "text": "".join(parts), "next": len(parts)})
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
        await self._relay("state", event)
