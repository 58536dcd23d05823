"""The engine against arena-rank (LMArena's reference implementation) at matched settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arena_rank.models import bradley_terry as arena_bt
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
from arena_rank.utils.data_utils import ContextualPairDataset, PairDataset

from ratings.engine import style
from tests.ratings.data import planted
from tests.ratings.data import rate_json as rate

RAW = [f"raw_{f}" for f in style.FEATURES]


def _frame(votes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model_a": [votes.models[i] for i in votes.a],
            "model_b": [votes.models[i] for i in votes.b],
            "winner": np.where(votes.tie, "tie", np.where(votes.y == 1.0, "model_a", "model_b")),
        }
    )
    if "style_a" in votes.extra:
        a, b = votes.extra["style_a"].astype(float), votes.extra["style_b"].astype(float)
        for k, name in enumerate(RAW):
            frame[name] = (a[:, k] - b[:, k]) / (a[:, k] + b[:, k] + 1)
    return frame


def _by_model(result: dict, key: str) -> dict[str, float]:
    return {r["model"]: r[key] for r in result["models"]}


def test_bt_ratings_and_sandwich_intervals_match_arena_rank():
    votes, _, _ = planted(40_000, 20, seed=31)
    dataset = PairDataset.from_pandas(_frame(votes))
    reference = arena_bt.BradleyTerry(n_competitors=len(dataset.competitors)).compute_ratings_and_cis(
        dataset, ci_method="sandwich"
    )
    ours = rate(votes, ci="sandwich")
    for key, theirs in (("rating", "ratings"), ("lower", "rating_lower"), ("upper", "rating_upper")):
        mine = _by_model(ours, key)
        for name, value in zip(reference["competitors"], np.asarray(reference[theirs]), strict=True):
            assert mine[name] == pytest.approx(float(value), abs=0.01), (key, name)


@pytest.mark.parametrize(("reg", "reweight"), [(0.0, False), (1.0, True)], ids=["ours", "arena-rank-defaults"])
def test_style_coefficients_and_ratings_match_arena_rank(reg, reweight):
    votes, _, _ = planted(30_000, 12, seed=37, beta=np.array([0.35, 0.05, 0.1, -0.05]))
    dataset = ContextualPairDataset.from_pandas(_frame(votes), feature_cols=RAW, reweighted=reweight)
    model = ContextualBradleyTerry(n_competitors=len(dataset.competitors), n_features=len(RAW), reg=reg)
    model.fit(dataset)
    ours = style.fit(votes, style.votes_style(votes), reg=reg, reweight=reweight)
    np.testing.assert_allclose(ours.beta, np.asarray(model.params["coeffs"]), atol=1e-3)
    alpha = 400 / np.log(10)
    theirs = dict(zip(dataset.competitors, np.asarray(model.params["ratings"]) * alpha, strict=True))
    for i, name in enumerate(votes.models):
        assert ours.theta[i] * alpha == pytest.approx(theirs[name], abs=0.01)
    # The sandwich intervals too.
    reference = model.compute_ratings_and_cis(dataset, ci_method="sandwich")
    se_theta, _ = style.sandwich(votes, style.votes_style(votes), ours, reg=reg, reweight=reweight)
    widths = dict(
        zip(dataset.competitors, np.asarray(reference["rating_upper"]) - np.asarray(reference["ratings"]), strict=True)
    )
    for i, name in enumerate(votes.models):
        assert 1.959964 * se_theta[i] * alpha == pytest.approx(widths[name], abs=0.01)
