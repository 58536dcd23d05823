"""Bradley–Terry by maximum likelihood, with a tie counted as half a win for each side.

P(i beats j) = σ(θi − θj). The fit is Newton's method on the aggregated win matrix W (n × n),
so its cost depends on the number of models, not of votes; a batch of matrices (the bootstrap)
is fitted at once with batched linear algebra.

θ is centred (mean 0), which is what LMArena's arena-rank and FastChat's logistic regression
give; ratings are ``init + scale / ln(base) · θ`` (1000 + 400/ln 10 · θ), optionally shifted so an
anchor model sits at a given rating.

The MLE exists only when the "beat" graph is strongly connected (Ford, 1957): a model that never
lost, or a group that never lost to the rest, would go to +∞. Then, and only then, a weak
Gaussian prior (``PRIOR_WHEN_SEPARATED``) keeps every rating finite, and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

# Prior precision (in θ units, per model) used only when the MLE does not exist. 0.01 ≈ a
# N(0, 10²) prior on θ: invisible for models with data on both sides, finite for the others.
PRIOR_WHEN_SEPARATED = 0.01


@dataclass(frozen=True)
class Scale:
    init: float = 1000.0
    scale: float = 400.0
    base: float = 10.0

    @property
    def alpha(self) -> float:
        return self.scale / math.log(self.base)

    def rating(self, theta: np.ndarray) -> np.ndarray:
        return self.init + self.alpha * theta


DEFAULT_SCALE = Scale()


@dataclass
class Fit:
    theta: np.ndarray
    iterations: int
    prior: float
    warnings: list[str] = field(default_factory=list)


def separation_warnings(wins: np.ndarray, models: tuple[str, ...] | None = None) -> list[str]:
    """Why the MLE would not exist, in words; empty when the beat graph is strongly connected."""
    n = wins.shape[0]
    if n < 2:
        return []
    names = models or tuple(str(i) for i in range(n))
    played = (wins + wins.T) > 0
    n_weak, weak = connected_components(csr_matrix(played), directed=False)
    notes = []
    if n_weak > 1:
        sizes = np.bincount(weak)
        notes.append(
            f"the comparison graph has {n_weak} disconnected parts (sizes {sorted(sizes.tolist(), reverse=True)}): "
            "ratings in different parts are not comparable"
        )
    n_strong, _ = connected_components(csr_matrix(wins > 0), directed=True, connection="strong")
    if n_strong > n_weak:
        never_lost = [names[i] for i in range(n) if played[i].any() and not (wins[:, i] > 0).any()]
        never_won = [names[i] for i in range(n) if played[i].any() and not (wins[i, :] > 0).any()]
        if never_lost:
            notes.append(f"never lost: {', '.join(never_lost[:10])}" + (" …" if len(never_lost) > 10 else ""))
        if never_won:
            notes.append(f"never won: {', '.join(never_won[:10])}" + (" …" if len(never_won) > 10 else ""))
        if not never_lost and not never_won:
            notes.append("a group of models never lost to the others")
    if notes:
        notes.append(f"ratings use a weak prior (precision {PRIOR_WHEN_SEPARATED}) so they stay finite")
    return notes


def _loglik(wins: np.ndarray, theta: np.ndarray, prior: float) -> np.ndarray:
    d = theta[..., :, None] - theta[..., None, :]
    return (wins * log_expit(d)).sum(axis=(-1, -2)) - 0.5 * prior * (theta**2).sum(axis=-1)


def fit(
    wins: np.ndarray,
    *,
    prior: float | None = None,
    theta0: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    models: tuple[str, ...] | None = None,
) -> Fit:
    """θ maximizing Σ W_ij log σ(θi − θj) (minus ½·prior·|θ|²), mean 0.

    ``wins`` is (n, n) or a batch (B, n, n); ``prior`` None means: 0 when the MLE exists,
    PRIOR_WHEN_SEPARATED otherwise (judged on the whole batch).
    """
    wins = np.asarray(wins, dtype=np.float64)
    n = wins.shape[-1]
    warnings: list[str] = []
    if prior is None:
        pooled = wins if wins.ndim == 2 else wins.min(axis=0)
        warnings = separation_warnings(pooled, models)
        prior = PRIOR_WHEN_SEPARATED if warnings else 0.0
    theta = np.zeros(wins.shape[:-1]) if theta0 is None else np.broadcast_to(theta0, wins.shape[:-1]).copy()
    if n < 2:
        return Fit(theta, 0, prior, warnings)
    totals = wins + np.swapaxes(wins, -1, -2)
    won = wins.sum(axis=-1)
    # Adding 1/n·11ᵀ to the (negated) Hessian fixes the one direction the likelihood is flat in
    # (a common shift) without changing the step elsewhere, so θ stays centred.
    centre = np.full((n, n), 1.0 / n)
    scale = max(1.0, float(totals.sum(axis=(-1, -2)).max()) / n)
    loglik = _loglik(wins, theta, prior)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        d = theta[..., :, None] - theta[..., None, :]
        p = expit(d)
        grad = won - (totals * p).sum(axis=-1) - prior * theta
        if np.abs(grad).max() <= tol * scale:
            break
        h = totals * p * (1.0 - p)
        lap = -h
        lap[..., np.arange(n), np.arange(n)] += h.sum(axis=-1) + prior
        step = np.linalg.solve(lap + centre, grad[..., None])[..., 0]
        # Damped Newton: halve the step where the likelihood would drop (far from the optimum).
        t = np.ones(wins.shape[:-2])
        for _ in range(30):
            candidate = theta + t[..., None] * step
            new = _loglik(wins, candidate, prior)
            worse = new < loglik - 1e-12 * np.abs(loglik)
            if not np.any(worse):
                break
            t = np.where(worse, t / 2, t)
        theta, loglik = candidate, new
        theta = theta - theta.mean(axis=-1, keepdims=True)
    return Fit(theta, iterations, prior, warnings)


def anchored(theta: np.ndarray, scale: Scale, anchor: tuple[int, float] | None) -> np.ndarray:
    """Ratings on the display scale; with an anchor (model index, rating) that model sits at that rating."""
    ratings = scale.rating(theta)
    if anchor is not None:
        index, value = anchor
        ratings = ratings - ratings[..., index : index + 1] + value
    return ratings
