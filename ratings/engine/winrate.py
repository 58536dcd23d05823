"""Win rate against a baseline, as AlpacaEval reports it, and its length-controlled variant.

Win rate (percent): the mean over the judgments of a model against the baseline of the
probability that the model won (1, 0, ½ for a tie, or a soft judge's probability); its standard
error is the sample standard deviation over √n (AlpacaEval's ``standard_error``).

Length-controlled win rate (AlpacaEval 2's GLM, Dubois et al. 2024): per model, fit
logit P(model ≻ baseline) = c + φ·tanh(Δlen / sd(Δlen)) and report 100·σ(c), the win rate with
the length difference set to zero. (AlpacaEval also has an instruction-difficulty term shared
across models; with one baseline and the same prompts for every model it only shifts c, so it
is left out.) The standard error is the delta method's: σ'(c)·se(c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from ratings.engine.votes import RatingError, Votes


@dataclass(frozen=True)
class WinRate:
    model: str
    n: int
    win_rate: float  # percent
    standard_error: float
    lc_win_rate: float | None
    lc_standard_error: float | None


def _glm(y: np.ndarray, w: np.ndarray, length: np.ndarray) -> tuple[float, float] | None:
    """(c, se(c)) of the logistic fit y ~ c + φ·length; None when it cannot be fitted."""
    if len(y) < 3 or np.all(length == length[0]):
        return None
    x = np.column_stack([np.ones_like(length), length])

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ beta
        # A tiny ridge keeps a separable sample (every judgment one way) finite.
        value = -(w * (y * log_expit(z) + (1 - y) * log_expit(-z))).sum() + 0.5e-6 * beta @ beta
        grad = -x.T @ (w * (y - expit(z))) + 1e-6 * beta
        return value, grad

    result = minimize(objective, np.zeros(2), jac=True, method="L-BFGS-B", options={"gtol": 1e-10})
    p = expit(x @ result.x)
    info = x.T @ ((w * p * (1 - p))[:, None] * x) + 1e-6 * np.eye(2)
    cov = np.linalg.inv(info)
    return float(result.x[0]), float(np.sqrt(max(cov[0, 0], 0.0)))


def against_baseline(votes: Votes, baseline: str, *, length: np.ndarray | None = None) -> list[WinRate]:
    """One row per model that met the baseline. ``length``: per vote, a's length − b's (tokens)."""
    if baseline not in votes.models:
        raise RatingError(f"baseline {baseline!r} has no judgments")
    base = votes.models.index(baseline)
    # One scale for every model, as AlpacaEval normalizes by the sd over the whole evaluation.
    sd = 0.0
    if length is not None:
        with_baseline = (votes.a == base) | (votes.b == base)
        sd = float(np.asarray(length, dtype=np.float64)[with_baseline].std())
    rows = []
    for index, model in enumerate(votes.models):
        if index == base:
            continue
        as_a = (votes.a == index) & (votes.b == base)
        as_b = (votes.b == index) & (votes.a == base)
        mask = as_a | as_b
        n = int(mask.sum())
        if n == 0:
            continue
        won = np.where(as_a, votes.y, 1.0 - votes.y)[mask]
        rate = 100.0 * won.mean()
        se = 100.0 * won.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        lc = lc_se = None
        if length is not None:
            diff = np.where(as_a, length, -length)[mask].astype(np.float64)
            fitted = _glm(won, votes.w[mask], np.tanh(diff / sd) if sd > 0 else diff)
            if fitted is not None:
                c, se_c = fitted
                lc = 100.0 * float(expit(c))
                lc_se = 100.0 * float(expit(c) * (1 - expit(c))) * se_c
        rows.append(WinRate(model, n, float(rate), float(se), lc, lc_se))
    rows.sort(key=lambda r: -r.win_rate)
    return rows
