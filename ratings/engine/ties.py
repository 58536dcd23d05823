"""Bradley–Terry with an explicit tie parameter: Rao–Kupper (1967) and Davidson (1970).

With d = θi − θj:
- Rao–Kupper (as arena-hard fits it): P(i ≻ j) = σ(d − η), P(tie) = 1 − σ(d − η) − σ(−d − η), η ≥ 0;
- Davidson: P(i ≻ j) = 1 / (1 + e^(−d) + ν e^(−d/2)), P(tie) = ν / (2 cosh(d/2) + ν), ν ≥ 0.

Fitted by L-BFGS on the aggregated matrices (decisive wins D and ties T), so the cost is in
the number of models. A soft or graded vote that is not a tie counts as fractional wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from ratings.engine.votes import RatingError

METHODS = ("rao-kupper", "davidson")


@dataclass(frozen=True)
class TieFit:
    theta: np.ndarray
    tie_param: float  # η for Rao–Kupper, ν for Davidson
    loglik: float
    iterations: int


def _rao_kupper(params: np.ndarray, d_wins: np.ndarray, ties: np.ndarray, prior: float) -> tuple[float, np.ndarray]:
    n = d_wins.shape[0]
    theta, eta = params[:n], params[n]
    d = theta[:, None] - theta[None, :]
    win = expit(d - eta)  # P(i ≻ j)
    lose = expit(-d - eta)
    tie = np.clip(1.0 - win - lose, 1e-300, None)
    ll = (d_wins * log_expit(d - eta)).sum() + 0.5 * (ties * np.log(tie)).sum()
    # Derivatives of each ordered pair's terms with respect to d_ij and η.
    dwin, dlose = win * (1 - win), lose * (1 - lose)
    f_d = d_wins * (1 - win) + 0.5 * ties * (-dwin + dlose) / tie
    f_eta = -(d_wins * (1 - win)).sum() + 0.5 * (ties * (dwin + dlose) / tie).sum()
    grad_theta = f_d.sum(axis=1) - f_d.sum(axis=0) - prior * theta
    ll -= 0.5 * prior * (theta**2).sum()
    return -ll, -np.append(grad_theta, f_eta)


def _davidson(params: np.ndarray, d_wins: np.ndarray, ties: np.ndarray, prior: float) -> tuple[float, np.ndarray]:
    n = d_wins.shape[0]
    theta, lam = params[:n], params[n]
    nu = np.exp(lam)
    d = np.clip(theta[:, None] - theta[None, :], -60, 60)
    half = np.exp(-d / 2)  # every other term is a power of this one: one transcendental pass
    inv_half = 1.0 / half
    denom = 1.0 + half * half + nu * half
    tie_denom = inv_half + half + nu  # 2·cosh(d/2) + ν
    ll = -(d_wins * np.log(denom)).sum() + 0.5 * (ties * (lam - np.log(tie_denom))).sum()
    f_d = d_wins * (half * half + 0.5 * nu * half) / denom - 0.25 * ties * (inv_half - half) / tie_denom
    f_lam = -(d_wins * nu * half / denom).sum() + 0.5 * (ties * (1 - nu / tie_denom)).sum()
    grad_theta = f_d.sum(axis=1) - f_d.sum(axis=0) - prior * theta
    ll -= 0.5 * prior * (theta**2).sum()
    return -ll, -np.append(grad_theta, f_lam)


def fit(
    method: str,
    d_wins: np.ndarray,
    ties: np.ndarray,
    *,
    prior: float = 0.0,
    theta0: np.ndarray | None = None,
    gtol: float = 1e-10,
) -> TieFit:
    """θ (mean 0) and the tie parameter. ``d_wins[i, j]``: decisive wins of i over j; ``ties``: symmetric.

    Without ties the tie parameter goes to its bound (η = 0, ν ≈ 0): plain Bradley–Terry.
    """
    if method not in METHODS:
        raise RatingError(f"unknown tie model {method!r} (choose {', '.join(METHODS)})")
    n = d_wins.shape[0]
    objective = _rao_kupper if method == "rao-kupper" else _davidson
    start = np.zeros(n + 1) if theta0 is None else np.append(theta0, 0.0)
    start[n] = 0.5 if method == "rao-kupper" else 0.0
    bounds = [(None, None)] * n + [(0.0, None) if method == "rao-kupper" else (-30.0, 30.0)]
    # The likelihood is flat along a common shift of θ; scale the objective so gtol is relative.
    total = max(1.0, float(d_wins.sum() + ties.sum() / 2))

    def scaled(params: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(params, d_wins, ties, prior)
        return value / total, grad / total

    result = minimize(
        scaled,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "gtol": gtol, "ftol": gtol * 1e-5},
    )
    theta = result.x[:n] - result.x[:n].mean()
    tie_param = float(result.x[n]) if method == "rao-kupper" else float(np.exp(result.x[n]))
    return TieFit(theta=theta, tie_param=tie_param, loglik=float(-result.fun * total), iterations=int(result.nit))
