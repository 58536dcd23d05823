"""``rate()`` as it was before the rating methods moved behind a registry, kept verbatim as a reference.

tests/ratings/test_methods.py holds the typed result's ``to_dict()`` to this function's dict: the same
keys in the same order and the same values, so the stored runs and ``fit_ratings --output`` do not change.
It calls the same engine modules (bradley_terry, intervals, style, ties, mixture, winrate) as the methods do.

Original docstring: one entry point: votes in, a leaderboard out (plain data, JSON-ready).
``rate(votes, method=...)`` runs the chosen model, its confidence intervals, optional style
control, and the win-rate matrices, and returns the dict that ``fit_ratings --output`` writes
and the leaderboard page reads. Bad input never gives a NaN: an empty set raises RatingError; a
single model, a disconnected graph or a model that never lost give finite numbers and warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from ratings.engine import bradley_terry, counting, intervals, mixture, style, ties, winrate
from ratings.engine.bradley_terry import DEFAULT_SCALE, Scale
from ratings.engine.votes import RatingError, Votes, pair_counts

METHODS = ("bt", "elo", "rao-kupper", "davidson", "mixture", "winrate")
CI_METHODS = ("bootstrap", "sandwich", "none")
# The heatmap shows at most this many models (the top ones), so the page stays readable.
HEATMAP_MODELS = 25
MIXTURE_MODES = ("auto", "annotator", "global", "context")
# The prompt-routed mixture shows, per group, the prompts routed to it most strongly (cut to this length).
EXAMPLE_PROMPTS = 3
EXAMPLE_CHARS = 300


@dataclass(frozen=True)
class Prompts:
    """The votes' prompts, for the prompt-routed mixture: each distinct prompt once, and each vote's."""

    texts: Sequence[str]  # (U,)
    embeddings: np.ndarray  # (U, d)
    rows: np.ndarray  # (N,): each vote's prompt, an index into texts


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _rows(votes: Votes, ratings: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None) -> list[dict]:
    battles = votes.battles_per_model()
    ranks = intervals.rank_ub(lower, upper) if lower is not None and upper is not None else None
    order = np.argsort(-ratings, kind="stable")
    rows = []
    for i in order:
        if battles[i] == 0:
            continue
        rows.append(
            {
                "model": votes.models[i],
                "rating": float(ratings[i]),
                "lower": _finite(lower[i]) if lower is not None else None,
                "upper": _finite(upper[i]) if upper is not None else None,
                "rank_ub": int(ranks[i]) if ranks is not None else None,
                "battles": int(battles[i]),
            }
        )
    return rows


def _matrices(votes: Votes, wins: np.ndarray, theta: np.ndarray | None, order: list[str]) -> dict:
    index = [votes.models.index(m) for m in order[:HEATMAP_MODELS]]
    sub = wins[np.ix_(index, index)]
    totals = sub + sub.T
    observed = np.where(totals > 0, sub / np.where(totals > 0, totals, 1), np.nan)
    result: dict[str, Any] = {
        "models": [votes.models[i] for i in index],
        "observed": [[_finite(v) for v in row] for row in observed],
        "counts": totals.round(3).tolist(),
    }
    if theta is not None:
        t = theta[index]
        result["predicted"] = expit(t[:, None] - t[None, :]).round(6).tolist()
    return result


def _cut(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _routed_prompts(fit: mixture.MixtureFit, prompts: Prompts) -> list[dict[str, Any]]:
    """Per group: how many prompts it weighs most, their votes, and the prompts it weighs most (examples)."""
    weights = fit.router.weights(prompts.embeddings)  # (U, K)
    counts = np.bincount(prompts.rows, minlength=len(prompts.texts))
    main = np.argmax(weights, axis=1)
    out = []
    for k in range(fit.k):
        top = np.lexsort((-counts, -weights[:, k]))[:EXAMPLE_PROMPTS]  # by weight, then by votes
        out.append(
            {
                "prompts": int((main == k).sum()),
                "votes": int(counts[main == k].sum()),
                "examples": [
                    {"prompt": _cut(str(prompts.texts[i])), "weight": float(weights[i, k]), "votes": int(counts[i])}
                    for i in top
                ],
            }
        )
    return out


def _mixture(votes: Votes, groups: int, seed: int, scale: Scale, mode: str, prompts: Prompts | None) -> dict[str, Any]:
    """Latent preference groups: per annotator (PAL), per vote (global), or routed from the prompt (context).

    ``auto`` is per annotator when the votes carry judges, else per vote. ``groups`` 0 picks K in 1..4 by
    held-out log-likelihood; the table shows the single-group fit."""
    if mode == "auto":
        mode = "annotator" if votes.judge is not None and len(votes.judges) > 1 else "global"
    routing: dict[str, Any] = {}
    if mode == "context":
        if prompts is None:
            raise RatingError("the prompt-routed mixture needs the votes' prompt embeddings")
        routing = {"embeddings": prompts.embeddings, "rows": prompts.rows}
    if groups:
        chosen = mixture.fit_mixture(votes, groups, mode=mode, seed=seed, **routing)
        heldout = {}
    else:
        # K no more than the judges (annotator), the prompts (context) or the votes (global).
        most = {"annotator": len(votes.judges), "context": len(np.unique(routing.get("rows", ())))}
        ks = tuple(k for k in (1, 2, 3, 4) if k <= most.get(mode, len(votes)))
        selection = mixture.select_k(votes, ks, mode=mode, seed=seed, **routing)
        chosen, heldout = selection.fit, selection.heldout
    battles = votes.battles_per_model()
    single = bradley_terry.fit(pair_counts(votes).wins(), models=votes.models)
    rankings = chosen.group_rankings(votes.models, scale)
    return {
        "mode": mode,
        "groups": chosen.k,
        "heldout_loglik": {str(k): float(v) for k, v in heldout.items()},
        "group_weights": [float(w) for w in chosen.prior_weights],
        "group_rankings": [
            [{"model": m, "rating": r} for m, _theta, r in ranking if battles[votes.models.index(m)] > 0]
            for ranking in rankings
        ],
        "models": _rows(votes, scale.rating(single.theta), None, None),
        "warnings": list(single.warnings),
    } | ({"group_prompts": _routed_prompts(chosen, prompts)} if mode == "context" else {})


def rate(
    votes: Votes,
    *,
    method: str = "bt",
    bootstrap: int = 100,
    ci: str = "bootstrap",
    level: float = 0.95,
    use_style: bool = False,
    style_reg: float = 0.0,
    style_reweight: bool = False,
    baseline: str | None = None,
    anchor: tuple[str, float] | None = None,
    elo_k: float = 4.0,
    groups: int = 0,
    mixture_mode: str = "auto",
    prompts: Prompts | None = None,
    scale: Scale = DEFAULT_SCALE,
    seed: int = 0,
    length: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    if method not in METHODS:
        raise RatingError(f"unknown method {method!r} (choose {', '.join(METHODS)})")
    if ci not in CI_METHODS:
        raise RatingError(f"unknown interval method {ci!r} (choose {', '.join(CI_METHODS)})")
    if mixture_mode not in MIXTURE_MODES:
        raise RatingError(f"unknown mixture mode {mixture_mode!r} (choose {', '.join(MIXTURE_MODES)})")
    if len(votes) == 0:
        raise RatingError("no judgments to rate: nothing matches these filters yet")
    if bootstrap < 0:
        raise RatingError("the number of bootstrap rounds cannot be negative")
    report = progress or (lambda _fraction: None)
    result: dict[str, Any] = {
        "method": method,
        "parameters": {
            "ci": ci if method in ("bt", "rao-kupper", "davidson") else "none",
            "bootstrap": bootstrap,
            "level": level,
            "style": use_style,
            "style_reg": style_reg,
            "style_reweight": style_reweight,
            "baseline": baseline,
            "anchor": list(anchor) if anchor else None,
            "scale": {"init": scale.init, "scale": scale.scale, "base": scale.base},
            "seed": seed,
        },
        "judgments": len(votes),
        "warnings": [],
    }
    anchor_index = None
    if anchor is not None:
        if anchor[0] not in votes.models:
            raise RatingError(f"anchor model {anchor[0]!r} has no judgments")
        anchor_index = (votes.models.index(anchor[0]), float(anchor[1]))

    pc = pair_counts(votes)
    wins = pc.wins()
    played = int((votes.battles_per_model() > 0).sum())
    if played < 2:
        result["warnings"].append("only one model has judgments: there is nothing to compare it with")

    theta = None
    if method == "mixture":
        result.update(_mixture(votes, groups, seed, scale, mixture_mode, prompts))
        result["parameters"]["groups"] = groups
        result["parameters"]["mixture_mode"] = mixture_mode
        report(1.0)
        return result
    if method == "winrate":
        if baseline is None:
            raise RatingError("the win-rate method needs a baseline model (--baseline)")
        rates = winrate.against_baseline(votes, baseline, length=length)
        result["win_rates"] = [r.__dict__ | {"standard_error": _finite(r.standard_error)} for r in rates]
        result["models"] = [
            {
                "model": r.model,
                "rating": r.win_rate,
                "lower": r.win_rate - 1.96 * r.standard_error if np.isfinite(r.standard_error) else None,
                "upper": r.win_rate + 1.96 * r.standard_error if np.isfinite(r.standard_error) else None,
                "rank_ub": None,
                "battles": r.n,
            }
            for r in rates
        ]
        report(1.0)
        return result

    if method == "elo":
        ratings = counting.elo(votes, k=elo_k, scale=scale)
        if anchor_index is not None:
            ratings = ratings - ratings[anchor_index[0]] + anchor_index[1]
        result["parameters"]["k"] = elo_k
        result["models"] = _rows(votes, ratings, None, None)
        result["matrices"] = _matrices(votes, wins, None, [r["model"] for r in result["models"]])
        report(1.0)
        return result

    lower = upper = None
    if method == "bt" and use_style:
        x = style.votes_style(votes)
        fitted = style.fit(votes, x, reg=style_reg, reweight=style_reweight)
        theta = fitted.theta
        result["style_coefficients"] = dict(zip(style.FEATURES, fitted.beta.round(8).tolist(), strict=True))
        report(0.1)
        if ci == "bootstrap" and bootstrap > 0:
            thetas, betas = style.bootstrap(
                votes,
                x,
                fitted,
                rounds=bootstrap,
                seed=seed,
                reg=style_reg,
                reweight=style_reweight,
                progress=lambda f: report(0.1 + 0.9 * f),
            )
            lo, hi = intervals.quantile_bounds(bradley_terry.anchored(thetas, scale, anchor_index), level)
            lower, upper = lo, hi
            blo, bhi = intervals.quantile_bounds(betas, level)
            result["style_intervals"] = {f: [float(blo[k]), float(bhi[k])] for k, f in enumerate(style.FEATURES)}
        elif ci == "sandwich":
            se_theta, se_beta = style.sandwich(votes, x, fitted, reg=style_reg, reweight=style_reweight)
            z = intervals.z_score(level)
            lower, upper = (bradley_terry.anchored(theta + sign * z * se_theta, scale, None) for sign in (-1, 1))
            if anchor_index is not None:
                shift = anchor_index[1] - bradley_terry.anchored(theta, scale, None)[anchor_index[0]]
                lower, upper = lower + shift, upper + shift
            result["style_intervals"] = {
                f: [float(fitted.beta[k] - z * se_beta[k]), float(fitted.beta[k] + z * se_beta[k])]
                for k, f in enumerate(style.FEATURES)
            }
    elif method == "bt":
        fitted_bt = bradley_terry.fit(wins, models=votes.models)
        theta = fitted_bt.theta
        result["warnings"].extend(fitted_bt.warnings)
        report(0.1)
        if ci == "bootstrap" and bootstrap > 0:
            samples = intervals.bootstrap_bt(
                pc,
                theta,
                rounds=bootstrap,
                seed=seed,
                prior=fitted_bt.prior,
                progress=lambda f: report(0.1 + 0.9 * f),
            )
            lower, upper = intervals.quantile_bounds(bradley_terry.anchored(samples, scale, anchor_index), level)
        elif ci == "sandwich":
            se = intervals.sandwich_bt(pc, theta)
            z = intervals.z_score(level)
            lower = bradley_terry.anchored(theta - z * se, scale, None)
            upper = bradley_terry.anchored(theta + z * se, scale, None)
            if anchor_index is not None:
                shift = anchor_index[1] - bradley_terry.anchored(theta, scale, None)[anchor_index[0]]
                lower, upper = lower + shift, upper + shift
    else:  # rao-kupper, davidson
        decisive, tied = pc.decisive_and_ties()
        if tied.sum() == 0:
            raise RatingError(f"{method} needs ties to estimate its tie parameter, and these votes have none")
        warnings = bradley_terry.separation_warnings(wins, votes.models)
        prior = bradley_terry.PRIOR_WHEN_SEPARATED if warnings else 0.0
        result["warnings"].extend(warnings)
        fitted_tie = ties.fit(method, decisive, tied, prior=prior)
        theta = fitted_tie.theta
        result["tie_parameter"] = fitted_tie.tie_param
        report(0.1)
        if ci == "bootstrap" and bootstrap > 0:
            counts = intervals.resampled_counts(pc, bootstrap, seed)
            samples = np.empty((bootstrap, votes.n_models))
            for r in range(bootstrap):
                resampled = type(pc)(pc.n, pc.a, pc.b, pc.y, pc.tie, pc.w, counts[r])
                d, t = resampled.decisive_and_ties()
                # Warm-started and less strict: an interval needs 1e-3 points, not the last digit.
                samples[r] = ties.fit(method, d, t, prior=prior, theta0=theta, gtol=1e-7).theta
                report(0.1 + 0.9 * (r + 1) / bootstrap)
            lower, upper = intervals.quantile_bounds(bradley_terry.anchored(samples, scale, anchor_index), level)
        elif ci == "sandwich":
            result["warnings"].append(f"{method} reports bootstrap intervals; use --ci bootstrap")

    ratings = bradley_terry.anchored(theta, scale, anchor_index)
    result["models"] = _rows(votes, ratings, lower, upper)
    result["matrices"] = _matrices(votes, wins, theta, [r["model"] for r in result["models"]])
    report(1.0)
    return result
