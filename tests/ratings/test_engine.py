"""The rating engine against reference numbers: evalica's golden scores and arena-rank's fits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ratings.engine import bradley_terry, counting, intervals, style, ties, winrate
from ratings.engine.votes import RatingError, Votes, pair_counts, votes_from_records
from tests.ratings.data import evalica_votes, golden, planted
from tests.ratings.data import rate_json as rate


def _relative_error(scores: np.ndarray, expected: dict[str, float], models: tuple[str, ...]) -> float:
    assert set(expected) == set(models)
    return max(abs(scores[i] - expected[m]) / abs(expected[m]) for i, m in enumerate(models))


@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_it_reproduces_evalicas_golden_scores(name):
    votes, expected = evalica_votes(name), golden(name)
    wins = pair_counts(votes).wins()
    strengths = np.exp(bradley_terry.fit(wins).theta)
    assert _relative_error(strengths / strengths.sum(), expected["bradley_terry"], votes.models) <= 1e-6
    assert _relative_error(counting.elo(votes, k=4), expected["elo"], votes.models) <= 1e-6
    assert _relative_error(counting.average_win_rate(wins), expected["average_win_rate"], votes.models) <= 1e-6
    assert _relative_error(counting.counting(wins), expected["counting"], votes.models) <= 1e-6


def test_bt_ratings_are_on_the_lmarena_scale_and_anchor():
    votes, _, _ = planted(20_000, 8, seed=3)
    result = rate(votes, ci="none")
    ratings = {r["model"]: r["rating"] for r in result["models"]}
    assert np.mean(list(ratings.values())) == pytest.approx(1000.0, abs=1e-6)
    anchored = rate(votes, ci="none", anchor=("m003", 1114.0))
    shifted = {r["model"]: r["rating"] for r in anchored["models"]}
    assert shifted["m003"] == pytest.approx(1114.0)
    assert shifted["m000"] - shifted["m003"] == pytest.approx(ratings["m000"] - ratings["m003"])


def test_ties_count_half_a_win():
    votes = votes_from_records([("x", "y", "tie")] * 4 + [("x", "y", "a")] * 2)
    wins = pair_counts(votes).wins()
    assert wins[0, 1] == 4.0 and wins[1, 0] == 2.0
    theta = bradley_terry.fit(wins).theta
    assert theta[0] - theta[1] == pytest.approx(np.log(2.0))


def test_orientation_does_not_matter():
    forward = votes_from_records([("x", "y", "a"), ("x", "y", "tie"), ("y", "x", "a"), ("x", "z", "b")])
    flipped = votes_from_records(
        [("y", "x", "b"), ("y", "x", "tie"), ("x", "y", "b"), ("z", "x", "a")], models=forward.models
    )
    np.testing.assert_allclose(pair_counts(forward).wins(), pair_counts(flipped).wins())


def test_bootstrap_intervals_cover_the_fit_and_rank_ub_counts_clear_winners():
    votes, truth, _ = planted(30_000, 10, seed=5, tie_share=0.0)
    result = rate(votes, bootstrap=200)
    for row in result["models"]:
        assert row["lower"] < row["rating"] < row["upper"]
    lower = np.array([r["lower"] for r in result["models"]])
    upper = np.array([r["upper"] for r in result["models"]])
    expected = [1 + int((lower > u).sum()) for u in upper]
    assert [r["rank_ub"] for r in result["models"]] == expected
    # The planted order is recovered where the intervals say it is certain.
    alpha = bradley_terry.DEFAULT_SCALE.alpha
    true = {f"m{i:03d}": 1000 + alpha * t for i, t in enumerate(truth)}
    covered = sum(r["lower"] <= true[r["model"]] <= r["upper"] for r in result["models"])
    assert covered >= 8


def test_bootstrap_matches_the_sandwich_for_large_samples():
    votes, _, _ = planted(100_000, 12, seed=7)
    boot = rate(votes, bootstrap=300)
    sand = rate(votes, ci="sandwich")
    width = {r["model"]: r["upper"] - r["lower"] for r in boot["models"]}
    for r in sand["models"]:
        assert r["upper"] - r["lower"] == pytest.approx(width[r["model"]], rel=0.25)


@pytest.mark.parametrize("method", ["rao-kupper", "davidson"])
def test_tie_models_recover_planted_parameters(method):
    rng = np.random.default_rng(11)
    n, count = 12, 150_000
    truth = rng.normal(0, 1, n)
    truth -= truth.mean()
    a = rng.integers(0, n, count)
    b = (a + rng.integers(1, n, count)) % n
    d = truth[a] - truth[b]
    if method == "rao-kupper":
        eta = 0.5
        p_win, p_lose = 1 / (1 + np.exp(-(d - eta))), 1 / (1 + np.exp(-(-d - eta)))
        p_tie = 1 - p_win - p_lose
        planted_param = eta
    else:
        nu = 0.7
        denom = 1 + np.exp(-d) + nu * np.exp(-d / 2)
        p_win, p_tie = 1 / denom, nu * np.exp(-d / 2) / denom
        planted_param = nu
    u = rng.random(count)
    outcome = np.where(u < p_win, "a", np.where(u < p_win + p_tie, "tie", "b"))
    votes = votes_from_records(
        zip([f"m{i}" for i in a], [f"m{i}" for i in b], outcome, strict=True), models=[f"m{i}" for i in range(n)]
    )
    decisive, tied = pair_counts(votes).decisive_and_ties()
    fitted = ties.fit(method, decisive, tied)
    assert fitted.tie_param == pytest.approx(planted_param, rel=0.05)
    assert np.abs(fitted.theta - truth).max() < 0.08
    result = rate(votes, method=method, bootstrap=20)
    assert result["tie_parameter"] == pytest.approx(fitted.tie_param)
    assert all(r["lower"] <= r["rating"] <= r["upper"] for r in result["models"])


def test_style_control_recovers_planted_style_effects():
    beta = np.array([0.4, 0.0, 0.15, -0.1])
    votes, truth, x = planted(200_000, 15, seed=13, tie_share=0.0, beta=beta)
    fitted = style.fit(votes, x)
    np.testing.assert_allclose(fitted.beta, beta, atol=0.02)
    assert np.abs(fitted.theta - truth).max() < 0.05
    # Ignoring style leaves part of it in the ratings: the plain fit is further from the truth.
    plain = bradley_terry.fit(pair_counts(votes).wins()).theta
    assert np.abs(plain - truth).max() > np.abs(fitted.theta - truth).max()


def test_style_result_reports_coefficients_and_intervals():
    votes, _, _ = planted(20_000, 6, seed=17, beta=np.array([0.3, 0.0, 0.0, 0.0]))
    result = rate(votes, use_style=True, bootstrap=20)
    assert set(result["style_coefficients"]) == set(style.FEATURES)
    low, high = result["style_intervals"]["tokens"]
    assert low < result["style_coefficients"]["tokens"] < high
    assert result["style_coefficients"]["tokens"] > 0.2


def test_win_rate_against_a_baseline_by_hand():
    rows = [("gpt", "base", "a")] * 6 + [("base", "gpt", "a")] * 2 + [("gpt", "base", "tie")] * 2
    rows += [("other", "base", 0.25)] * 4
    votes = votes_from_records(rows)
    by_model = {r.model: r for r in winrate.against_baseline(votes, "base")}
    won = np.array([1] * 6 + [0] * 2 + [0.5] * 2)
    assert by_model["gpt"].win_rate == pytest.approx(100 * won.mean())
    assert by_model["gpt"].standard_error == pytest.approx(100 * won.std(ddof=1) / np.sqrt(10))
    assert by_model["other"].win_rate == pytest.approx(25.0)
    with pytest.raises(RatingError, match="baseline"):
        winrate.against_baseline(votes, "missing")


def test_length_controlled_win_rate_discounts_a_length_advantage():
    rng = np.random.default_rng(19)
    count = 4000
    length = rng.normal(200, 100, count)  # model − baseline, in tokens
    # The model is exactly as good as the baseline; voters just like longer answers.
    p = 1 / (1 + np.exp(-(1.5 * np.tanh(length / length.std()))))
    won = (rng.random(count) < p).astype(float)
    votes = votes_from_records([("m", "base", float(y)) for y in won])
    result = winrate.against_baseline(votes, "base", length=length)[0]
    assert result.win_rate > 65
    assert abs(result.lc_win_rate - 50) < 5
    assert 0 < result.lc_standard_error < 5


def test_bad_input_gives_messages_or_finite_results():
    with pytest.raises(RatingError, match="no judgments"):
        rate(votes_from_records([]))
    with pytest.raises(RatingError, match="unknown method"):
        rate(votes_from_records([("x", "y", "a")]), method="magic")
    with pytest.raises(RatingError, match="itself"):
        Votes(
            models=("x",), a=np.array([0]), b=np.array([0]), y=np.array([1.0]), tie=np.array([False]), w=np.array([1.0])
        )
    with pytest.raises(RatingError, match="unknown outcome"):
        votes_from_records([("x", "y", "maybe")])

    cases = {
        "always wins": [("champ", "x", "a")] * 5 + [("x", "y", "a"), ("y", "x", "a"), ("champ", "y", "a")],
        "disconnected": [("x", "y", "a"), ("y", "x", "tie"), ("p", "q", "b"), ("q", "p", "a")],
        "one pair, one way": [("x", "y", "a")],
    }
    for label, rows in cases.items():
        for method in ("bt", "elo", "rao-kupper", "davidson"):
            votes = votes_from_records(rows + ([("x", "y", "tie")] if method in ("rao-kupper", "davidson") else []))
            result = rate(votes, method=method, bootstrap=10)
            text = json.dumps(result, allow_nan=False)  # raises on a NaN or an infinity
            assert all(np.isfinite(r["rating"]) for r in result["models"]), (label, method, text)
            if method == "bt":
                assert result["warnings"], label
    always = rate(votes_from_records(cases["always wins"]))
    assert "never lost: champ" in " ".join(always["warnings"])
    assert always["models"][0]["model"] == "champ"
    disconnected = rate(votes_from_records(cases["disconnected"]))
    assert "disconnected" in " ".join(disconnected["warnings"])


def test_a_single_model_gives_a_finite_board_and_says_why():
    votes = Votes(
        models=("x", "y"), a=np.array([0]), b=np.array([1]), y=np.array([1.0]), tie=np.array([False]), w=np.array([0.0])
    )
    result = rate(votes, bootstrap=5)
    json.dumps(result, allow_nan=False)


def test_bootstrap_resampling_preserves_the_number_of_votes():
    votes, _, _ = planted(5_000, 5, seed=23)
    pc = pair_counts(votes)
    counts = intervals.resampled_counts(pc, 7, seed=1)
    assert counts.shape == (7, len(pc.counts))
    assert np.all(counts.sum(axis=1) == len(votes))
    again = intervals.resampled_counts(pc, 7, seed=1)
    np.testing.assert_array_equal(counts, again)
