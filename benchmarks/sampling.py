"""Pair sampling policies against a known truth: how many votes each needs until the board is sure.

    .venv/bin/python benchmarks/sampling.py [--seeds 20] [--cap 400000] [--truths llmfao,ladder]

Two truths: the Bradley–Terry fit of LLMFAO's crowd votes (59 models, ../shared/data/llmfao), and a
synthetic ladder of 100 models with an arena-like spread (ratings drawn from N(1100, 100)). Votes come one
by one; 15% are ties, the rest are drawn from the truth. Every 500 votes the board is refitted
(Bradley–Terry by Newton's method on the pair counts, a tie half a win, with a weak ridge so that a model
that has only won stays finite; 95% intervals from the inverse Fisher information), and the policy draws
the next 500 pairs from that refit, as the arena's policies read the latest stored fit (arena/sampling.py).
The policies: uniform; weighted (each model a publisher's weight, log-uniform in [0.5, 2], drawn by weight
without replacement as WeightedPolicy does); Chatbot
Arena's rule and Agora's policy (both with the arena's 25% uniform floor, through the same functions the
arena calls). One model of each truth (the one ranked in the middle) joins at vote 20,000.

For each policy it prints, as median [IQR] over the seeds, the votes until (a) every adjacent pair of the
true top 10 is separated by the 95% intervals, (b) the mean interval width is at most 20 rating points,
(c) Kendall's tau to the truth is at least 0.95, and (d) the model added at vote 20,000 has an interval
of at most ±25 (votes after it joined); then the smallest share of votes any model got, and the time of one
pick at 200 models. A run that does not get there within --cap votes counts as the cap (printed with >).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

LLMFAO = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmfao" / "crowd-comparisons.csv"
SCALE = 400.0 / np.log(10.0)  # rating points per unit of θ
BLOCK = 500
JOIN_AT = 20_000
TIE_SHARE = 0.15
RIDGE = 0.1  # a prior sd of about 550 rating points: nothing next to the data, enough to keep θ finite
POLICIES = ("uniform", "weighted", "chatbot-arena", "agora")


def bt_fit(wins: np.ndarray, theta: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θ and its standard errors (in θ units) from the win matrix (wins[i, j]: i over j, ties half each),
    over the active models that have comparisons; Newton's method from ``theta``."""
    games = wins + wins.T
    seen = active & (games.sum(axis=1) > 0)
    idx = np.flatnonzero(seen)
    w, n = wins[np.ix_(idx, idx)], games[np.ix_(idx, idx)]
    t = theta[idx] - theta[idx].mean()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(np.clip(t[None, :] - t[:, None], -30, 30)))
        # A weak prior (ridge RIDGE on θ) keeps a model that has only won or only lost finite.
        grad = (w - n * p).sum(axis=1) - RIDGE * t
        info = n * p * (1 - p)
        laplacian = np.diag(info.sum(axis=1)) - info + RIDGE * np.eye(len(t))
        step = np.linalg.solve(laplacian + np.ones_like(laplacian) / len(t), grad)
        t = t + step
        t -= t.mean()
        if np.abs(step).max() < 1e-8:
            break
    p = 1.0 / (1.0 + np.exp(np.clip(t[None, :] - t[:, None], -30, 30)))
    info = n * p * (1 - p)
    laplacian = np.diag(info.sum(axis=1)) - info  # no ridge here: it would add 1/RIDGE along the mean
    cov = np.linalg.pinv(laplacian)
    out_t, out_se = np.zeros(len(theta)), np.full(len(theta), np.inf)
    out_t[idx], out_se[idx] = t, np.sqrt(np.maximum(np.diag(cov), 0))
    return out_t, out_se


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    n = len(x)
    return float((sx * sy).sum() / (n * (n - 1)))


def pair_probabilities(policy: str, theta, se, counts, weights, active, policies):
    """Each pair's chance; ``policies`` is arena.sampling (imported once Django is set up)."""
    m = len(theta)
    allowed = np.outer(active, active) & np.triu(np.ones((m, m), dtype=bool), 1)
    pairs = allowed.sum()
    if policy == "uniform":
        return allowed / pairs
    if policy == "weighted":
        w = np.where(active, weights, 0.0)
        first = w / w.sum()
        # P(i then j) = w_i / W · w_j / (W − w_i), both orders.
        ordered = first[:, None] * (w[None, :] / (w.sum() - w[:, None]))
        np.fill_diagonal(ordered, 0.0)
        return np.triu(ordered + ordered.T, 1)
    rating = 1000.0 + SCALE * theta
    sd = np.where(np.isfinite(se), SCALE * se, policies.NEW_MODEL_SD)  # unknown to the fit
    if policy == "agora":
        raw = policies.information_weights(rating, sd)
    else:
        raw = policies.chatbot_arena_weights(rating, counts + counts.T)
    return policies.pair_distribution(raw, policies.FLOOR, np.outer(active, active))


def run(truth: np.ndarray, policy: str, seed: int, cap: int, newcomer: int, policies) -> dict:
    rng = np.random.default_rng(seed)
    m = len(truth)
    weights = np.exp(rng.uniform(np.log(0.5), np.log(2.0), m))
    active = np.ones(m, dtype=bool)
    active[newcomer] = False
    wins = np.zeros((m, m))
    counts = np.zeros((m, m))
    theta, se = np.zeros(m), np.full(m, np.inf)
    true_top = np.argsort(-truth)[:10]
    reached: dict[str, int | None] = {"a": None, "b": None, "c": None, "d": None}
    votes, per_model = 0, np.zeros(m)
    while votes < cap and None in reached.values():
        if votes == JOIN_AT:
            active[newcomer] = True
        probabilities = pair_probabilities(policy, theta, se, counts, weights, active, policies)
        flat = probabilities.ravel() / probabilities.sum()
        picks = rng.choice(flat.size, size=BLOCK, p=flat)
        i, j = np.divmod(picks, m)
        p = 1.0 / (1.0 + np.exp((truth[j] - truth[i]) / SCALE))
        outcome = np.where(rng.random(BLOCK) < TIE_SHARE, 0.5, (rng.random(BLOCK) < p).astype(float))
        np.add.at(wins, (i, j), outcome)
        np.add.at(wins, (j, i), 1.0 - outcome)
        np.add.at(counts, (i, j), 1.0)
        np.add.at(per_model, i, 1.0)
        np.add.at(per_model, j, 1.0)
        votes += BLOCK
        theta, se = bt_fit(wins, theta, active)
        rating, half = SCALE * theta, 1.96 * SCALE * se
        known = active & np.isfinite(se)
        if reached["a"] is None:
            top = true_top[np.isin(true_top, np.flatnonzero(known))]
            ordered = top[np.argsort(-truth[top])]
            lower, upper = rating[ordered] - half[ordered], rating[ordered] + half[ordered]
            if len(top) == 10 and np.all(lower[:-1] > upper[1:]):
                reached["a"] = votes
        if reached["b"] is None and known.sum() == active.sum() and np.mean(2 * half[known]) <= 20.0:
            reached["b"] = votes
        if reached["c"] is None and kendall_tau(rating[known], truth[known]) >= 0.95:
            reached["c"] = votes
        if reached["d"] is None and active[newcomer] and half[newcomer] <= 25.0:
            reached["d"] = votes - JOIN_AT
    share = per_model / per_model.sum()
    return {k: (v if v is not None else None) for k, v in reached.items()} | {"min_share": float(share.min())}


def truths() -> dict[str, np.ndarray]:
    with LLMFAO.open() as f:
        rows = list(csv.DictReader(f))
    models = sorted({r["left"] for r in rows} | {r["right"] for r in rows})
    index = {name: k for k, name in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for r in rows:
        a, b = index[r["left"]], index[r["right"]]
        y = {"left": 1.0, "right": 0.0, "tie": 0.5}[r["winner"]]
        wins[a, b] += y
        wins[b, a] += 1 - y
    theta, _ = bt_fit(wins, np.zeros(len(models)), np.ones(len(models), dtype=bool))
    ladder = np.random.default_rng(0).normal(1100.0, 100.0, 100)
    return {"llmfao": 1000.0 + SCALE * theta, "ladder": ladder}


def bounds(truth: np.ndarray) -> str:
    """What no policy can beat. (b): a vote tells at most p(1 − p) = 0.25 (an even pair); uniform pairs tell
    their mean p(1 − p), so no policy needs fewer than that share of uniform's votes. (a): the closest
    adjacent pair of the true top 10 must be told apart by intervals: at the very least its own two
    ±1.96 SE intervals must not touch, which takes this many votes on that pair alone."""
    p = 1.0 / (1.0 + np.exp((truth[None, :] - truth[:, None]) / SCALE))
    pairs = np.triu(np.ones_like(p, dtype=bool), 1)
    uniform_info = float((p * (1 - p))[pairs].mean())
    top = np.sort(truth)[::-1][:10]
    gap = float(np.min(top[:-1] - top[1:]))
    # Two models compared only with each other: Var(θa − θb) = 1 / (n p(1 − p)) and each SE is half of it.
    n = (2 * 1.96 * SCALE / gap) ** 2 / 0.25 / 2 if gap > 0 else float("inf")
    return (
        f"bounds: (b) uniform pairs tell {uniform_info:.3f} of a vote's most (0.25), so no policy needs less than "
        f"{uniform_info / 0.25:.2f}x uniform's votes; (a) the closest adjacent pair of the true top 10 is "
        f"{gap:.1f} points apart: separating it takes at least {n:,.0f} votes on that pair alone"
    )


def summary(values: list[int | None], cap: int) -> str:
    filled = np.array([cap if v is None else v for v in values], dtype=float)
    q1, med, q3 = np.percentile(filled, [25, 50, 75])
    over = ">" if any(v is None for v in values) and med >= cap else ""
    return f"{over}{med:,.0f} [{q1:,.0f}–{q3:,.0f}]"


def pick_time(policies) -> float:
    rng = np.random.default_rng(1)
    rating, sd = rng.normal(1100, 100, 200), rng.uniform(5, 60, 200)
    started = time.perf_counter()
    for _ in range(200):
        policies.draw_pair(policies.information_weights(rating, sd), policies.FLOOR, float(rng.random()))
    return (time.perf_counter() - started) / 200 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cap", type=int, default=400_000)
    parser.add_argument("--truths", default="llmfao,ladder")
    args = parser.parse_args()
    import django

    django.setup()
    from arena import sampling as policies

    started = time.perf_counter()
    for name, truth in truths().items():
        if name not in args.truths.split(","):
            continue
        newcomer = int(np.argsort(-truth)[len(truth) // 2])
        print(f"\n{name}: {len(truth)} models, {args.seeds} seeds, votes as median [IQR], cap {args.cap:,}")
        print(
            f"{'policy':<14} {'(a) top 10 apart':>22} {'(b) width <= 20':>22} {'(c) tau >= 0.95':>22} "
            f"{'(d) new <= ±25':>20} {'min share':>10}"
        )
        results = {}
        for policy in POLICIES:
            runs = [run(truth, policy, seed, args.cap, newcomer, policies) for seed in range(args.seeds)]
            results[policy] = runs
            cells = [summary([r[k] for r in runs], args.cap) for k in "abcd"]
            print(
                f"{policy:<14} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} {cells[3]:>20} "
                f"{min(r['min_share'] for r in runs):>10.4f}"
            )
        print(bounds(truth))
        for k, label in (("a", "(a)"), ("b", "(b)")):
            med = {p: np.median([args.cap if r[k] is None else r[k] for r in results[p]]) for p in POLICIES}
            print(
                f"{label} agora / uniform {med['agora'] / med['uniform']:.2f}, "
                f"agora / chatbot-arena {med['agora'] / med['chatbot-arena']:.2f}"
            )
    print(
        f"\none pick at 200 models: {pick_time(policies):.3f} ms; the floor gives each of 200 models at least "
        f"{policies.FLOOR / 200:.5f} of all appearances (the unit of the min share column)"
    )
    print(
        "targets (issue): agora <= 0.5x uniform and <= 0.8x chatbot-arena on (a) and (b); a pick <= 1 ms; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
