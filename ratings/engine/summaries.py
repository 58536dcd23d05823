"""Cardinal summaries and bias analytics: what the votes say besides who wins.

- Cardinal: per model and attribute, the mean score with a bootstrap interval (resampling scores).
- Position bias: of the decisive votes, the share that went to the side the judge saw first
  (50% = none), with a Wilson 95% interval, per judge source.
- Length bias: the win rate of the longer answer by bins of relative length difference.
- Tie rate per judge.
"""

from __future__ import annotations

import numpy as np

from ratings.engine.intervals import z_score


def cardinal(
    models: np.ndarray,
    values: np.ndarray,
    names: tuple[str, ...],
    *,
    rounds: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict]:
    """``models``: index per score; ``values``: the scores. One row per model with scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in np.unique(models):
        vals = values[models == index].astype(np.float64)
        means = rng.choice(vals, size=(rounds, len(vals)), replace=True).mean(axis=1) if len(vals) > 1 else vals
        tail = (1 - level) / 2
        rows.append(
            {
                "model": names[int(index)],
                "n": int(len(vals)),
                "mean": float(vals.mean()),
                "lower": float(np.quantile(means, tail)),
                "upper": float(np.quantile(means, 1 - tail)),
            }
        )
    rows.sort(key=lambda r: -r["mean"])
    return rows


def wilson(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    z = z_score(level)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def position_bias(first_won: np.ndarray, groups: np.ndarray) -> list[dict]:
    """``first_won``: per decisive vote with a known display order, whether the side shown first won."""
    rows = []
    for group in sorted(set(groups.tolist())):
        mask = groups == group
        n, k = int(mask.sum()), float(first_won[mask].sum())
        lower, upper = wilson(k, n)
        rows.append({"group": group, "n": n, "first_share": k / n if n else None, "lower": lower, "upper": upper})
    return rows


LENGTH_BINS = (-1.0, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, 1.0)


def length_bias(len_a: np.ndarray, len_b: np.ndarray, y: np.ndarray) -> list[dict]:
    """A's win rate (ties half) by bins of (len a − len b) / (len a + len b)."""
    total = len_a + len_b
    rel = np.where(total > 0, (len_a - len_b) / np.where(total > 0, total, 1), 0.0)
    rows = []
    for lo, hi in zip(LENGTH_BINS[:-1], LENGTH_BINS[1:], strict=True):
        mask = (rel >= lo) & ((rel < hi) | (hi == LENGTH_BINS[-1]))
        n = int(mask.sum())
        rows.append({"from": lo, "to": hi, "n": n, "a_win_rate": float(y[mask].mean()) if n else None})
    return rows


def tie_rates(judges: np.ndarray, tie: np.ndarray, names: tuple[str, ...], *, min_votes: int = 1) -> list[dict]:
    counts = np.bincount(judges, minlength=len(names))
    ties = np.bincount(judges, weights=tie.astype(np.float64), minlength=len(names))
    rows = [
        {"judge": names[j], "n": int(counts[j]), "tie_rate": float(ties[j] / counts[j])}
        for j in range(len(names))
        if counts[j] >= min_votes
    ]
    rows.sort(key=lambda r: (-r["tie_rate"], -r["n"]))
    return rows
