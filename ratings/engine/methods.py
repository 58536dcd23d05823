"""The rating methods, one class each, in a registry keyed by the name boards, the page and ``fit_ratings``
use (``METHODS["bt"]``, ``METHODS["davidson"]``, …).

Every method has the same ``fit(votes, options, report)``: the votes, the request (``Options``: rate()'s
keyword arguments; each method reads the ones it uses) and a progress callback that hears fractions of
the work; it returns a RatingResult. ``leaderboard.rate()`` checks the request, picks the method, and
reports the final 1.0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from ratings.engine import bradley_terry, counting, intervals, mixture, style, ties, winrate
from ratings.engine.bradley_terry import DEFAULT_SCALE, Scale
from ratings.engine.result import (
    Matrices,
    MixtureGroups,
    Parameters,
    Ranked,
    RatingResult,
    RoutedGroup,
    RoutedPrompt,
    Row,
    WinRateRow,
)
from ratings.engine.votes import PairCounts, RatingError, Votes, pair_counts

CI_METHODS = ("bootstrap", "sandwich", "none")
MIXTURE_MODES = ("auto", "annotator", "global", "context")
# The heatmap shows at most this many models (the top ones), so the page stays readable.
HEATMAP_MODELS = 25
# The prompt-routed mixture shows, per group, the prompts routed to it most strongly (cut to this length).
EXAMPLE_PROMPTS = 3
EXAMPLE_CHARS = 300

Report = Callable[[float], None]


@dataclass(frozen=True)
class Prompts:
    """The votes' prompts, for the prompt-routed mixture: each distinct prompt once, and each vote's."""

    texts: Sequence[str]  # (U,)
    embeddings: np.ndarray  # (U, d)
    rows: np.ndarray  # (N,): each vote's prompt, an index into texts


@dataclass(frozen=True)
class Options:
    """What to fit and how: the keyword arguments of ``rate()``."""

    bootstrap: int = 100  # rounds; 0 gives no bootstrap intervals
    ci: str = "bootstrap"  # one of CI_METHODS
    level: float = 0.95
    use_style: bool = False  # Bradley–Terry only: style control
    style_reg: float = 0.0
    style_reweight: bool = False
    baseline: str | None = None  # the win-rate method's baseline model
    anchor: tuple[str, float] | None = None  # (model, rating): that model sits at that rating
    elo_k: float = 4.0
    groups: int = 0  # the mixture's K; 0 chooses it by held-out log-likelihood
    mixture_mode: str = "auto"  # one of MIXTURE_MODES
    prompts: Prompts | None = None  # the prompt-routed mixture's prompts
    scale: Scale = DEFAULT_SCALE
    seed: int = 0
    length: np.ndarray | None = None  # per vote, a's length − b's: the length-controlled win rate

    def check(self, votes: Votes) -> None:
        """Refuse a request no method can fit, in words."""
        if self.ci not in CI_METHODS:
            raise RatingError(f"unknown interval method {self.ci!r} (choose {', '.join(CI_METHODS)})")
        if self.mixture_mode not in MIXTURE_MODES:
            raise RatingError(f"unknown mixture mode {self.mixture_mode!r} (choose {', '.join(MIXTURE_MODES)})")
        if len(votes) == 0:
            raise RatingError("no judgments to rate: nothing matches these filters yet")
        if self.bootstrap < 0:
            raise RatingError("the number of bootstrap rounds cannot be negative")
        if self.anchor is not None and self.anchor[0] not in votes.models:
            raise RatingError(f"anchor model {self.anchor[0]!r} has no judgments")

    def anchor_at(self, votes: Votes) -> tuple[int, float] | None:
        """The anchor as (model index, rating), as bradley_terry.anchored takes it."""
        return None if self.anchor is None else (votes.models.index(self.anchor[0]), float(self.anchor[1]))

    def parameters(self, *, intervals: bool, **extra: Any) -> Parameters:
        return Parameters(
            ci=self.ci if intervals else "none",
            bootstrap=self.bootstrap,
            level=self.level,
            style=self.use_style,
            style_reg=self.style_reg,
            style_reweight=self.style_reweight,
            baseline=self.baseline,
            anchor=tuple(self.anchor) if self.anchor else None,
            scale=self.scale,
            seed=self.seed,
            **extra,
        )


# ---------------------------------------------------------------------------------------------- pieces


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _one_model(votes: Votes) -> list[str]:
    played = int((votes.battles_per_model() > 0).sum())
    return ["only one model has judgments: there is nothing to compare it with"] if played < 2 else []


def _rows(votes: Votes, ratings: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None):
    """The board's rows, best first, leaving out models without judgments."""
    battles = votes.battles_per_model()
    ranks = intervals.rank_ub(lower, upper) if lower is not None and upper is not None else None
    order = np.argsort(-ratings, kind="stable")
    return [
        Row(
            model=votes.models[i],
            rating=float(ratings[i]),
            lower=_finite(lower[i]) if lower is not None else None,
            upper=_finite(upper[i]) if upper is not None else None,
            rank_ub=int(ranks[i]) if ranks is not None else None,
            battles=int(battles[i]),
        )
        for i in order
        if battles[i] != 0
    ]


def _matrices(votes: Votes, wins: np.ndarray, theta: np.ndarray | None, rows: list[Row]) -> Matrices:
    """Observed win rates among the top rows' models, and predicted ones when there is a θ."""
    index = [votes.models.index(r.model) for r in rows[:HEATMAP_MODELS]]
    sub = wins[np.ix_(index, index)]
    totals = sub + sub.T
    observed = np.where(totals > 0, sub / np.where(totals > 0, totals, 1), np.nan)
    predicted = None
    if theta is not None:
        t = theta[index]
        predicted = expit(t[:, None] - t[None, :]).round(6).tolist()
    return Matrices(
        models=[votes.models[i] for i in index],
        observed=[[_finite(v) for v in row] for row in observed],
        counts=totals.round(3).tolist(),
        predicted=predicted,
    )


def _after_fit(report: Report) -> Report:
    """Progress of the interval step, which takes the last 90 % (the fit took the first 10 %)."""
    return lambda fraction: report(0.1 + 0.9 * fraction)


def _quantile_bounds(samples: np.ndarray, options: Options, anchor: tuple[int, float] | None):
    """Bootstrap intervals: the samples' θ on the display scale, cut at the level's quantiles."""
    return intervals.quantile_bounds(bradley_terry.anchored(samples, options.scale, anchor), options.level)


def _sandwich_bounds(theta: np.ndarray, se: np.ndarray, options: Options, anchor: tuple[int, float] | None):
    """Sandwich intervals θ ± z·se on the display scale, shifted with the ratings when anchored."""
    z = intervals.z_score(options.level)
    lower = bradley_terry.anchored(theta - z * se, options.scale, None)
    upper = bradley_terry.anchored(theta + z * se, options.scale, None)
    if anchor is not None:
        shift = anchor[1] - bradley_terry.anchored(theta, options.scale, None)[anchor[0]]
        lower, upper = lower + shift, upper + shift
    return lower, upper


# --------------------------------------------------------------------------------------------- methods


class Method:
    """A rating method. ``name`` is its key in METHODS; ``intervals`` says whether it reports confidence
    intervals (the parameters record ``ci`` as "none" for those that do not)."""

    name: ClassVar[str]
    intervals: ClassVar[bool] = False

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        raise NotImplementedError

    def _result(
        self, votes: Votes, options: Options, *, parameters: dict[str, Any] | None = None, **fields: Any
    ) -> RatingResult:
        return RatingResult(
            method=self.name,
            parameters=options.parameters(intervals=self.intervals, **(parameters or {})),
            judgments=len(votes),
            **fields,
        )


class _Strengths(Method):
    """A method that fits strengths θ: ratings on the display scale, their intervals and the heatmap."""

    intervals = True

    def _strengths_result(
        self,
        votes: Votes,
        options: Options,
        wins: np.ndarray,
        theta: np.ndarray,
        bounds: tuple[np.ndarray | None, np.ndarray | None],
        **fields: Any,
    ) -> RatingResult:
        rows = _rows(votes, bradley_terry.anchored(theta, options.scale, options.anchor_at(votes)), *bounds)
        return self._result(votes, options, models=rows, matrices=_matrices(votes, wins, theta, rows), **fields)


class BradleyTerry(_Strengths):
    """Bradley–Terry by maximum likelihood, a tie half a win each; bootstrap or sandwich intervals.
    With ``use_style`` it hands over to StyleControl."""

    name = "bt"

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        if options.use_style:
            return StyleControl().fit(votes, options, report)
        pc = pair_counts(votes)
        wins = pc.wins()
        fitted = bradley_terry.fit(wins, models=votes.models)
        report(0.1)
        bounds = None, None
        if options.ci == "bootstrap" and options.bootstrap > 0:
            samples = intervals.bootstrap_bt(
                pc,
                fitted.theta,
                rounds=options.bootstrap,
                seed=options.seed,
                prior=fitted.prior,
                progress=_after_fit(report),
            )
            bounds = _quantile_bounds(samples, options, options.anchor_at(votes))
        elif options.ci == "sandwich":
            se = intervals.sandwich_bt(pc, fitted.theta)
            bounds = _sandwich_bounds(fitted.theta, se, options, options.anchor_at(votes))
        warnings = [*_one_model(votes), *fitted.warnings]
        return self._strengths_result(votes, options, wins, fitted.theta, bounds, warnings=warnings)


class StyleControl(_Strengths):
    """Bradley–Terry with style covariates (length and Markdown counts), reporting their coefficients β.

    Not a registry key of its own: the "bt" board with its style switch on (BradleyTerry hands over)."""

    name = "bt"

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        wins = pair_counts(votes).wins()
        reg, reweight = options.style_reg, options.style_reweight
        x = style.votes_style(votes)
        fitted = style.fit(votes, x, reg=reg, reweight=reweight)
        coefficients = dict(zip(style.FEATURES, fitted.beta.round(8).tolist(), strict=True))
        report(0.1)
        bounds, beta_bounds = (None, None), None
        if options.ci == "bootstrap" and options.bootstrap > 0:
            thetas, betas = style.bootstrap(
                votes,
                x,
                fitted,
                rounds=options.bootstrap,
                seed=options.seed,
                reg=reg,
                reweight=reweight,
                progress=_after_fit(report),
            )
            bounds = _quantile_bounds(thetas, options, options.anchor_at(votes))
            blo, bhi = intervals.quantile_bounds(betas, options.level)
            beta_bounds = {f: [float(blo[k]), float(bhi[k])] for k, f in enumerate(style.FEATURES)}
        elif options.ci == "sandwich":
            se_theta, se_beta = style.sandwich(votes, x, fitted, reg=reg, reweight=reweight)
            bounds = _sandwich_bounds(fitted.theta, se_theta, options, options.anchor_at(votes))
            z = intervals.z_score(options.level)
            beta_bounds = {
                f: [float(fitted.beta[k] - z * se_beta[k]), float(fitted.beta[k] + z * se_beta[k])]
                for k, f in enumerate(style.FEATURES)
            }
        return self._strengths_result(
            votes,
            options,
            wins,
            fitted.theta,
            bounds,
            warnings=_one_model(votes),
            style_coefficients=coefficients,
            style_intervals=beta_bounds,
        )


class TieModel(_Strengths):
    """An explicit tie model beside θ (ties.fit by this method's name); bootstrap intervals only.

    Without a tie in the votes its parameter cannot be estimated: that is refused."""

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        pc = pair_counts(votes)
        wins = pc.wins()
        decisive, tied = pc.decisive_and_ties()
        if tied.sum() == 0:
            raise RatingError(f"{self.name} needs ties to estimate its tie parameter, and these votes have none")
        separation = bradley_terry.separation_warnings(wins, votes.models)
        prior = bradley_terry.PRIOR_WHEN_SEPARATED if separation else 0.0
        warnings = [*_one_model(votes), *separation]
        fitted = ties.fit(self.name, decisive, tied, prior=prior)
        report(0.1)
        bounds = None, None
        if options.ci == "bootstrap" and options.bootstrap > 0:
            samples = self._bootstrap(pc, fitted.theta, prior, options, report)
            bounds = _quantile_bounds(samples, options, options.anchor_at(votes))
        elif options.ci == "sandwich":
            warnings.append(f"{self.name} reports bootstrap intervals; use --ci bootstrap")
        return self._strengths_result(
            votes, options, wins, fitted.theta, bounds, warnings=warnings, tie_parameter=fitted.tie_param
        )

    def _bootstrap(self, pc: PairCounts, theta: np.ndarray, prior: float, options: Options, report: Report):
        rounds = options.bootstrap
        counts = intervals.resampled_counts(pc, rounds, options.seed)
        samples = np.empty((rounds, pc.n))
        for r in range(rounds):
            resampled = type(pc)(pc.n, pc.a, pc.b, pc.y, pc.tie, pc.w, counts[r])
            d, t = resampled.decisive_and_ties()
            # Warm-started and less strict: an interval needs 1e-3 points, not the last digit.
            samples[r] = ties.fit(self.name, d, t, prior=prior, theta0=theta, gtol=1e-7).theta
            report(0.1 + 0.9 * (r + 1) / rounds)
        return samples


class RaoKupper(TieModel):
    """Rao–Kupper: a tie when the two strengths are within a threshold η."""

    name = "rao-kupper"


class Davidson(TieModel):
    """Davidson: a tie's probability proportional to ν·√(p_i·p_j)."""

    name = "davidson"


class Elo(Method):
    """Online Elo, the votes replayed in their order (no intervals)."""

    name = "elo"

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        wins = pair_counts(votes).wins()
        ratings = counting.elo(votes, k=options.elo_k, scale=options.scale)
        anchor = options.anchor_at(votes)
        if anchor is not None:
            ratings = ratings - ratings[anchor[0]] + anchor[1]
        rows = _rows(votes, ratings)
        return self._result(
            votes,
            options,
            parameters={"k": options.elo_k},
            warnings=_one_model(votes),
            models=rows,
            matrices=_matrices(votes, wins, None, rows),
        )


class WinRate(Method):
    """Each model's win rate against a baseline (and the length-controlled one), ±1.96 standard errors."""

    name = "winrate"

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        if options.baseline is None:
            raise RatingError("the win-rate method needs a baseline model (--baseline)")
        rates = winrate.against_baseline(votes, options.baseline, length=options.length)
        rows = []
        for r in rates:
            finite = np.isfinite(r.standard_error)
            lower = r.win_rate - 1.96 * r.standard_error if finite else None
            upper = r.win_rate + 1.96 * r.standard_error if finite else None
            rows.append(Row(model=r.model, rating=r.win_rate, lower=lower, upper=upper, rank_ub=None, battles=r.n))
        return self._result(
            votes,
            options,
            warnings=_one_model(votes),
            win_rates=[
                WinRateRow(
                    model=r.model,
                    n=r.n,
                    win_rate=r.win_rate,
                    standard_error=_finite(r.standard_error),
                    lc_win_rate=r.lc_win_rate,
                    lc_standard_error=r.lc_standard_error,
                )
                for r in rates
            ],
            models=rows,
        )


class Mixture(Method):
    """Latent preference groups: per annotator (PAL), per vote (global), or routed from the prompt (context).

    ``auto`` is per annotator when the votes carry judges, else per vote. ``groups`` 0 picks K in 1..4 by
    held-out log-likelihood. The rows are the single-group fit's, without intervals."""

    name = "mixture"

    def fit(self, votes: Votes, options: Options, report: Report) -> RatingResult:
        mode = options.mixture_mode
        if mode == "auto":
            mode = "annotator" if votes.judge is not None and len(votes.judges) > 1 else "global"
        prompts = options.prompts
        routing: dict[str, Any] = {}
        if mode == "context":
            if prompts is None:
                raise RatingError("the prompt-routed mixture needs the votes' prompt embeddings")
            routing = {"embeddings": prompts.embeddings, "rows": prompts.rows}
        if options.groups:
            chosen = mixture.fit_mixture(votes, options.groups, mode=mode, seed=options.seed, **routing)
            heldout = {}
        else:
            # K no more than the judges (annotator), the prompts (context) or the votes (global).
            most = {"annotator": len(votes.judges), "context": len(np.unique(routing.get("rows", ())))}
            ks = tuple(k for k in (1, 2, 3, 4) if k <= most.get(mode, len(votes)))
            selection = mixture.select_k(votes, ks, mode=mode, seed=options.seed, **routing)
            chosen, heldout = selection.fit, selection.heldout
        battles = votes.battles_per_model()
        single = bradley_terry.fit(pair_counts(votes).wins(), models=votes.models)
        groups = MixtureGroups(
            mode=mode,
            groups=chosen.k,
            heldout_loglik={str(k): float(v) for k, v in heldout.items()},
            group_weights=[float(w) for w in chosen.prior_weights],
            group_rankings=[
                [Ranked(model=m, rating=r) for m, _theta, r in ranking if battles[votes.models.index(m)] > 0]
                for ranking in chosen.group_rankings(votes.models, options.scale)
            ],
            group_prompts=_routed_prompts(chosen, prompts) if prompts is not None and mode == "context" else None,
        )
        return self._result(
            votes,
            options,
            parameters={"groups": options.groups, "mixture_mode": options.mixture_mode},
            # The single-group fit's warnings only: the mixture has always left out the one-model note.
            warnings=list(single.warnings),
            models=_rows(votes, options.scale.rating(single.theta)),
            mixture=groups,
        )


def _cut(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _routed_prompts(fit: mixture.MixtureFit, prompts: Prompts) -> list[RoutedGroup]:
    """Per group: how many prompts it weighs most, their votes, and the prompts it weighs most (examples)."""
    weights = fit.router.weights(prompts.embeddings)  # (U, K)
    counts = np.bincount(prompts.rows, minlength=len(prompts.texts))
    main = np.argmax(weights, axis=1)
    out = []
    for k in range(fit.k):
        top = np.lexsort((-counts, -weights[:, k]))[:EXAMPLE_PROMPTS]  # by weight, then by votes
        out.append(
            RoutedGroup(
                prompts=int((main == k).sum()),
                votes=int(counts[main == k].sum()),
                examples=[
                    RoutedPrompt(prompt=_cut(str(prompts.texts[i])), weight=float(weights[i, k]), votes=int(counts[i]))
                    for i in top
                ],
            )
        )
    return out


# The registry: a method's key is the name the boards, the page's switches and fit_ratings --method use.
METHODS: dict[str, Method] = {
    method.name: method for method in (BradleyTerry(), Elo(), RaoKupper(), Davidson(), Mixture(), WinRate())
}
