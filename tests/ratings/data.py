"""Vote sets for the rating tests: the shared reference files and planted synthetic data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ratings.engine import style
from ratings.engine.leaderboard import rate
from ratings.engine.votes import Votes, votes_from_records

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WINNER = {"left": "a", "right": "b", "tie": "tie"}


def evalica_votes(name: str) -> Votes:
    """``simple``, ``food`` (evalica's small sets) or ``llmfao`` (the 8,931 crowd votes), in file order."""
    path = SHARED / "llmfao" / "crowd-comparisons.csv" if name == "llmfao" else SHARED / "evalica" / f"{name}.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return votes_from_records((r["left"], r["right"], WINNER[r["winner"]]) for r in rows)


def golden(name: str) -> dict[str, dict[str, float]]:
    scores: dict[str, dict[str, float]] = {}
    with (SHARED / "evalica" / f"{name}-golden.csv").open() as f:
        for r in csv.DictReader(f):
            scores.setdefault(r["algorithm"], {})[r["item"]] = float(r["score"])
    return scores


def planted(
    n_votes: int, n_models: int, *, seed: int = 0, tie_share: float = 0.15, beta: np.ndarray | None = None
) -> tuple[Votes, np.ndarray, np.ndarray | None]:
    """Votes drawn from a known BT model (plus style effects when ``beta``): (votes, true θ, style x)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n_votes)
    b = (a + rng.integers(1, n_models, n_votes)) % n_models
    logit = theta[a] - theta[b]
    extra = {}
    x = None
    if beta is not None:
        extra = {
            "style_a": rng.poisson([300, 3, 5, 4], (n_votes, 4)),
            "style_b": rng.poisson([300, 3, 5, 4], (n_votes, 4)),
        }
        x = style.style_matrix(extra["style_a"], extra["style_b"])
        logit = logit + x @ beta
    p = 1 / (1 + np.exp(-logit))
    u = rng.random(n_votes)
    tie = u >= 1 - tie_share
    y = np.where(tie, 0.5, (u < p * (1 - tie_share)).astype(float))
    votes = Votes(
        models=tuple(f"m{i:03d}" for i in range(n_models)), a=a, b=b, y=y, tie=tie, w=np.ones(n_votes), extra=extra
    )
    return votes, theta - theta.mean(), x


def rate_json(votes: Votes, **options) -> dict:
    """``rate()``'s result in its JSON form, the dict a stored run keeps: for the tests that read it by key."""
    return rate(votes, **options).to_dict()
