"""The judges' review, on votes simulated from a known truth: the statistics alone, no database."""

from __future__ import annotations

import numpy as np
import pytest

from ratings.engine.judges import (
    ReviewVotes,
    benjamini_hochberg,
    concentrated,
    improbable,
    shared_address,
    too_fast,
    volume,
)

RATINGS = {f"m{i}": 1000.0 + 40.0 * i for i in range(10)}  # m9 best, 360 points above m0


def simulated(judges: dict[str, str], votes_each: int, seed: int = 3) -> ReviewVotes:
    """``judges``: name -> "honest" (votes drawn from RATINGS) or "rigger" (always the weaker model)."""
    rng = np.random.default_rng(seed)
    names = list(RATINGS)
    rows = []
    for judge, kind in judges.items():
        for _ in range(votes_each):
            a, b = rng.choice(names, 2, replace=False)
            p = 1 / (1 + 10 ** ((RATINGS[b] - RATINGS[a]) / 400))
            a_won = rng.random() < p if kind == "honest" else RATINGS[a] < RATINGS[b]
            rows.append((judge, a, b, a_won))
    judge, a, b, won = (np.array(c, dtype=object) for c in zip(*rows, strict=True))
    n = len(rows)
    return ReviewVotes(
        judge=judge,
        model_a=a,
        model_b=b,
        decisive=np.ones(n, dtype=bool),
        a_won=won.astype(bool),
        time_spent_ms=np.full(n, 9000.0),
        hour=np.arange(n) // 50,
    )


def test_benjamini_hochberg_adjusts_as_the_reference_does():
    adjusted = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_a_rigger_is_improbable_and_five_hundred_honest_judges_are_not():
    judges = {f"voter:honest-{i}": "honest" for i in range(500)} | {"voter:rigger": "rigger"}
    found = improbable(simulated(judges, votes_each=30), RATINGS)
    assert list(found) == ["voter:rigger"]
    evidence = found["voter:rigger"]
    assert evidence["votes"] == 30 and evidence["judges_tested"] == 501
    assert evidence["z"] < -5 and evidence["p_adjusted"] < 0.01


def test_too_few_votes_are_not_tested():
    found = improbable(simulated({"voter:rigger": "rigger"}, votes_each=19), RATINGS)
    assert found == {}


def test_too_fast_and_too_many_in_an_hour():
    votes = simulated({"voter:a": "honest", "voter:b": "honest"}, votes_each=130)
    b = votes.judge == "voter:b"
    votes.time_spent_ms[b] = 300.0  # 0.3 s after both answers were complete, every time
    votes.hour[b] = 7  # all in one hour
    assert set(too_fast(votes)) == {"voter:b"}
    assert too_fast(votes)["voter:b"]["too_fast"] == 130
    found = volume(votes, limit=120)
    assert set(found) == {"voter:b"} and found["voter:b"]["votes_in_hour"] == 130


def test_a_voter_who_votes_only_when_one_model_shows_is_concentrated():
    votes = simulated({f"voter:honest-{i}": "honest" for i in range(300)}, votes_each=30)
    rng = np.random.default_rng(5)
    others = [m for m in RATINGS if m != "m4"]
    fan = [("voter:fan", "m4", str(rng.choice(others))) for _ in range(12)]  # m4 in every vote, and it wins
    votes = ReviewVotes(
        judge=np.concatenate([votes.judge, np.array([f[0] for f in fan], dtype=object)]),
        model_a=np.concatenate([votes.model_a, np.array([f[1] for f in fan], dtype=object)]),
        model_b=np.concatenate([votes.model_b, np.array([f[2] for f in fan], dtype=object)]),
        decisive=np.ones(len(votes.judge) + 12, dtype=bool),
        a_won=np.concatenate([votes.a_won, np.ones(12, dtype=bool)]),
        time_spent_ms=np.full(len(votes.judge) + 12, 9000.0),
        hour=np.zeros(len(votes.judge) + 12, dtype=np.int64),
    )
    found = concentrated(votes)
    assert list(found) == ["voter:fan"]
    assert found["voter:fan"]["model"] == "m4" and found["voter:fan"]["votes_with_model"] == 12
    assert found["voter:fan"]["judges_tested"] == 301


def test_many_voter_keys_from_one_address_are_flagged_users_are_not():
    votes = simulated({f"voter:k{i}": "honest" for i in range(5)} | {"user:7": "honest"}, votes_each=2)
    votes.address = np.array(["addr-1"] * len(votes.judge), dtype=object)
    found = shared_address(votes, limit=4)
    assert set(found) == {f"voter:k{i}" for i in range(5)}
    assert found["voter:k0"] == {"address": "addr-1", "keys_at_address": 5, "limit": 4}
    assert shared_address(votes, limit=5) == {}
