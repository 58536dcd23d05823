"""Mixture of Bradley–Terry models: planted groups are found, K = 1 is plain BT, bad input is refused."""

from __future__ import annotations

import csv
import math
import time

import numpy as np
import pytest

from ratings.engine.bradley_terry import fit as fit_bt
from ratings.engine.mixture import fit_mixture, holdout_split, predictive_loglik, select_k
from ratings.engine.votes import RatingError, Votes, pair_counts, votes_from_records
from tests.ratings.data import SHARED

N_MODELS = 20


def adjusted_rand_index(labels_a, labels_b) -> float:
    """Hubert–Arabie adjusted Rand index of two labelings of the same items."""
    _, a = np.unique(np.asarray(labels_a), return_inverse=True)
    _, b = np.unique(np.asarray(labels_b), return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a.ravel(), b.ravel()), 1)

    def pairs(x):
        return float((x * (x - 1) / 2).sum())

    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / (len(a) * (len(a) - 1) / 2)
    top = (rows + cols) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def test_adjusted_rand_index():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 3, 3]) == pytest.approx(1.6 / 2.1)
    assert adjusted_rand_index([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(-0.5)


def planted_thetas(rng) -> np.ndarray:
    """Three groups: an order, its reverse, and a random permutation of it."""
    base = np.linspace(-2.0, 2.0, N_MODELS)
    return np.stack([base, base[::-1], base[rng.permutation(N_MODELS)]])


def simulate(rng, thetas, group, n_votes, judge=None) -> Votes:
    a = rng.integers(0, N_MODELS, n_votes)
    b = (a + rng.integers(1, N_MODELS, n_votes)) % N_MODELS
    p = 1.0 / (1.0 + np.exp(-(thetas[group, a] - thetas[group, b])))
    y = (rng.random(n_votes) < p).astype(float)
    return Votes(
        models=tuple(f"m{i:02d}" for i in range(N_MODELS)),
        a=a,
        b=b,
        y=y,
        tie=np.zeros(n_votes, dtype=bool),
        w=np.ones(n_votes),
        judge=judge,
        judges=() if judge is None else tuple(f"j{i}" for i in range(int(judge.max()) + 1)),
    )


@pytest.fixture(scope="module")
def annotator_data():
    """100 annotators in 3 planted groups, 50 votes each."""
    rng = np.random.default_rng(1)
    thetas = planted_thetas(rng)
    n_judges, per_judge = 100, 50
    group = rng.permutation(np.arange(n_judges) % 3)
    judge = np.repeat(np.arange(n_judges), per_judge)
    return simulate(rng, thetas, group[judge], len(judge), judge), group, thetas


@pytest.fixture(scope="module")
def context_data():
    """300 prompts in 3 Gaussian clusters (8-d embeddings), the cluster sets the group; 3,000 votes."""
    rng = np.random.default_rng(2)
    thetas = planted_thetas(rng)
    n_prompts, dim, n_votes = 300, 8, 3000
    centres = rng.normal(size=(3, dim)) * 3.0
    prompt_group = np.arange(n_prompts) % 3
    prompt_x = centres[prompt_group] + rng.normal(size=(n_prompts, dim))
    prompt = rng.integers(0, n_prompts, n_votes)
    group = prompt_group[prompt]
    return simulate(rng, thetas, group, n_votes), prompt_x[prompt], group, centres


def test_annotator_mixture_recovers_planted_groups(annotator_data):
    votes, group, thetas = annotator_data
    fit = fit_mixture(votes, 3, mode="annotator", seed=0)
    assert fit.converged
    assert adjusted_rand_index(fit.assignments, group) >= 0.9
    assert fit.weights.shape == (100, 3)
    np.testing.assert_allclose(fit.weights.sum(axis=1), 1.0)
    assert fit.prior_weights.sum() == pytest.approx(1.0)
    # Each fitted group's strengths match one planted group's, and each planted group is matched once.
    corr = np.corrcoef(fit.theta, thetas)[:3, 3:]
    assert sorted(np.argmax(corr, axis=1).tolist()) == [0, 1, 2]
    assert corr.max(axis=1).min() > 0.95


def test_annotator_mixture_beats_single_bt_on_heldout(annotator_data):
    votes, _, _ = annotator_data
    chosen = select_k(votes, (1, 2, 3, 4), mode="annotator", holdout=0.2, seed=0)
    assert chosen.heldout[3] > chosen.heldout[1] + 50
    assert chosen.k == 3
    assert chosen.fit.k == 3 and chosen.fit.mode == "annotator"
    assert chosen.n_train + chosen.n_heldout == len(votes)


def test_holdout_keeps_part_of_every_judge(annotator_data):
    votes, _, _ = annotator_data
    test = holdout_split(votes, "annotator", 0.2, np.random.default_rng(0))
    held = np.bincount(votes.judge, weights=test)
    kept = np.bincount(votes.judge, weights=~test)
    assert np.all(held == 10) and np.all(kept == 40)


def test_context_mixture_recovers_planted_groups(context_data):
    votes, x, group, centres = context_data
    chosen = select_k(votes, (1, 3), mode="context", embeddings=x, restarts=1, seed=0, refit=False)
    assert chosen.k == 3 and chosen.heldout[3] > chosen.heldout[1] + 50
    fit = chosen.fits[3]  # fitted on 80% of the votes, routes all of them
    routed = np.argmax(fit.router.weights(x), axis=1)
    assert adjusted_rand_index(routed, group) >= 0.9
    # The router generalizes: the planted cluster centres go to three different groups.
    assert len(set(np.argmax(fit.router.weights(centres), axis=1).tolist())) == 3
    assert fit.loglik > chosen.fits[1].loglik


def test_context_embeddings_per_prompt_with_rows_fit_as_per_vote(context_data):
    votes, x, _, _ = context_data
    distinct, row = np.unique(x, axis=0, return_inverse=True)
    shuffled = np.random.default_rng(0).permutation(len(distinct))  # any order of the distinct rows
    where = np.argsort(shuffled)
    per_vote = fit_mixture(votes, 3, mode="context", embeddings=x, restarts=1, max_iter=20)
    per_prompt = fit_mixture(
        votes, 3, mode="context", embeddings=distinct[shuffled], rows=where[row.ravel()], restarts=1, max_iter=20
    )
    np.testing.assert_allclose(per_prompt.theta, per_vote.theta, atol=1e-6)
    np.testing.assert_allclose(per_prompt.router.weights(x), per_vote.router.weights(x), atol=1e-6)
    assert per_prompt.loglik == pytest.approx(per_vote.loglik, rel=1e-9)
    a = select_k(votes, (1, 2), mode="context", embeddings=x, restarts=1, max_iter=20)
    b = select_k(votes, (1, 2), mode="context", embeddings=distinct, rows=row.ravel(), restarts=1, max_iter=20)
    assert a.heldout == pytest.approx(b.heldout, rel=1e-9) and a.k == b.k


def test_global_mixture_runs_and_does_not_lose_to_one_group(context_data):
    votes, _, _, _ = context_data
    fit = fit_mixture(votes, 2, mode="global", restarts=2, seed=0, max_iter=100)
    assert fit.weights.shape == (2,) and fit.weights.sum() == pytest.approx(1.0)
    assert np.all(np.diff(fit.weights) <= 0)  # groups ordered by weight
    np.testing.assert_allclose(fit.responsibilities.sum(axis=1), 1.0)
    assert fit.assignments.shape == (len(votes),)
    assert np.all(np.isfinite(fit.theta)) and np.allclose(fit.theta.mean(axis=1), 0.0)
    assert fit.loglik >= fit_mixture(votes, 1).loglik - 1e-6
    assert predictive_loglik(fit, votes) == pytest.approx(fit.loglik)
    chosen = select_k(votes, (1, 2), mode="global", restarts=1, max_iter=50, refit=False)
    assert chosen.fit is None and set(chosen.heldout) == {1, 2}
    assert all(math.isfinite(ll) for ll in chosen.heldout.values())


def test_one_group_is_plain_bradley_terry():
    rng = np.random.default_rng(3)
    n_votes = 800
    a = rng.integers(0, 6, n_votes)
    b = (a + rng.integers(1, 6, n_votes)) % 6
    tie = rng.random(n_votes) < 0.2
    y = np.where(tie, 0.5, rng.random(n_votes) < 0.3 + 0.1 * a)
    y = np.where(rng.random(n_votes) < 0.1, rng.random(n_votes), y)  # some soft outcomes
    votes = Votes(
        models=tuple("ABCDEF"),
        a=a,
        b=b,
        y=y.astype(float),
        tie=tie,
        w=rng.uniform(0.5, 2.0, n_votes),
        judge=rng.integers(0, 10, n_votes),
        judges=tuple(f"j{i}" for i in range(10)),
    )
    x = rng.normal(size=(n_votes, 4))
    plain = fit_bt(pair_counts(votes).wins()).theta
    for mode in ("global", "annotator", "context"):
        fit = fit_mixture(votes, 1, mode=mode, embeddings=x)
        np.testing.assert_allclose(fit.theta[0], plain, atol=1e-8)
        assert fit.theta.shape == (1, 6)
        d = plain[a] - plain[b]
        expected = (votes.w * (y * -np.logaddexp(0, -d) + (1 - y) * -np.logaddexp(0, d))).sum()
        assert fit.loglik == pytest.approx(expected, rel=1e-10)


def test_weight_two_is_two_copies(annotator_data):
    votes, _, _ = annotator_data
    half = votes.subset(np.arange(len(votes)) % 4 == 0)
    doubled = Votes(half.models, half.a, half.b, half.y, half.tie, 2 * half.w, half.judge, half.judges)
    twice = half.subset(np.r_[np.arange(len(half)), np.arange(len(half))])
    one = fit_mixture(doubled, 2, mode="annotator", seed=5)
    two = fit_mixture(twice, 2, mode="annotator", seed=5)
    np.testing.assert_allclose(one.theta, two.theta, atol=1e-6)
    assert one.loglik == pytest.approx(two.loglik)


def test_seeded_fits_repeat(annotator_data):
    votes, _, _ = annotator_data
    first = fit_mixture(votes, 2, mode="annotator", seed=7)
    again = fit_mixture(votes, 2, mode="annotator", seed=7)
    np.testing.assert_array_equal(first.theta, again.theta)


def test_group_rankings(annotator_data):
    votes, _, _ = annotator_data
    fit = fit_mixture(votes, 2, mode="annotator", seed=0)
    rankings = fit.group_rankings(votes.models)
    assert len(rankings) == 2
    for group, ranking in zip(fit.theta, rankings, strict=True):
        assert sorted(name for name, _, _ in ranking) == sorted(votes.models)
        thetas = [theta for _, theta, _ in ranking]
        assert thetas == sorted(thetas, reverse=True)
        for name, theta, rating in ranking:
            assert theta == group[votes.models.index(name)]
            assert rating == pytest.approx(1000 + 400 / math.log(10) * theta)
    with pytest.raises(RatingError, match="model names"):
        fit.group_rankings(("only", "two"))


def small_votes(judges: bool = True) -> Votes:
    rows = [("A", "B", "a", 1.0, "x"), ("B", "C", "b", 1.0, "y"), ("C", "A", "tie", 1.0, "x")]
    return votes_from_records(rows if judges else [r[:3] for r in rows])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: fit_mixture(v, 0), "at least 1, got 0"),
        (lambda v: fit_mixture(v, -2), "at least 1, got -2"),
        (lambda v: fit_mixture(v, 2.5), "must be an integer"),
        (lambda v: fit_mixture(v, 4), "K = 4 groups is more than the 3 votes"),
        (lambda v: fit_mixture(v, 3, mode="annotator"), "K = 3 groups is more than the 2 judges"),
        (lambda v: fit_mixture(v, 2, mode="pal"), "unknown mode 'pal'"),
        (lambda v: fit_mixture(v, 2, restarts=0), "restarts must be at least 1"),
        (lambda v: fit_mixture(v, 2, mode="context"), "needs a prompt embedding"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.zeros((5, 4))), "5 rows but there are 3 votes"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.zeros(3)), "must be a 2-D array"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.full((3, 2), np.nan)), "must be finite"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.zeros((2, 4)), rows=[0, 1]), "one integer per vote"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.zeros((2, 4)), rows=[0, 1, 2]), "index the 2"),
        (lambda v: fit_mixture(v, 2, mode="context", embeddings=np.zeros((2, 4)), rows=[0, 0.5, 1]), "one integer"),
        (lambda v: fit_mixture(v.subset(np.zeros(3, dtype=bool)), 1), "no votes"),
        (lambda v: select_k(v, (), mode="global"), "no candidate K"),
        (lambda v: select_k(v, (1, 2), mode="global", holdout=1.5), "strictly between 0 and 1"),
        (lambda v: select_k(v, (0, 1), mode="global"), "at least 1, got 0"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(RatingError, match=message):
        call(small_votes())


def test_annotator_mode_needs_judges():
    with pytest.raises(RatingError, match="annotator mode needs a judge id"):
        fit_mixture(small_votes(judges=False), 2, mode="annotator")


def test_llmfao_crowd_choose_k():
    path = SHARED / "llmfao" / "crowd-comparisons.csv"
    with path.open(newline="") as f:
        votes = votes_from_records((r["left"], r["right"], r["winner"], 1.0, r["worker"]) for r in csv.DictReader(f))
    assert len(votes) == 8931 and votes.n_models == 59
    started = time.perf_counter()
    chosen = select_k(votes, (1, 2, 3, 4), mode="annotator", holdout=0.2, seed=0, restarts=10, refit=False)
    elapsed = time.perf_counter() - started
    print(f"\nLLMFAO crowd, annotator mixture, 10 restarts: {len(chosen.heldout)} K in {elapsed:.1f}s")
    print(f"{chosen.n_train} training votes, {chosen.n_heldout} held out ({len(votes.judges)} judges)")
    for k, ll in chosen.heldout.items():
        per_vote = ll / chosen.n_heldout
        print(f"K={k}: held-out log-likelihood {ll:.2f} ({per_vote:.4f} per vote), train {chosen.train[k]:.2f}")
    print(f"chosen K = {chosen.k}")
    assert all(math.isfinite(ll) for ll in chosen.heldout.values())
    assert all(math.isfinite(ll) for ll in chosen.train.values())
    assert chosen.k in (1, 2, 3, 4)
