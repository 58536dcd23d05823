"""The simple scores: counting, average win rate, online Elo.

Same definitions as evalica (and so as its golden files): a tie is half a win; average win rate
is, per model, the mean over the opponents it met of its share of the points against each.
"""

from __future__ import annotations

import numpy as np

from ratings.engine.bradley_terry import DEFAULT_SCALE, Scale
from ratings.engine.votes import Votes


def counting(wins: np.ndarray) -> np.ndarray:
    """Points: wins plus half the ties."""
    return wins.sum(axis=1)


def average_win_rate(wins: np.ndarray) -> np.ndarray:
    totals = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(totals > 0, wins / np.where(totals > 0, totals, 1.0), np.nan)
    met = np.isfinite(rate).sum(axis=1)
    return np.where(met > 0, np.nansum(rate, axis=1) / np.maximum(met, 1), 0.0)


def elo(votes: Votes, *, k: float = 4.0, scale: Scale = DEFAULT_SCALE) -> np.ndarray:
    """Online Elo over the votes in their order (base 10, scale 400, initial 1000 by default).

    A vote's outcome y (1, ½, 0 or soft) is a's score; its weight multiplies K.
    """
    ratings = np.full(votes.n_models, scale.init, dtype=np.float64)
    # A plain loop: each update depends on the one before. ~1 µs per vote in CPython floats.
    r = ratings.tolist()
    base, s = scale.base, scale.scale
    for a, b, y, w in zip(votes.a.tolist(), votes.b.tolist(), votes.y.tolist(), votes.w.tolist(), strict=True):
        expected_a = 1.0 / (1.0 + base ** ((r[b] - r[a]) / s))
        delta = k * w * (y - expected_a)
        r[a] += delta
        r[b] -= delta
    return np.asarray(r)
