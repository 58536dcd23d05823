"""A mixture of Bradley–Terry models: K latent preference groups, each with its own strengths θ_k.

Under group k a vote (a, b, y) has probability p_vk = σ(θ_ka − θ_kb)^y · σ(θ_kb − θ_ka)^(1−y) (a tie is
half a win each); a vote of weight w counts as w copies of itself. θ_k is centred (mean 0) in every group.
Who belongs to which group is set in one of three ways (``mode``):

``global``
    every vote draws its group from shared weights π: log L = Σ_v w_v log Σ_k π_k p_vk.
``annotator`` (PAL)
    every judge belongs to one group, drawn from π, and all their votes come from it:
    log L = Σ_j log Σ_k π_k Π_{v of j} p_vk^w_v. The E-step is each judge's posterior over the groups.
``context`` (MiCRo)
    the weights depend on the prompt: π(x) = softmax(V·x) from an embedding x per vote (the caller's);
    log L = Σ_v w_v log Σ_k π_k(x_v) p_vk. The embeddings come either as one row per vote, or (with
    ``rows``) as one row per distinct prompt and each vote's row: votes far outnumber prompts, and a
    million votes × 384 dimensions would not fit in memory.

All three are fitted by EM. The M-step for the strengths is K weighted Bradley–Terry fits, one batched
Newton solve over K win matrices whose votes are weighted by their responsibilities; a small Gaussian prior
(``prior``) keeps a group with little data finite. The router of ``context`` is refitted by L-BFGS on
Σ_v w_v Σ_k r_vk log π_k(x_v) + λ·Σ_v w_v H(π(x_v)) (the entropy bonus keeps it from collapsing early).
EM starts from ``restarts`` random starts (seeded) and keeps the best log-likelihood; groups are reported
in order of decreasing weight. One group (K = 1) is the plain Bradley–Terry fit, with its prior rule.

``select_k`` chooses K by held-out log-likelihood: for ``annotator`` it holds out a fraction of each
judge's votes, so the judge's group comes from their other votes; otherwise it holds out votes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_expit
from threadpoolctl import threadpool_limits

from .bradley_terry import Scale
from .bradley_terry import fit as fit_bt
from .votes import RatingError, Votes, pair_counts

MODES = ("global", "annotator", "context")
# A tiny ridge on the router so its optimum exists even when the groups are perfectly separable.
ROUTER_L2 = 1e-3
ROUTER_MAX_ITER = 50


@dataclass(frozen=True)
class Router:
    """π(x) = softmax(coef · [(x − mean) / scale, 1]); coef is (K, d + 1), the last column the bias."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray

    def design(self, embeddings: np.ndarray) -> np.ndarray:
        z = (np.asarray(embeddings, dtype=np.float64) - self.mean) / self.scale
        return np.hstack([z, np.ones((len(z), 1))])

    def log_weights(self, embeddings: np.ndarray) -> np.ndarray:
        return _log_softmax(self.design(embeddings) @ self.coef.T)

    def weights(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, K): each row's mixture weights."""
        return np.exp(self.log_weights(embeddings))


@dataclass
class MixtureFit:
    k: int
    mode: str
    models: tuple[str, ...]
    theta: np.ndarray  # (K, n), mean 0 per group
    weights: np.ndarray  # global: π (K,); annotator: per-judge posterior (n_judges, K); context: mean π(x) (K,)
    prior_weights: np.ndarray  # (K,): π for global and annotator, the mean routed weight for context
    assignments: np.ndarray  # argmax group: per judge (annotator) or per vote (global, context)
    responsibilities: np.ndarray  # (N, K): per vote, the posterior over groups
    loglik: float  # training log-likelihood (without the priors)
    iterations: int
    converged: bool
    router: Router | None = None
    judges: tuple[str, ...] = ()
    trace: list[float] = field(default_factory=list)  # the best start's log-likelihood per iteration

    def group_rankings(
        self, models: tuple[str, ...] | None = None, scale: Scale | None = None
    ) -> list[list[tuple[str, float, float]]]:
        """Per group: (model, θ, rating) from best to worst, the rating 1000 + 400/ln 10 · θ by default."""
        names = self.models if models is None else tuple(models)
        if len(names) != self.theta.shape[1]:
            raise RatingError(f"mixture: {len(names)} model names for {self.theta.shape[1]} models")
        scale = scale or Scale()
        out = []
        for theta in self.theta:
            order = np.argsort(-theta, kind="stable")
            ratings = scale.rating(theta)
            out.append([(names[i], float(theta[i]), float(ratings[i])) for i in order])
        return out


@dataclass
class KSelection:
    k: int  # the K with the best held-out log-likelihood
    heldout: dict[int, float]  # K → held-out log-likelihood (sum over the held-out votes)
    train: dict[int, float]  # K → training log-likelihood
    n_train: int
    n_heldout: int
    fits: dict[int, MixtureFit]  # K → the fit on the training part
    fit: MixtureFit | None  # the chosen K refitted on all the votes (None when refit=False)


# ---------------------------------------------------------------------------------------------- pieces


def vote_logliks(votes: Votes, theta: np.ndarray) -> np.ndarray:
    """(N, K): log p_vk = y·log σ(θ_ka − θ_kb) + (1 − y)·log σ(θ_kb − θ_ka), unweighted."""
    d = theta[:, votes.a] - theta[:, votes.b]  # (K, N)
    return (votes.y * log_expit(d) + (1.0 - votes.y) * log_expit(-d)).T


def group_wins(votes: Votes, weights: np.ndarray) -> np.ndarray:
    """(K, n, n): W_k[i, j] = how much i beat j, each vote counted weights[v, k] times."""
    n = votes.n_models
    k = weights.shape[1]
    offset = (np.arange(k) * n * n)[None, :]
    won = ((votes.a * n + votes.b)[:, None] + offset).ravel()
    lost = ((votes.b * n + votes.a)[:, None] + offset).ravel()
    return (
        np.bincount(won, weights=(weights * votes.y[:, None]).ravel(), minlength=k * n * n)
        + np.bincount(lost, weights=(weights * (1.0 - votes.y[:, None])).ravel(), minlength=k * n * n)
    ).reshape(k, n, n)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size, K): the rows of values (N, K) summed by index (N,)."""
    return np.stack([np.bincount(index, weights=column, minlength=size) for column in values.T], axis=1)


def _standardized(embeddings: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over the votes (each vote's row is embeddings[row])."""
    counts = np.bincount(row, minlength=len(embeddings)).astype(np.float64)
    mean = counts @ embeddings / counts.sum()
    scale = np.sqrt(counts @ (embeddings - mean) ** 2 / counts.sum())
    return mean, np.where(scale > 0, scale, 1.0)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    """log Σ_k exp(z_k) along the last axis (rows of -inf give -inf)."""
    top = z.max(axis=-1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(z - safe[..., None]).sum(axis=-1))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _fit_router(design: np.ndarray, resp: np.ndarray, w: np.ndarray, coef0: np.ndarray, entropy: float) -> np.ndarray:
    """coef maximizing Σ_u [Σ_k resp_uk log π_uk + λ·w_u·H(π_u)] − ½·ROUTER_L2·|coef|².

    One row u per distinct embedding: resp_uk is the weighted responsibility summed over its votes, w_u their weight.
    """
    shape = coef0.shape

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        coef = flat.reshape(shape)
        logp = _log_softmax(design @ coef.T)
        p = np.exp(logp)
        h = -(p * logp).sum(axis=1)
        value = (resp * logp).sum() + entropy * (w * h).sum() - 0.5 * ROUTER_L2 * (coef**2).sum()
        grad_z = (resp - w[:, None] * p) - entropy * w[:, None] * p * (logp + h[:, None])
        grad = grad_z.T @ design - ROUTER_L2 * coef
        return -value, -grad.ravel()

    result = minimize(objective, coef0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": ROUTER_MAX_ITER})
    return result.x.reshape(shape)


def _contexts(votes: Votes, embeddings: np.ndarray | None, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(distinct embeddings (U, d), each vote's row in them (N,)): from one row per vote, or rows given."""
    if embeddings is None:
        raise RatingError("mixture: context mode needs a prompt embedding per vote (embeddings=)")
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise RatingError(f"mixture: embeddings must be a 2-D array (votes × dimensions), got shape {x.shape}")
    if rows is None and len(x) != len(votes):
        raise RatingError(f"mixture: embeddings have {len(x)} rows but there are {len(votes)} votes")
    if not np.all(np.isfinite(x)):
        raise RatingError("mixture: embeddings must be finite")
    if rows is None:
        # Votes on the same prompt share a row.
        distinct, row = np.unique(x, axis=0, return_inverse=True)
        return distinct, row.ravel()
    row = np.asarray(rows)
    if row.ndim != 1 or len(row) != len(votes) or (len(row) and not np.issubdtype(row.dtype, np.integer)):
        raise RatingError(f"mixture: rows must be one integer per vote ({len(votes)}), got shape {row.shape}")
    if len(row) and (row.min() < 0 or row.max() >= len(x)):
        raise RatingError(f"mixture: rows must index the {len(x)} embeddings")
    return x, row.astype(np.int64)


def _check(
    votes: Votes, k: int, mode: str, embeddings: np.ndarray | None, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    if mode not in MODES:
        raise RatingError(f"mixture: unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise RatingError(f"mixture: the number of groups K must be an integer, got {k!r}")
    if k < 1:
        raise RatingError(f"mixture: the number of groups K must be at least 1, got {k}")
    if len(votes) == 0:
        raise RatingError("mixture: there are no votes to fit")
    if k > len(votes):
        raise RatingError(f"mixture: K = {k} groups is more than the {len(votes)} votes")
    if mode == "annotator":
        if votes.judge is None:
            raise RatingError("mixture: annotator mode needs a judge id on every vote, and these votes have none")
        n_judges = len(np.unique(votes.judge))
        if k > n_judges:
            raise RatingError(f"mixture: K = {k} groups is more than the {n_judges} judges")
    if mode == "context":
        return _contexts(votes, embeddings, rows)
    return None


# ---------------------------------------------------------------------------------------------- EM


@dataclass
class _State:
    theta: np.ndarray
    log_pi: np.ndarray  # (K,)
    coef: np.ndarray | None = None


class _Problem:
    """One mode's E-step and M-step on fixed votes."""

    def __init__(self, votes: Votes, k: int, mode: str, contexts, prior: float, entropy: float):
        self.votes, self.k, self.mode, self.prior, self.entropy = votes, k, mode, prior, entropy
        self.w = votes.w
        if mode == "annotator":
            self.n_judges = max(len(votes.judges), int(votes.judge.max()) + 1)
            self.active = np.bincount(votes.judge, minlength=self.n_judges) > 0
        if mode == "context":
            # The router sees each distinct embedding once (votes on the same prompt share a row).
            rows, self.row = contexts
            self.mean, self.scale = _standardized(rows, self.row)
            self.design = np.hstack([(rows - self.mean) / self.scale, np.ones((len(rows), 1))])
            self.row_w = np.bincount(self.row, weights=self.w, minlength=len(rows))

    def log_weights(self, state: _State) -> np.ndarray:
        """(N, K) for context, (K,) otherwise."""
        if self.mode == "context":
            return _log_softmax(self.design @ state.coef.T)[self.row]
        return state.log_pi

    def e_step(self, state: _State) -> tuple[np.ndarray, np.ndarray | None, float]:
        """(per-vote responsibilities (N, K), per-judge posterior or None, log-likelihood)."""
        ll = vote_logliks(self.votes, state.theta)
        if self.mode == "annotator":
            joint = state.log_pi + _sum_by(self.votes.judge, self.w[:, None] * ll, self.n_judges)
            norm = _logsumexp(joint)
            post = np.exp(joint - norm[:, None])
            return post[self.votes.judge], post, float(norm[self.active].sum())
        joint = self.log_weights(state) + ll
        norm = _logsumexp(joint)
        return np.exp(joint - norm[:, None]), None, float((self.w * norm).sum())

    def m_step(self, state: _State, resp: np.ndarray, post: np.ndarray | None) -> _State:
        wins = group_wins(self.votes, resp * self.w[:, None])
        theta = fit_bt(wins, prior=self.prior, theta0=state.theta).theta
        coef = None
        if self.mode == "annotator":
            pi = post[self.active].mean(axis=0)
        elif self.mode == "global":
            pi = (self.w[:, None] * resp).sum(axis=0) / max(self.w.sum(), 1e-300)
        else:
            row_resp = _sum_by(self.row, self.w[:, None] * resp, len(self.design))
            coef = _fit_router(self.design, row_resp, self.row_w, state.coef, self.entropy)
            pi = np.exp(self.log_weights(_State(theta, state.log_pi, coef))).mean(axis=0)
        return _State(theta, np.log(np.maximum(pi, 1e-300)), coef)

    def start(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, _State]:
        """A random start: random responsibilities (per judge for annotator), or a random router for context."""
        n, k = self.votes.n_models, self.k
        state = _State(np.zeros((k, n)), np.full(k, -np.log(k)))
        if self.mode == "annotator":
            post = rng.dirichlet(np.full(k, 0.5), size=self.n_judges)
            return post[self.votes.judge], post, state
        if self.mode == "context":
            state.coef = rng.normal(size=(k, self.design.shape[1]))
            state.coef[:, -1] = 0.0
            return np.exp(self.log_weights(state)), None, state
        return rng.dirichlet(np.full(k, 0.5), size=len(self.votes)), None, state


def _run_em(problem: _Problem, rng: np.random.Generator, tol: float, max_iter: int):
    resp, post, state = problem.start(rng)
    trace: list[float] = []
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        state = problem.m_step(state, resp, post)
        resp, post, ll = problem.e_step(state)
        trace.append(ll)
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) <= tol * (1.0 + abs(trace[-1])):
            converged = True
            break
    return state, resp, post, trace, iterations, converged


def fit_mixture(
    votes: Votes,
    k: int,
    *,
    mode: str = "global",
    embeddings: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    restarts: int = 3,
    seed: int | None = 0,
    prior: float = 1e-2,
    entropy: float = 1e-2,
    tol: float = 1e-6,
    max_iter: int = 300,
) -> MixtureFit:
    """Fit a K-group mixture of Bradley–Terry models by EM; the best of ``restarts`` seeded starts.

    ``embeddings`` (N, d) is one row per vote, for ``mode="context"``; or (U, d), one row per distinct
    prompt, with ``rows`` (N,) giving each vote's row. ``prior`` is the Gaussian prior
    precision on θ in each group's M-step (K > 1); ``entropy`` the router's entropy bonus λ.
    """
    x = _check(votes, k, mode, embeddings, rows)
    if restarts < 1:
        raise RatingError(f"mixture: restarts must be at least 1, got {restarts}")
    if k == 1:
        return _single(votes, mode, x)
    problem = _Problem(votes, int(k), mode, x, prior, entropy)
    rng = np.random.default_rng(seed)
    best = None
    # EM's linear algebra is small (K × n Newton steps, the router's L-BFGS): one BLAS thread. A pool of
    # threads spins on such calls and, next to other busy processes, made a fit several times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(restarts):
            run = _run_em(problem, rng, tol, max_iter)
            if best is None or run[3][-1] > best[3][-1]:
                best = run
    state, resp, post, trace, iterations, converged = best
    return _result(problem, state, resp, post, trace, iterations, converged)


def _result(problem: _Problem, state: _State, resp, post, trace, iterations, converged) -> MixtureFit:
    votes, mode = problem.votes, problem.mode
    pi = np.exp(state.log_pi)
    order = np.argsort(-pi, kind="stable")  # groups by decreasing weight
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    router = None
    if mode == "context":
        router = Router(problem.mean, problem.scale, state.coef[order])
    if mode == "annotator":
        weights = post[:, order]
        assignments = np.where(problem.active, rank[np.argmax(post, axis=1)], -1)
    else:
        weights = pi[order]
        assignments = rank[np.argmax(resp, axis=1)]
    return MixtureFit(
        k=problem.k,
        mode=mode,
        models=votes.models,
        theta=state.theta[order],
        weights=weights,
        prior_weights=pi[order],
        assignments=assignments,
        responsibilities=resp[:, order],
        loglik=trace[-1],
        iterations=iterations,
        converged=converged,
        router=router,
        judges=votes.judges,
        trace=trace,
    )


def _single(votes: Votes, mode: str, contexts) -> MixtureFit:
    """K = 1: the plain Bradley–Terry fit."""
    theta = fit_bt(pair_counts(votes).wins(), models=votes.models).theta[None, :]
    ll = float((votes.w * vote_logliks(votes, theta)[:, 0]).sum())
    n_votes = len(votes)
    router = None
    if mode == "annotator":
        n_judges = max(len(votes.judges), int(votes.judge.max()) + 1)
        active = np.bincount(votes.judge, minlength=n_judges) > 0
        weights, assignments = np.ones((n_judges, 1)), np.where(active, 0, -1)
    else:
        weights, assignments = np.ones(1), np.zeros(n_votes, dtype=np.int64)
    if mode == "context":
        mean, scale = _standardized(*contexts)
        router = Router(mean, scale, np.zeros((1, contexts[0].shape[1] + 1)))
    return MixtureFit(
        k=1,
        mode=mode,
        models=votes.models,
        theta=theta,
        weights=weights,
        prior_weights=np.ones(1),
        assignments=assignments,
        responsibilities=np.ones((n_votes, 1)),
        loglik=ll,
        iterations=1,
        converged=True,
        router=router,
        judges=votes.judges,
        trace=[ll],
    )


# ---------------------------------------------------------------------------------------------- held out


def predictive_loglik(
    fit: MixtureFit, votes: Votes, embeddings: np.ndarray | None = None, rows: np.ndarray | None = None
) -> float:
    """Log-likelihood of new votes under a fitted mixture.

    annotator: each judge's votes together, under the judge's posterior from the fit (π for a judge the fit
    never saw): Σ_j log Σ_k post_jk Π_v p_vk^w_v. global: Σ_v w_v log Σ_k π_k p_vk. context: π(x_v) per vote
    (``embeddings`` per vote, or per distinct prompt with ``rows`` as in ``fit_mixture``).
    """
    if votes.models != fit.models:
        raise RatingError("mixture: the votes name other models than the fit")
    if len(votes) == 0:
        return 0.0
    ll = vote_logliks(votes, fit.theta)
    if fit.mode == "annotator":
        if votes.judge is None:
            raise RatingError("mixture: annotator mode needs a judge id on every vote, and these votes have none")
        # A judge the fit never saw (no training votes, or beyond its judges) has the prior π as posterior.
        n_judges = max(fit.weights.shape[0], int(votes.judge.max()) + 1)
        post = np.tile(fit.prior_weights, (n_judges, 1))
        post[: fit.weights.shape[0]] = fit.weights
        per_judge = _sum_by(votes.judge, votes.w[:, None] * ll, n_judges)
        active = np.bincount(votes.judge, minlength=n_judges) > 0
        with np.errstate(divide="ignore"):
            joint = np.log(post) + per_judge
        return float(_logsumexp(joint)[active].sum())
    if fit.mode == "context":
        if embeddings is None or (rows is None and len(embeddings) != len(votes)):
            given = "none" if embeddings is None else len(embeddings)
            raise RatingError(f"mixture: embeddings have {given} rows but there are {len(votes)} votes")
        distinct, row = _contexts(votes, embeddings, rows)
        log_pi = fit.router.log_weights(distinct)[row]
    else:
        log_pi = np.log(np.maximum(fit.weights, 1e-300))
    return float((votes.w * _logsumexp(log_pi + ll)).sum())


def holdout_split(votes: Votes, mode: str, holdout: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of held-out votes: per judge for annotator (each judge keeps at least one vote)."""
    n = len(votes)
    test = np.zeros(n, dtype=bool)
    if mode == "annotator":
        order = rng.permutation(n)
        judge = votes.judge[order]
        order = order[np.argsort(judge, kind="stable")]
        judge = votes.judge[order]
        starts = np.flatnonzero(np.r_[True, judge[1:] != judge[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for start, size in zip(starts, sizes, strict=True):
            m = min(int(round(holdout * size)), size - 1)
            test[order[start : start + m]] = True
        return test
    m = min(max(int(round(holdout * n)), 1), n - 1)
    test[rng.permutation(n)[:m]] = True
    return test


def select_k(
    votes: Votes,
    ks=(1, 2, 3, 4),
    *,
    mode: str = "annotator",
    embeddings: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    holdout: float = 0.2,
    seed: int | None = 0,
    refit: bool = True,
    **options,
) -> KSelection:
    """K with the best held-out log-likelihood among ``ks``; ``options`` go to ``fit_mixture``.

    ``embeddings`` and ``rows`` as in ``fit_mixture``."""
    ks = tuple(int(k) for k in ks)
    if not ks:
        raise RatingError("mixture: no candidate K to choose from")
    if not 0.0 < holdout < 1.0:
        raise RatingError(f"mixture: the held-out fraction must lie strictly between 0 and 1, got {holdout}")
    contexts = None
    for k in ks:
        contexts = _check(votes, k, mode, embeddings, rows)
    rng = np.random.default_rng(seed)
    test = holdout_split(votes, mode, holdout, rng)
    if not test.any():
        raise RatingError("mixture: too few votes to hold any out")
    train_votes, test_votes = votes.subset(~test), votes.subset(test)
    # Context: the distinct embeddings are shared; train and test votes index them.
    x, row = contexts if contexts is not None else (None, None)
    row_train, row_test = (None, None) if row is None else (row[~test], row[test])
    heldout, train, fits = {}, {}, {}
    for k in ks:
        if k > len(train_votes):
            raise RatingError(f"mixture: K = {k} groups is more than the {len(train_votes)} training votes")
        fitted = fits[k] = fit_mixture(train_votes, k, mode=mode, embeddings=x, rows=row_train, seed=seed, **options)
        train[k] = fitted.loglik
        heldout[k] = predictive_loglik(fitted, test_votes, x, row_test)
    best = max(ks, key=lambda k: (heldout[k], -k))
    chosen = fit_mixture(votes, best, mode=mode, embeddings=x, rows=row, seed=seed, **options) if refit else None
    return KSelection(best, heldout, train, int((~test).sum()), int(test.sum()), fits, chosen)
