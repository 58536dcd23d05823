"""Pair sampling: which two models answer a new battle.

A policy is a small class named by ``AGORA_SAMPLING_POLICY``; it gets the
eligible models (active, below their concurrency limit, able to answer this
prompt) and returns two of them. Sides are randomized by the caller, so a
policy only decides *which* pair, never who is shown on the left.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from arena.models import ArenaModel


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
