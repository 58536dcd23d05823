"""The leaderboard websocket: an open /leaderboard/ page hears when its board's fit is queued, moves
and lands, and how many votes arrived since (annotation/live.py sends the news).

The socket's URL carries the page's own query (ties, style, category, source, view), so it names the
same board the page shows. On connect it first gets a snapshot: the latest fit, the one in flight and
the votes since the latest; a page that rendered an older state (a fit landed in between) refreshes.
Anyone may listen, as anyone may read the board: the news holds run ids, progress and counts only.
"""

from __future__ import annotations

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import QueryDict

from annotation.live import VOTES_GROUP, board_group
from annotation.storable import storable_text_problem
from ratings import selectors
from ratings.boards import board_from_query

INVALID = 4400


class LeaderboardConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def connect(self):
        query = QueryDict(self.scope.get("query_string", b"").decode("utf-8", errors="replace"))
        self.board = board_from_query(query)
        if storable_text_problem(self.board.key):
            await self.close(code=INVALID)  # a NUL or a lone surrogate: no board has it (the page refuses it too)
            return
        self.groups_joined = (board_group(self.board.key), VOTES_GROUP)
        # Join before reading the snapshot: news sent in between arrives twice, never not at all.
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(self._snapshot)())

    async def dispatch(self, message):
        """Call the handler without Channels' hop to the shared sync thread before every message (it
        closes stale database connections there): every vote is news to every open page, and these
        handlers touch no database."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """The page sends nothing; whatever comes is ignored (never parsed)."""

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    def _snapshot(self) -> dict:
        latest = selectors.run_latest(self.board)
        in_flight = selectors.run_in_flight(self.board)
        return {
            "event": "snapshot",
            "run": latest.pk if latest else None,
            "in_flight": in_flight.pk if in_flight else None,
            "votes_since": selectors.judgments_since(latest.last_judgment_id if latest else None),
        }

    async def leaderboard_run(self, message):
        await self.send_json({k: message[k] for k in ("event", "run", "progress") if k in message})

    async def leaderboard_votes(self, message):
        await self.send_json({"event": "votes", "count": message["count"]})
