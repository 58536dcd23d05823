"""Vote rigging against the judges' review: how far rigged votes move a model, with and without the defence.

    .venv/bin/python benchmarks/rigging.py [--honest 100000] [--seed 1]

The truth is the Bradley–Terry fit of LLMFAO's 8,931 crowd votes (59 models, ../shared/data/llmfao).
Honest voters cast ``--honest`` votes on uniformly drawn pairs, each outcome drawn from the truth (15% of
them ties); how many votes each voter casts is heavy-tailed (Zipf, a = 2: most cast one or two, a few
hundreds). The target is the model ranked in the middle of the truth. Attackers, over 1, 10 or 100 voter
keys with 200, 500, 1,000 or 5,000 votes in all:

- target-only: votes only in battles the target is in; it tells the target's answer with accuracy 0.9
  and votes for it (for the other side when it is wrong);
- omnipresent: votes in every battle: for the target when it tells the target is in it (as above), else
  for whichever of the two ranks lower on the public board, pulling down the models above the target.

For each it fits the board (Bradley–Terry, as the boards do) on all votes and prints the target's rank
gain against the honest-only board; then runs the review's likelihood test against the fit on all votes
(as the running system would) and its concentration test (ratings/engine/judges.py: improbable,
concentrated), leaves out every flagged judge's votes, fits again and prints the gain with the defence,
the share of rigged votes excluded and of honest votes excluded. The speed, volume and address signals
are not simulated: the attackers are assumed to vote at a human pace, spread over hours and addresses.
Honest voters here follow the truth exactly, so the share of them excluded is a floor: real voters with
tastes of their own are flagged more often.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ratings.engine.judges import ReviewVotes, concentrated, improbable  # noqa: E402
from ratings.engine.leaderboard import rate  # noqa: E402
from ratings.engine.votes import Votes  # noqa: E402

LLMFAO = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmfao" / "crowd-comparisons.csv"
BUDGETS = (200, 500, 1000, 5000)
KEYS = (1, 10, 100)
ACCURACY = 0.9
TIE_SHARE = 0.15


def truth() -> dict[str, float]:
    with LLMFAO.open() as f:
        rows = list(csv.DictReader(f))
    models = sorted({r["left"] for r in rows} | {r["right"] for r in rows})
    index = {m: i for i, m in enumerate(models)}
    y = np.array([{"left": 1.0, "right": 0.0, "tie": 0.5}[r["winner"]] for r in rows])
    votes = Votes(
        models=tuple(models),
        a=np.array([index[r["left"]] for r in rows]),
        b=np.array([index[r["right"]] for r in rows]),
        y=y,
        tie=y == 0.5,
        w=np.ones(len(rows)),
    )
    return ratings_of(votes)


def ratings_of(votes: Votes) -> dict[str, float]:
    result = rate(votes, method="bt", bootstrap=0, ci="none")
    return {r.model: r.rating for r in result.models}


def rank_of(ratings: dict[str, float], model: str) -> int:
    return 1 + sum(1 for r in ratings.values() if r > ratings[model])


def honest_votes(true: dict[str, float], n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    models = list(true)
    m = len(models)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    ra = np.array([true[models[i]] for i in a])
    rb = np.array([true[models[i]] for i in b])
    p = 1 / (1 + 10 ** ((rb - ra) / 400))
    y = (rng.random(n) < p).astype(float)
    y[rng.random(n) < TIE_SHARE] = 0.5
    # Heavy-tailed votes per voter: voter sizes from Zipf(2), cut to what is left.
    judges = np.empty(n, dtype=object)
    start, voter = 0, 0
    while start < n:
        size = min(int(rng.zipf(2.0)), 2000, n - start)
        judges[start : start + size] = f"voter:honest-{voter}"
        start, voter = start + size, voter + 1
    rng.shuffle(judges)
    return a, b, y, judges


def rigged_votes(kind: str, budget: int, keys: int, target: int, board: dict[str, float], models: list[str], rng):
    m = len(models)
    a, b, y = [], [], []
    while len(a) < budget:
        i, j = rng.choice(m, 2, replace=False)
        has_target = target in (i, j)
        if kind == "target-only" and not has_target:
            continue  # the attacker leaves this battle without a vote and starts another
        if has_target:
            target_side = 0 if i == target else 1
            if rng.random() >= ACCURACY:
                target_side = 1 - target_side  # told the wrong answer for the target's
            outcome = 1.0 if target_side == 0 else 0.0
        else:
            outcome = 1.0 if board[models[i]] < board[models[j]] else 0.0  # the lower-ranked one wins
        a.append(i)
        b.append(j)
        y.append(outcome)
    judges = np.array([f"voter:rigger-{k % keys}" for k in range(budget)], dtype=object)
    return np.array(a), np.array(b), np.array(y), judges


def votes_of(models: list[str], a, b, y) -> Votes:
    return Votes(models=tuple(models), a=a, b=b, y=y, tie=y == 0.5, w=np.ones(len(a)))


def review(models: list[str], a, b, y, judges, ratings: dict[str, float]) -> set[str]:
    names = np.array(models, dtype=object)
    votes = ReviewVotes(
        judge=judges,
        model_a=names[a],
        model_b=names[b],
        decisive=y != 0.5,
        a_won=y == 1.0,
        time_spent_ms=np.full(len(a), np.nan),
        hour=np.zeros(len(a), dtype=np.int64),
    )
    return set(improbable(votes, ratings)) | set(concentrated(votes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--honest", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    true = truth()
    models = list(true)
    ranked = sorted(models, key=lambda m: -true[m])
    target_name = ranked[len(ranked) // 2]
    target = models.index(target_name)
    ha, hb, hy, hj = honest_votes(true, args.honest, rng)
    honest_board = ratings_of(votes_of(models, ha, hb, hy))
    base_rank = rank_of(honest_board, target_name)
    tested = len({j for j, n in zip(*np.unique(hj, return_counts=True), strict=True) if n >= 20})
    print(
        f"truth: LLMFAO crowd fit, {len(models)} models; target {target_name} "
        f"(true rank {ranked.index(target_name) + 1}, rank {base_rank} on the honest board); "
        f"{args.honest:,} honest votes from {len(set(hj)):,} voters ({tested:,} with 20+ votes, who are tested)"
    )
    print(
        f"{'attacker':<12} {'budget':>6} {'keys':>5} | {'gain':>4} {'with defence':>12} | "
        f"{'rigged excluded':>15} {'honest excluded':>15}"
    )
    for kind in ("target-only", "omnipresent"):
        for budget in BUDGETS:
            for keys in KEYS:
                ra, rb, ry, rj = rigged_votes(kind, budget, keys, target, honest_board, models, rng)
                a, b, y = np.concatenate([ha, ra]), np.concatenate([hb, rb]), np.concatenate([hy, ry])
                judges = np.concatenate([hj, rj])
                board = ratings_of(votes_of(models, a, b, y))
                gain = base_rank - rank_of(board, target_name)
                flagged = review(models, a, b, y, judges, board)
                kept = np.array([j not in flagged for j in judges])
                defended = ratings_of(votes_of(models, a[kept], b[kept], y[kept]))
                gain_defended = base_rank - rank_of(defended, target_name)
                rigged = np.arange(len(a)) >= len(ha)
                rigged_out = (~kept & rigged).sum() / rigged.sum()
                honest_out = (~kept & ~rigged).sum() / (~rigged).sum()
                print(
                    f"{kind:<12} {budget:>6,} {keys:>5} | {gain:>+4} {gain_defended:>+12} | "
                    f"{rigged_out:>15.1%} {honest_out:>15.2%}"
                )
    print(
        "targets (issue): at 1,000 rigged votes over 10 keys, gain <= 1 place with the defence, >= 90% of rigged "
        f"votes excluded, <= 1% of honest votes excluded; {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
