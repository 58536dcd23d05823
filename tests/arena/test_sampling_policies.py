"""The information-seeking pair sampling: Agora's policy and Chatbot Arena's rule read the latest stored fit
(never fitting per battle), keep every model above a floor, stay random, and respect weights."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agora_datasets.imports.service import judgments_import
from annotation.models import SamplingEstimate
from arena import sampling
from arena.models import Battle, BattleState
from arena.registry import model_register
from arena.sampling import ChatbotArenaPolicy, InformationPolicy, _Estimates, draw_pair, information_weights
from ratings import services as ratings_services
from ratings.boards import Board, scheduled_boards
from tests.e2e.test_leaderboard_in_browser import votes_file

pytestmark = pytest.mark.django_db


def models(*names, **weights):
    return [
        model_register(
            name=n, backend="openai", endpoint="http://127.0.0.1:9/v1", model_id=n, weight=weights.get(n, 1.0)
        )[0]
        for n in names
    ]


def estimate(name: str, rating: float, half_width: float) -> None:
    SamplingEstimate.objects.create(
        model=name, rating=rating, lower=rating - half_width, upper=rating + half_width, fitted_at=timezone.now()
    )


def fresh(policy_class):
    policy = policy_class()
    policy.estimates = _Estimates()  # each test reads its own database
    return policy


def shares(policy, pool, picks: int = 4000, seed: int = 1) -> Counter:
    rng = random.Random(seed)
    seen = Counter()
    for _ in range(picks):
        first, second = policy.pick(pool, rng)
        assert first != second
        seen[first.name] += 1
        seen[second.name] += 1
    return seen


def test_every_pair_keeps_the_floor_share():
    weights = np.zeros((4, 4))
    weights[0, 1] = weights[1, 0] = 1.0  # all the information is in one pair
    u = np.linspace(0, 1, 6000, endpoint=False)
    drawn = Counter(draw_pair(weights, 0.25, x) for x in u)
    assert set(drawn) == {(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
    for pair, n in drawn.items():
        assert n / len(u) >= 0.25 / 6 - 0.001, pair
    assert drawn[(0, 1)] / len(u) == pytest.approx(0.75 + 0.25 / 6, abs=0.001)


def test_close_uncertain_pairs_weigh_most():
    weights = information_weights(np.array([1000.0, 1010.0, 1400.0]), np.array([20.0, 20.0, 20.0]))
    assert weights[0, 1] > 2.5 * weights[0, 2]  # p(1 - p): 0.25 against 0.08 at 400 points apart
    wide = information_weights(np.array([1000.0, 1010.0, 1400.0]), np.array([20.0, 20.0, 200.0]))
    assert wide[0, 2] > weights[0, 2]


def test_a_new_model_gets_extra_share_and_every_model_its_floor():
    pool = models("m1", "m2", "m3", "m4", "m5", "newcomer")
    for i, name in enumerate(["m1", "m2", "m3", "m4", "m5"]):
        estimate(name, 1000 + 60 * i, 8.0)  # well known, well apart
    seen = shares(fresh(InformationPolicy), pool)
    appearances = sum(seen.values())
    assert seen["newcomer"] / appearances > 0.3  # uniform would give 1/6
    assert min(seen.values()) / appearances > 0.25 * 2 / 6 * 0.8  # every model keeps its floor


def test_picks_are_random_and_reproducible_from_the_rng():
    pool = models("a", "b", "c", "d")
    policy = fresh(InformationPolicy)
    first = [tuple(m.name for m in policy.pick(pool, random.Random(s))) for s in range(40)]
    again = [tuple(m.name for m in policy.pick(pool, random.Random(s))) for s in range(40)]
    assert first == again and len(set(first)) > 3


def test_a_model_of_weight_zero_is_never_drawn():
    pool = models("a", "b", "c", "off", off=0.0)
    assert "off" not in shares(fresh(InformationPolicy), pool, picks=500)
    assert "off" not in shares(fresh(ChatbotArenaPolicy), pool, picks=500)


def test_the_chatbot_arena_rule_prefers_the_pair_seen_least():
    pool = models("a", "b", "c")
    for name in ("a", "b", "c"):
        estimate(name, 1000.0, 10.0)
    for _ in range(30):
        Battle.objects.create(voter="voter:x", model_a=pool[0], model_b=pool[1], state=BattleState.VOTED)
    seen = Counter()
    rng = random.Random(3)
    policy = fresh(ChatbotArenaPolicy)
    for _ in range(2000):
        seen[frozenset(m.name for m in policy.pick(pool, rng))] += 1
    assert seen[frozenset({"a", "b"})] < seen[frozenset({"a", "c"})] / 2


def test_the_estimates_are_read_once_not_per_battle(monkeypatch):
    monkeypatch.setattr(sampling, "READ_EVERY_S", 3600.0)  # however slow the machine, no re-read is due
    pool = models("a", "b", "c")
    policy = fresh(InformationPolicy)
    policy.pick(pool, random.Random(1))
    with CaptureQueriesContext(connection) as queries:
        for seed in range(20):
            policy.pick(pool, random.Random(seed))
    assert len(queries) == 0


def test_a_fit_of_the_main_board_publishes_the_estimates_the_policies_read(tmp_path):
    judgments_import(path=votes_file(tmp_path, "votes", 30), format="arena")
    ratings_services.run_execute(ratings_services.run_create(board=Board(ci="none"), trigger="t", enqueue=False).pk)
    assert not SamplingEstimate.objects.exists()  # not the main board
    main = scheduled_boards()[0]
    run = ratings_services.run_execute(ratings_services.run_create(board=main, trigger="t", enqueue=False).pk)
    stored = {e.model: e for e in SamplingEstimate.objects.all()}
    assert set(stored) == {"alpha", "beta", "gamma"}
    assert all(e.lower < e.rating < e.upper and e.fitted_at == run.finished_at for e in stored.values())
