"""News for open leaderboard pages, over the Channels layer: a board's fit queued, its progress, its
end, and votes arriving since. The pages listen on a websocket (ratings/consumers.py) instead of polling.

Every app that writes judgments imports annotation, so the news is sent from here. It is sent once the
write is committed, and never fails the write: a page that missed a message is put right by the next
one (or by the snapshot its socket gets on reconnecting).
"""

from __future__ import annotations

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

VOTES_GROUP = "leaderboard.votes"

logger = logging.getLogger(__name__)


def board_group(board_key: str) -> str:
    """The Channels group of one board. A key holds any category text, which group names cannot."""
    return "board." + hashlib.sha256(board_key.encode()).hexdigest()[:32]


def votes_arrived(count: int = 1) -> None:
    """``count`` judgments were written (in the transaction now open, if any)."""
    _after_commit(VOTES_GROUP, {"type": "leaderboard.votes", "count": count})


def fit_queued(board_key: str, run_id: int) -> None:
    _after_commit(board_group(board_key), {"type": "leaderboard.run", "event": "queued", "run": run_id})


def fit_progress(board_key: str, run_id: int, progress: float) -> None:
    _send(board_group(board_key), {"type": "leaderboard.run", "event": "progress", "run": run_id, "progress": progress})


def fit_finished(board_key: str, run_id: int) -> None:
    _send(board_group(board_key), {"type": "leaderboard.run", "event": "fitted", "run": run_id})


def _after_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: _send(group, message), robust=True)


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # noqa: BLE001 - news is best effort; the write it reports on has landed
        logger.warning("could not tell the leaderboards %s", message["type"], exc_info=True)
