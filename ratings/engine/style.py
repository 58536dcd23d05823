"""Style control: Bradley–Terry with per-vote style covariates (LMArena's method).

The features are FastChat's four: answer tokens, Markdown headers, list items and bold spans,
the last three counted outside code fences (counted when a candidate is stored, in
annotation/candidates.py; the engine gets the counts). Per vote and feature: (a − b) / (a + b + 1),
then standardized over the votes. The model is logit P(a ≻ b) = θa − θb + x·β, so θ is a model's
strength with the style effect taken out and β says how much each feature sways the voters.

Defaults differ from arena-rank's on purpose: no L2 shrinkage of β (arena-rank uses reg = 1.0,
which pulls the coefficients toward 0, so part of the style effect stays in the ratings) and no
inverse-pair-count reweighting. Both are options (``reg``, ``reweight``) for arena-rank's numbers.

The fit is Newton's method; the per-vote work is a handful of vectorized passes, and the model
block of the Hessian is aggregated per pair, so a million votes fit in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from ratings.engine.votes import RatingError, Votes

FEATURES = ("tokens", "headers", "lists", "bold")


def style_matrix(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """(N, 4) standardized features from each side's (tokens, headers, lists, bold) counts."""
    a, b = np.asarray(counts_a, dtype=np.float64), np.asarray(counts_b, dtype=np.float64)
    x = (a - b) / (a + b + 1.0)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def votes_style(votes: Votes) -> np.ndarray:
    """The style matrix of votes that carry ``style_a`` / ``style_b`` (N, 4) count columns."""
    if "style_a" not in votes.extra or "style_b" not in votes.extra:
        raise RatingError("style control needs the answers' texts or style counts, and these votes have none")
    return style_matrix(votes.extra["style_a"], votes.extra["style_b"])


def pair_reweighting(votes: Votes, min_pair_count: int = 50) -> np.ndarray:
    """arena-rank's inverse-propensity weights: 1 / max(count of the pair, min_pair_count), mean 1."""
    n = votes.n_models
    lo, hi = np.minimum(votes.a, votes.b), np.maximum(votes.a, votes.b)
    code = lo * n + hi
    per_pair = np.bincount(code, minlength=n * n)[code].astype(np.float64)
    weights = 1.0 / np.maximum(per_pair, min_pair_count)
    return weights / weights.mean()


@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray
    beta: np.ndarray
    iterations: int


class _Design:
    """What stays fixed across refits of the same votes (the bootstrap refits with other weights)."""

    def __init__(self, votes: Votes, x: np.ndarray) -> None:
        self.n, self.p, self.rows = votes.n_models, x.shape[1], len(votes)
        self.a, self.b, self.y = votes.a, votes.b, votes.y
        self.x = np.asfortranarray(x, dtype=np.float64)  # column passes are the hot loop
        self.pair = np.minimum(self.a, self.b) * self.n + np.maximum(self.a, self.b)
        self.centre = np.zeros((self.n + self.p, self.n + self.p))
        self.centre[: self.n, : self.n] = 1.0 / self.n

    def logits(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return theta[self.a] - theta[self.b] + self.x @ beta

    def loglik(self, z: np.ndarray, w: np.ndarray) -> float:
        # y·log σ(z) + (1 − y)·log σ(−z) = log σ(z) − (1 − y)·z: one transcendental pass.
        return float(w @ (log_expit(z) - (1.0 - self.y) * z))

    def gradient(self, z: np.ndarray, w: np.ndarray, beta: np.ndarray, penalty: float) -> np.ndarray:
        resid = w * (self.y - expit(z))
        by_model = np.bincount(self.a, weights=resid, minlength=self.n) - np.bincount(
            self.b, weights=resid, minlength=self.n
        )
        return np.concatenate([by_model, self.x.T @ resid - penalty * beta])

    def blocks(self, values: np.ndarray) -> np.ndarray:
        """Σ_votes values · d dᵀ, with d = (e_a − e_b, x) the vote's design row: the Hessian's shape."""
        n, p = self.n, self.p
        per_pair = np.bincount(self.pair, weights=values, minlength=n * n).reshape(n, n)
        per_pair = per_pair + per_pair.T
        out = np.empty((n + p, n + p))
        out[:n, :n] = -per_pair
        out[np.arange(n), np.arange(n)] += per_pair.sum(axis=1)
        vx = values[:, None] * self.x
        cross = np.stack(
            [
                np.bincount(self.a, weights=vx[:, k], minlength=n) - np.bincount(self.b, weights=vx[:, k], minlength=n)
                for k in range(p)
            ],
            axis=1,
        )
        out[:n, n:], out[n:, :n] = cross, cross.T
        out[n:, n:] = self.x.T @ vx
        return out

    def hessian(self, z: np.ndarray, w: np.ndarray, penalty: float) -> np.ndarray:
        """The negated Hessian, plus 1/n·11ᵀ on the model block to pin the common shift of θ."""
        prob = expit(z)
        hess = self.blocks(w * prob * (1.0 - prob))
        hess[self.n :, self.n :] += penalty * np.eye(self.p)
        return hess + self.centre


def _newton(design: _Design, w: np.ndarray, reg: float, tol: float, max_iter: int) -> StyleFit:
    n, p = design.n, design.p
    theta, beta = np.zeros(n), np.zeros(p)
    penalty = reg * design.rows  # arena-rank's objective is a mean over votes plus ½·reg·|β|²
    scale = max(1.0, float(w.sum()) / max(n, 1))
    z = design.logits(theta, beta)
    current = design.loglik(z, w) - 0.5 * penalty * beta @ beta
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        grad = design.gradient(z, w, beta, penalty)
        if np.abs(grad).max() <= tol * scale:
            break
        step = np.linalg.solve(design.hessian(z, w, penalty), grad)
        t = 1.0
        for _ in range(30):  # damped: halve the step while the likelihood would drop
            new_theta, new_beta = theta + t * step[:n], beta + t * step[n:]
            z = design.logits(new_theta, new_beta)
            new = design.loglik(z, w) - 0.5 * penalty * new_beta @ new_beta
            if new >= current - 1e-12 * abs(current):
                break
            t /= 2
        theta, beta, current = new_theta - new_theta.mean(), new_beta, new
        z = design.logits(theta, beta)
    return StyleFit(theta=theta, beta=beta, iterations=iterations)


def _chord(
    design: _Design, w: np.ndarray, penalty: float, start: StyleFit, hess_inv: np.ndarray, tol: float, max_iter: int
) -> StyleFit | None:
    """Newton with the Hessian frozen at the full-data fit (the chord method).

    A resample's Hessian differs from the full data's by O(1/√N), so these steps converge fast to
    the resample's own maximum, at a third of the cost of a Newton step. None if they do not.
    """
    n = design.n
    theta, beta = start.theta.copy(), start.beta.copy()
    scale = max(1.0, float(w.sum()) / max(n, 1))
    for iterations in range(1, max_iter + 1):
        grad = design.gradient(design.logits(theta, beta), w, beta, penalty)
        if np.abs(grad).max() <= tol * scale:
            return StyleFit(theta=theta - theta.mean(), beta=beta, iterations=iterations)
        step = hess_inv @ grad
        theta, beta = theta + step[:n], beta + step[n:]
    return None


def fit(
    votes: Votes, x: np.ndarray, *, reg: float = 0.0, reweight: bool = False, tol: float = 1e-9, max_iter: int = 100
) -> StyleFit:
    if len(votes) == 0:
        raise RatingError("style control needs votes, and there are none")
    if x.shape[0] != len(votes):
        raise RatingError(f"style features have {x.shape[0]} rows for {len(votes)} votes")
    w = votes.w * (pair_reweighting(votes) if reweight else 1.0)
    return _newton(_Design(votes, x), w, reg, tol, max_iter)


def bootstrap(
    votes: Votes,
    x: np.ndarray,
    start: StyleFit,
    *,
    rounds: int = 100,
    seed: int | None = 0,
    reg: float = 0.0,
    reweight: bool = False,
    threads: int = 2,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(θ samples (rounds, n), β samples (rounds, 4)) refitted on votes resampled with replacement.

    Rounds run on a few threads: the passes over the votes are numpy calls that release the GIL.
    """
    design = _Design(votes, x)
    base = votes.w * (pair_reweighting(votes) if reweight else 1.0)
    penalty = reg * design.rows
    hess_inv = np.linalg.inv(design.hessian(design.logits(start.theta, start.beta), base, penalty))
    thetas, betas = np.empty((rounds, votes.n_models)), np.empty((rounds, x.shape[1]))
    seeds = np.random.SeedSequence(seed).spawn(rounds)
    done = [0]

    def one(r: int) -> None:
        rng = np.random.default_rng(seeds[r])
        w = base * np.bincount(rng.integers(0, len(votes), len(votes)), minlength=len(votes))
        refit = _chord(design, w, penalty, start, hess_inv, 1e-6, 30) or _newton(design, w, reg, 1e-6, 100)
        thetas[r], betas[r] = refit.theta, refit.beta
        done[0] += 1
        if progress:
            progress(done[0] / rounds)

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(one, range(rounds)))
    return thetas, betas


def sandwich(
    votes: Votes,
    x: np.ndarray,
    fitted: StyleFit,
    *,
    reg: float = 0.0,
    reweight: bool = False,
    hessian_reg: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors of (θ, β) by the sandwich estimator, as arena-rank computes it for this model.

    H and G are averages over the votes (the Fisher information and the gradients' covariance);
    Cov = H⁻¹ G H⁻¹ / N, with arena-rank's small ridge on H and its correction of G for the L2 term.
    """
    design = _Design(votes, x)
    n, p, rows = design.n, design.p, design.rows
    w = votes.w * (pair_reweighting(votes) if reweight else 1.0)
    prob = expit(design.logits(fitted.theta, fitted.beta))

    hessian = design.blocks(w * prob * (1 - prob)) / rows + hessian_reg * np.eye(n + p)
    params = np.concatenate([np.zeros(n), fitted.beta])
    grad_cov = design.blocks((w * (design.y - prob)) ** 2) / rows - (reg**2 / rows) * np.outer(params, params)
    inv = np.linalg.inv(hessian)
    se = np.sqrt(np.clip(np.diag(inv @ grad_cov @ inv) / rows, 0.0, None))
    return se[:n], se[n:]
