"""The statistics of the judges' review: plain numpy and scipy, so that the rigging benchmark runs them
on simulated votes as the server runs them on the arena's (ratings/judge_review.py reads the votes and
writes the flags, and says what each signal means and what none of them can see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy import sparse
from scipy.stats import binom

IMPROBABLE_MIN_VOTES = 20
IMPROBABLE_Q = 0.01
CONCENTRATED_MIN_VOTES = 10
ADDRESS_WINDOW_HOURS = 24 * 7
FAST_MIN_VOTES = 10
FAST_SHARE = 0.8
# Visitors read while the answers stream, so a vote may come right after the last token: only a vote
# within this of both answers being complete is too fast, and only most of a judge's votes being so counts.
READ_FLOOR_MS = 1000


@dataclass
class ReviewVotes:
    """The arena's votes, one entry per vote."""

    judge: np.ndarray  # object: the judge label
    model_a: np.ndarray  # object
    model_b: np.ndarray  # object
    decisive: np.ndarray  # bool: A or B won (not a tie, not both bad)
    a_won: np.ndarray  # bool
    time_spent_ms: np.ndarray  # float, NaN when unknown
    hour: np.ndarray  # int: the vote's clock hour (seconds // 3600)
    address: np.ndarray | None = None  # object: the network address's pseudonym, None when unknown


def improbable(votes: ReviewVotes, ratings: dict[str, float], q: float = IMPROBABLE_Q) -> dict[str, dict]:
    """The judges whose votes the fit finds improbable, with their evidence. ``ratings`` on the Elo scale
    (1000 + 400/ln 10 · θ), as the boards store them."""
    known = votes.decisive & np.array(
        [a in ratings and b in ratings for a, b in zip(votes.model_a, votes.model_b, strict=True)], dtype=bool
    )
    if not known.any():
        return {}
    ra = np.array([ratings[m] for m in votes.model_a[known]])
    rb = np.array([ratings[m] for m in votes.model_b[known]])
    p = np.clip(1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0)), 1e-9, 1 - 1e-9)
    won = votes.a_won[known]
    ll = np.where(won, np.log(p), np.log1p(-p))
    mean = p * np.log(p) + (1 - p) * np.log1p(-p)
    var = p * (1 - p) * np.log(p / (1 - p)) ** 2
    span = np.log(p / (1 - p)) ** 2  # (max − min)² of one vote's log-likelihood
    judges, index = np.unique(votes.judge[known], return_inverse=True)
    count = np.bincount(index)
    deviation = np.bincount(index, ll - mean)
    spread = np.sqrt(np.bincount(index, var))
    spans = np.bincount(index, span)
    tested = (count >= IMPROBABLE_MIN_VOTES) & (spread > 0)
    if not tested.any():
        return {}
    z = deviation[tested] / spread[tested]  # shown in the evidence; the test itself is Hoeffding's bound
    # Hoeffding: P(Σ(ℓ − mean) ≤ −t) ≤ exp(−2t² / Σ span). A bound, never smaller than the true p-value,
    # where the normal approximation is far too small for one-sided matchups (a few upsets at p = 0.99).
    shortfall = np.maximum(-deviation[tested], 0.0)
    p_value = np.exp(-2.0 * shortfall**2 / spans[tested])
    adjusted = benjamini_hochberg(p_value)
    found = {}
    for judge, n, zi, pi, ai in zip(judges[tested], count[tested], z, p_value, adjusted, strict=True):
        if ai < q:
            found[str(judge)] = {
                "votes": int(n),
                "z": round(float(zi), 3),
                "p": float(pi),
                "p_adjusted": float(ai),
                "judges_tested": int(tested.sum()),
                "q": q,
            }
    return found


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Each p-value adjusted for the number tested (Benjamini–Hochberg), as statsmodels' "fdr_bh"."""
    n = len(p)
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def too_fast(votes: ReviewVotes) -> dict[str, dict]:
    timed = ~np.isnan(votes.time_spent_ms)
    fast = timed & (votes.time_spent_ms < READ_FLOOR_MS)
    judges, index = np.unique(votes.judge, return_inverse=True)
    counted = np.bincount(index, timed)
    quick = np.bincount(index, fast)
    found = {}
    for judge, n, k in zip(judges, counted, quick, strict=True):
        if n >= FAST_MIN_VOTES and k >= FAST_SHARE * n:
            found[str(judge)] = {
                "timed_votes": int(n),
                "too_fast": int(k),
                "rule": f"under {READ_FLOOR_MS} ms after both answers were complete",
            }
    return found


def volume(votes: ReviewVotes, limit: int) -> dict[str, dict]:
    found: dict[str, dict] = {}
    if not len(votes.judge):
        return found
    pairs, counts = np.unique(np.stack([votes.judge.astype(str), votes.hour.astype(str)]), axis=1, return_counts=True)
    for (judge, hour), n in zip(pairs.T, counts, strict=True):
        if n > limit and n > found.get(judge, {}).get("votes_in_hour", 0):
            start = datetime.fromtimestamp(int(hour) * 3600, tz=UTC)
            found[judge] = {"votes_in_hour": int(n), "hour": start.isoformat(), "limit": limit}
    return found


def concentrated(votes: ReviewVotes, q: float = IMPROBABLE_Q) -> dict[str, dict]:
    """The judges whose votes involve one model far more often than the arena puts it in front of anyone:
    a voter who leaves every battle without their model unvoted. Per judge and model, the chance of at
    least that many of the judge's votes involving the model, were the votes a random draw of the arena's
    battles on the days the judge voted (binomial, with the model's share of the battles of those days:
    models come and go, so a heavy voter of this week is held to this week's sampling); the judge's
    smallest, times the number of models (Bonferroni), is its p-value, corrected across judges as in
    ``improbable``."""
    n_votes = len(votes.judge)
    if not n_votes:
        return {}
    models, pair = np.unique(np.concatenate([votes.model_a, votes.model_b]).astype(str), return_inverse=True)
    a, b = pair[:n_votes], pair[n_votes:]
    days, day = np.unique(votes.hour // 24, return_inverse=True)
    per_day = np.zeros((len(days), len(models)))  # the chance that a battle of that day has the model
    np.add.at(per_day, (day, a), 1.0)
    np.add.at(per_day, (day, b), 1.0)
    per_day /= np.bincount(day, minlength=len(days))[:, None]
    judges, judge = np.unique(votes.judge.astype(str), return_inverse=True)
    count = np.bincount(judge)
    tested = count >= CONCENTRATED_MIN_VOTES
    if not tested.any():
        return {}
    # Each tested judge's expected share of each model: the shares of the days of its votes, averaged.
    rows = np.full(len(judges), -1)
    rows[tested] = np.arange(tested.sum())
    mine = tested[judge]
    judge_days = sparse.csr_matrix(
        (np.ones(mine.sum()), (rows[judge[mine]], day[mine])), shape=(int(tested.sum()), len(days))
    )
    expected = np.asarray(judge_days @ per_day) / count[tested][:, None]
    # Votes per (judge, model) of the tested judges, a model counted once per vote.
    cell, k = np.unique(
        np.concatenate([judge[mine] * len(models) + a[mine], judge[mine] * len(models) + b[mine]]),
        return_counts=True,
    )
    cell_judge, cell_model = cell // len(models), cell % len(models)
    share = expected[rows[cell_judge], cell_model]
    p_cell = binom.sf(k - 1, count[cell_judge], share)
    best = np.ones(len(judges))
    best_model = np.zeros(len(judges), dtype=int)
    order = np.lexsort((p_cell, cell_judge))  # per judge, its smallest p first
    first = order[np.r_[True, cell_judge[order][1:] != cell_judge[order][:-1]]]
    best[cell_judge[first]] = p_cell[first]
    best_model[cell_judge[first]] = cell_model[first]
    p_value = np.minimum(best[tested] * len(models), 1.0)
    adjusted = benjamini_hochberg(p_value)
    found = {}
    for index, p, padj in zip(np.flatnonzero(tested), p_value, adjusted, strict=True):
        if padj < q:
            model = best_model[index]
            with_model = int(k[(cell_judge == index) & (cell_model == model)][0])
            found[str(judges[index])] = {
                "votes": int(count[index]),
                "model": str(models[model]),
                "votes_with_model": with_model,
                "model_share_of_battles": round(float(expected[rows[index], model]), 4),
                "p": float(p),
                "p_adjusted": float(padj),
                "judges_tested": int(tested.sum()),
                "q": q,
            }
    return found


def shared_address(votes: ReviewVotes, limit: int) -> dict[str, dict]:
    """The voter keys that voted from an address more than ``limit`` keys voted from in the last week: one
    visitor clearing their cookie to vote as many. Signed-in users are not counted (one account, any cookie)."""
    if votes.address is None or not len(votes.judge):
        return {}
    # Over the last week of votes only: over all time, any busy shared address (a campus, a carrier's NAT)
    # would pass the limit sooner or later.
    recent = votes.hour >= votes.hour.max() - ADDRESS_WINDOW_HOURS
    keys_by_address: dict[str, set[str]] = {}
    for judge, address in zip(votes.judge[recent], votes.address[recent], strict=True):
        if address and str(judge).startswith("voter:"):
            keys_by_address.setdefault(address, set()).add(str(judge))
    found: dict[str, dict] = {}
    for address, keys in keys_by_address.items():
        if len(keys) > limit:
            for judge in keys:
                if len(keys) > found.get(judge, {}).get("keys_at_address", 0):
                    found[judge] = {"address": address, "keys_at_address": len(keys), "limit": limit}
    return found
