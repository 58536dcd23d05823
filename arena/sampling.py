"""Pair sampling: which two models answer a new battle.

A policy is a small class named by ``AGORA_SAMPLING_POLICY``; it gets the
eligible models (active, below their concurrency limit, able to answer this
prompt) and returns two of them. Sides are randomized by the caller, so a
policy only decides *which* pair, never who is shown on the left.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Sequence
from functools import cache

import numpy as np
from django.conf import settings
from django.db.models import Count
from django.utils.module_loading import import_string

from annotation.models import SamplingEstimate
from arena.models import SETTLED, ArenaModel, Battle


class SamplingPolicy:
    uses_weights = False  # whether each model's weight changes how often it is drawn (published with it)

    def pick(self, models: Sequence[ArenaModel], rng: random.Random) -> tuple[ArenaModel, ArenaModel]:
        raise NotImplementedError


class WeightedPolicy(SamplingPolicy):
    """Draw two distinct models, each with probability proportional to its weight.

    The first model is drawn by weight, the second by weight among the rest
    (sampling without replacement), as Chatbot Arena does. Models of weight 0
    never appear; if fewer than two have weight, all weights count as equal.
    """

    uses_weights = True

    def pick(self, models: Sequence[ArenaModel], rng: random.Random) -> tuple[ArenaModel, ArenaModel]:
        if len(models) < 2:
            raise ValueError("need at least two models")
        pool = list(models)
        weights = [m.weight for m in pool]
        if sum(1 for w in weights if w > 0) < 2:
            weights = [1.0] * len(pool)
        first = rng.choices(range(len(pool)), weights=weights)[0]
        rest = [i for i in range(len(pool)) if i != first]
        rest_weights = [weights[i] for i in rest]
        if sum(rest_weights) <= 0:
            rest_weights = [1.0] * len(rest)
        second = rng.choices(rest, weights=rest_weights)[0]
        return pool[first], pool[second]


class UniformPolicy(SamplingPolicy):
    """Every eligible pair equally likely, whatever the weights."""

    def pick(self, models: Sequence[ArenaModel], rng: random.Random) -> tuple[ArenaModel, ArenaModel]:
        first, second = rng.sample(list(models), 2)
        return first, second


# --- information-seeking policies: which pair a vote informs most, from the latest stored fit ------

# Ratings on the boards' scale: P(a beats b) = 1 / (1 + 10^((r_b - r_a) / 400)).
SCALE = 400.0
Z95 = 1.959964
# A model the fit does not know yet (new, or never voted on) counts as this uncertain: a wide prior,
# so that it gets extra share until its interval narrows.
NEW_MODEL_SD = 150.0
# The share of an informed policy's picks drawn uniformly over all pairs.
FLOOR = 0.25
# The policies read the estimates and the pair counts at most this often per process, not per battle.
READ_EVERY_S = 30.0


def _win_probability(rating: np.ndarray) -> np.ndarray:
    """p[i, j]: the chance that model i beats model j (exp is several times faster than 10 ** x)."""
    exponent = (rating[None, :] - rating[:, None]) * (np.log(10.0) / SCALE)
    return 1.0 / (1.0 + np.exp(np.clip(exponent, -50.0, 50.0)))


@cache
def _upper(n: int) -> np.ndarray:
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    mask.flags.writeable = False
    return mask


def information_weights(rating: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Agora's pair weights: a vote on (a, b) tells the most where the outcome is least certain and the
    two standings are least known: p(1 − p) · (sd_a² + sd_b²), the expected shrink of the variance of
    the two models' difference (Fisher information of one vote times the variance it acts on)."""
    p = _win_probability(rating)
    weights = p * (1.0 - p) * (sd[:, None] ** 2 + sd[None, :] ** 2)
    np.fill_diagonal(weights, 0.0)
    return weights


def chatbot_arena_weights(rating: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Chatbot Arena's rule (Chiang et al. 2024, section 5): a pair's weight is how much one more vote
    shrinks the standard error of its win rate, sqrt(var / n) − sqrt(var / (n + 1)), with var = p(1 − p)
    from the fit and n the pair's battles so far (n + 1 in place of n, so a pair never seen is finite)."""
    p = _win_probability(rating)
    var = p * (1.0 - p)
    n = counts + 1.0
    weights = np.sqrt(var / n) - np.sqrt(var / (n + 1.0))
    np.fill_diagonal(weights, 0.0)
    return weights


def pair_distribution(weights: np.ndarray, floor: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """Each pair's chance (i < j, in the upper triangle): ``weights`` mixed with the uniform draw, a
    ``floor`` share of picks uniform over the allowed pairs, so every model keeps a share and no pick can
    be predicted."""
    n = len(weights)
    upper = _upper(n) if allowed is None else _upper(n) & allowed
    w = np.where(upper, weights, 0.0)
    total, pairs = w.sum(), upper.sum()
    # The weighted part scaled to 1 − floor, the uniform part to floor.
    mix = w * ((1.0 - floor) / total) if total > 0 else upper * ((1.0 - floor) / pairs)
    mix += upper * (floor / pairs)
    return mix


def draw_pair(weights: np.ndarray, floor: float, u: float, allowed: np.ndarray | None = None) -> tuple[int, int]:
    """A pair (i < j) drawn from ``pair_distribution``; ``u`` is the caller's uniform number in [0, 1)."""
    flat = np.cumsum(pair_distribution(weights, floor, allowed), axis=None)
    index = min(int(np.searchsorted(flat, u * flat[-1], side="right")), flat.size - 1)
    return divmod(index, len(weights))


class _Estimates:
    """The latest fit's standings and the arena's pair counts, read at most every READ_EVERY_S."""

    def __init__(self):
        self.read_at = -float("inf")
        self.by_model: dict[str, tuple[float, float]] = {}
        self.pairs: dict[tuple[str, str], int] = {}

    def get(self) -> _Estimates:
        if time.monotonic() - self.read_at > READ_EVERY_S:
            self.by_model = {
                e.model: (e.rating, (e.upper - e.lower) / (2 * Z95) if e.upper is not None else NEW_MODEL_SD)
                for e in SamplingEstimate.objects.all()
            }
            counts: dict[tuple[str, str], int] = {}
            for a, b, n in (
                Battle.objects.filter(state__in=SETTLED)
                .values_list("model_a__name", "model_b__name")
                .annotate(n=Count("id"))
            ):
                key = (a, b) if a < b else (b, a)
                counts[key] = counts.get(key, 0) + n
            self.pairs = counts
            self.read_at = time.monotonic()
        return self


class _InformedPolicy(SamplingPolicy):
    floor = FLOOR
    uses_weights = True
    estimates = _Estimates()

    def pick(self, models: Sequence[ArenaModel], rng: random.Random) -> tuple[ArenaModel, ArenaModel]:
        if len(models) < 2:
            raise ValueError("need at least two models")
        pool = list(models)
        known = self.estimates.get()
        mean = float(np.mean([r for r, _ in known.by_model.values()])) if known.by_model else 1000.0
        standing = [known.by_model.get(m.name, (mean, NEW_MODEL_SD)) for m in pool]
        rating = np.array([r for r, _ in standing])
        sd = np.array([s for _, s in standing])
        weights = self.weights(pool, rating, sd, known)
        # A model's weight scales its pairs; weight 0 keeps it out (unless fewer than two have weight).
        scale = np.array([m.weight for m in pool], dtype=float)
        allowed = None
        if (scale > 0).sum() >= 2:
            allowed = (scale[:, None] > 0) & (scale[None, :] > 0)
            weights = weights * scale[:, None] * scale[None, :]
        i, j = draw_pair(weights, self.floor, rng.random(), allowed)
        return pool[i], pool[j]

    def weights(self, pool, rating, sd, known) -> np.ndarray:
        raise NotImplementedError


class InformationPolicy(_InformedPolicy):
    """Draw the pair whose vote informs the ranking most, at random: each pair with probability
    proportional to p(1 − p) · (sd_a² + sd_b²) from the latest fit, mixed with a uniform draw.

    p is the fitted chance that one model beats the other and sd each model's standard error (from its
    95% interval): close models whose standings are uncertain are drawn most, and a new model, unknown
    to the fit, counts as very uncertain until its interval narrows. A quarter of picks are uniform over
    all pairs, so every model keeps a floor share. The fit is the main board's latest, read every 30 s;
    each model's weight scales its pairs."""

    def weights(self, pool, rating, sd, known) -> np.ndarray:
        return information_weights(rating, sd)


class ChatbotArenaPolicy(_InformedPolicy):
    """Chatbot Arena's active sampling rule (Chiang et al. 2024, section 5): each pair with probability
    proportional to how much one more vote shrinks the standard error of its win rate.

    The win rate's variance p(1 − p) comes from the latest fit, the pair's count from the arena's battles.
    A quarter of picks are uniform over all pairs, as in Agora's own policy, so the two compare fairly."""

    def weights(self, pool, rating, sd, known) -> np.ndarray:
        names = [m.name for m in pool]
        counts = np.array(
            [[known.pairs.get((a, b) if a < b else (b, a), 0) for b in names] for a in names], dtype=float
        )
        return chatbot_arena_weights(rating, counts)


@cache
def _policy(path: str) -> SamplingPolicy:
    return import_string(path)()


def sampling_policy() -> SamplingPolicy:
    return _policy(settings.AGORA_SAMPLING_POLICY)


def policy_description() -> dict:
    """The policy in force as the public sampling page states it: its setting, name and rule."""
    policy = sampling_policy()
    doc = inspect.getdoc(policy) or ""
    return {
        "setting": settings.AGORA_SAMPLING_POLICY,
        "name": type(policy).__name__,
        "rule": " ".join(doc.split("\n\n")[0].split()),
        "details": " ".join(" ".join(doc.split("\n\n")[1:]).split()),
        "uses_weights": policy.uses_weights,
    }
