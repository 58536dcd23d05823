"""Ratings: the boards, a board's latest fit, and a refit (``client.ratings``).

A board is named by its switches, the leaderboard page's: ``method`` (bt, …), ``style``, ``category``,
``source``, ``graded``, ``baseline``, ``groups``, ``mixture_mode``, ``bootstrap``, ``ci`` and ``integrity``; the
ones left out take the server's defaults (the main board: ``method="bt"``). Reading never starts a fit: staff
ask for one with ``refit`` and then read the board until its ``run`` changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agora_client.client import Client


class Ratings:
    def __init__(self, client: Client):
        self._client = client

    def boards(self) -> list[dict]:
        """The boards kept current and those fitted: ``key``, ``board`` (its switches), ``scheduled``,
        ``latest_run``, ``fitted_at``, ``judgments``."""
        return self._client.call("GET", "/ratings/boards")

    def board(self, **switches: Any) -> dict:
        """The board's latest fit, as ``manage.py fit_ratings --output`` writes it (``run``, ``method``,
        ``judgments``, ``models``: ``[{"model", "rating", "lower", "upper", "rank_ub", "battles"}]``, …).
        NotFound when it was never fitted."""
        return self._client.call("GET", "/ratings/board", params=switches)

    def refit(self, **switches: Any) -> dict:
        """Ask for a fit of the board (staff): ``{"run", "board", "state", "progress"}``. A fit already queued
        or running for it is returned instead of a second one."""
        return self._client.call("POST", "/ratings/board/refit", params=switches, repeatable=True)
