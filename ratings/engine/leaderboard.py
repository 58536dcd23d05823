"""One entry point: votes in, a leaderboard out.

``rate(votes, method=...)`` fits one of the registered methods (methods.METHODS: Bradley–Terry with
optional style control, Elo, Rao–Kupper, Davidson, the mixture, the win rate against a baseline) with
its confidence intervals and win-rate matrices, and returns a RatingResult, whose ``to_dict()`` is
what the stored run keeps, ``fit_ratings --output`` writes and the leaderboard page reads back. Bad
input never gives a NaN: an empty set raises RatingError; a single model, a disconnected graph or a
model that never lost give finite numbers and warnings.
"""

from __future__ import annotations

from typing import Any

from ratings.engine.methods import METHODS, Options, Report
from ratings.engine.result import RatingResult
from ratings.engine.votes import RatingError, Votes


def _ignore(_fraction: float) -> None:
    pass


def rate(votes: Votes, *, method: str = "bt", progress: Report | None = None, **options: Any) -> RatingResult:
    """Fit ``method`` (a key of METHODS) to the votes. ``options`` are the fields of methods.Options
    (bootstrap, ci, level, use_style, style_reg, style_reweight, baseline, anchor, elo_k, groups,
    mixture_mode, prompts, scale, seed, length); ``progress`` hears the fraction done, 1.0 at the end."""
    if method not in METHODS:
        raise RatingError(f"unknown method {method!r} (choose {', '.join(METHODS)})")
    request = Options(**options)
    request.check(votes)
    report = progress or _ignore
    result = METHODS[method].fit(votes, request, report)
    report(1.0)
    return result
