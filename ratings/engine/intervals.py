"""Confidence intervals for pairwise ratings: the bootstrap and the sandwich estimator.

Bootstrap: resampling N votes with replacement is drawing the cell counts of the aggregated
table from Multinomial(N, counts / N), so each round costs the cells, not the votes; the rounds
are then fitted together (batched Newton, warm-started at the full fit).

Sandwich: Cov(θ) = H⁻¹ G H⁻¹ with H the Fisher information and G the empirical covariance of the
per-vote gradients, as arena-rank computes it (its ``hessian_reg`` included, so the two agree).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit
from scipy.stats import norm

from ratings.engine import bradley_terry
from ratings.engine.votes import PairCounts

# Bootstrap rounds are fitted in batches whose win matrices stay under this many floats (~64 MB).
BATCH_FLOATS = 8_000_000


def resampled_counts(pc: PairCounts, rounds: int, seed: int | None = 0, threads: int = 2) -> np.ndarray:
    """(rounds, cells) multinomial draws of the cell counts; sampled on a few threads (numpy releases the GIL)."""
    total = int(round(pc.total))
    p = pc.counts / pc.counts.sum()
    seeds = np.random.SeedSequence(seed).spawn(max(1, threads))
    shares = np.array_split(np.arange(rounds), len(seeds))

    def draw(i: int) -> np.ndarray:
        rng = np.random.default_rng(seeds[i])
        return rng.multinomial(total, p, size=len(shares[i])).astype(np.float64)

    if len(seeds) == 1:
        return draw(0)
    with ThreadPoolExecutor(len(seeds)) as pool:
        return np.concatenate(list(pool.map(draw, range(len(seeds)))))


def _cells_to_wins(pc: PairCounts) -> csr_matrix:
    """A (cells × n²) matrix: counts @ it = the flattened win matrix of those counts."""
    n, k = pc.n, len(pc.counts)
    rows = np.concatenate([np.arange(k), np.arange(k)])
    cols = np.concatenate([pc.a * n + pc.b, pc.b * n + pc.a])
    vals = np.concatenate([pc.w * pc.y, pc.w * (1.0 - pc.y)])
    return csr_matrix((vals, (rows, cols)), shape=(k, n * n))


def bootstrap_bt(
    pc: PairCounts,
    theta: np.ndarray,
    *,
    rounds: int = 100,
    seed: int | None = 0,
    prior: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """(rounds, n) θ of Bradley–Terry refitted on resampled votes."""
    n = pc.n
    counts = resampled_counts(pc, rounds, seed)
    to_wins = _cells_to_wins(pc)
    batch = max(1, BATCH_FLOATS // max(1, n * n))
    out = np.empty((rounds, n))
    for start in range(0, rounds, batch):
        stop = min(rounds, start + batch)
        wins = np.asarray((to_wins.T @ counts[start:stop].T).T).reshape(stop - start, n, n)
        out[start:stop] = bradley_terry.fit(wins, prior=prior, theta0=theta).theta
        if progress:
            progress(stop / rounds)
    return out


def quantile_bounds(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    return np.quantile(samples, tail, axis=0), np.quantile(samples, 1.0 - tail, axis=0)


def _laplacian(n: int, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> np.ndarray:
    m = np.bincount(a * n + b, weights=values, minlength=n * n).reshape(n, n)
    m = m + m.T
    lap = -m
    lap[np.arange(n), np.arange(n)] += m.sum(axis=1)
    return lap


def sandwich_bt(pc: PairCounts, theta: np.ndarray, *, hessian_reg: float = 1e-5, level: float = 0.95) -> np.ndarray:
    """Standard errors of θ (length n). ``hessian_reg`` is scaled by the number of votes when unweighted."""
    n = pc.n
    p = expit(theta[pc.a] - theta[pc.b])
    unweighted = bool(np.all(pc.w == 1.0))
    reg = hessian_reg * (pc.total if unweighted else 1.0)
    hessian = _laplacian(n, pc.a, pc.b, pc.counts * pc.w * p * (1.0 - p)) + reg * np.eye(n)
    grad_cov = _laplacian(n, pc.a, pc.b, pc.counts * (pc.w * (pc.y - p)) ** 2)
    inv = np.linalg.inv(hessian)
    cov = inv @ grad_cov @ inv
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def z_score(level: float = 0.95) -> float:
    return float(norm.ppf(1.0 - (1.0 - level) / 2.0))


def rank_ub(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 + how many models are better beyond doubt (their lower bound above this one's upper bound)."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
