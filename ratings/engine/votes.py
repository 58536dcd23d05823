"""Pairwise votes as arrays, and their aggregation into per-pair counts.

Everything downstream works on these arrays: a vote is (model a, model b, the probability that
a beat b, a weight). A decisive vote is 1 or 0, a tie 0.5 (the LMArena convention: a tie is half
a win for each side), a graded or soft vote anything in between. Ties are also flagged, so the
explicit tie models (Rao–Kupper, Davidson) can tell a tie from a soft 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


class RatingError(ValueError):
    """The votes cannot be rated as asked; the message says why, for a person."""


@dataclass(frozen=True)
class Votes:
    models: tuple[str, ...]
    a: np.ndarray  # int, index into models
    b: np.ndarray
    y: np.ndarray  # float in [0, 1]: how much a beat b
    tie: np.ndarray  # bool: an explicit tie (y is then 0.5)
    w: np.ndarray  # float weight, 1 by default
    judge: np.ndarray | None = None  # int, index into judges
    judges: tuple[str, ...] = ()
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # per-vote columns (style counts, lengths)

    def __post_init__(self) -> None:
        n = len(self.a)
        for name in ("b", "y", "tie", "w"):
            if len(getattr(self, name)) != n:
                raise RatingError(f"votes: column {name} has {len(getattr(self, name))} rows, expected {n}")
        if n and (np.any(self.a == self.b)):
            raise RatingError("votes: a model cannot be compared with itself")
        if n and (np.any((self.y < 0) | (self.y > 1)) or not np.all(np.isfinite(self.y))):
            raise RatingError("votes: outcomes must lie in [0, 1]")
        if n and (np.any(self.w < 0) or not np.all(np.isfinite(self.w))):
            raise RatingError("votes: weights must be finite and non-negative")

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def unweighted(self) -> bool:
        return bool(np.all(self.w == 1.0))

    def subset(self, mask: np.ndarray) -> Votes:
        return Votes(
            models=self.models,
            a=self.a[mask],
            b=self.b[mask],
            y=self.y[mask],
            tie=self.tie[mask],
            w=self.w[mask],
            judge=None if self.judge is None else self.judge[mask],
            judges=self.judges,
            extra={k: v[mask] for k, v in self.extra.items()},
        )

    def battles_per_model(self) -> np.ndarray:
        n = self.n_models
        return np.bincount(self.a, minlength=n) + np.bincount(self.b, minlength=n)


OUTCOME_Y = {"a": 1.0, "left": 1.0, "model_a": 1.0, "b": 0.0, "right": 0.0, "model_b": 0.0, "tie": 0.5}


def votes_from_records(
    records: Iterable[Sequence],
    *,
    models: Sequence[str] | None = None,
) -> Votes:
    """Votes from (model_a, model_b, outcome[, weight[, judge]]) rows; outcome 'a'/'b'/'tie' or a float.

    Models are indexed in order of first appearance unless ``models`` fixes the order.
    """
    index: dict[str, int] = {m: i for i, m in enumerate(models or ())}
    judge_index: dict[str, int] = {}
    a, b, y, tie, w, judge = [], [], [], [], [], []
    for row in records:
        ma, mb, outcome = row[0], row[1], row[2]
        for m in (ma, mb):
            if m not in index:
                if models is not None:
                    raise RatingError(f"votes: unknown model {m!r}")
                index[m] = len(index)
        a.append(index[ma])
        b.append(index[mb])
        if isinstance(outcome, str):
            if outcome not in OUTCOME_Y:
                raise RatingError(f"votes: unknown outcome {outcome!r} (expected a, b or tie)")
            y.append(OUTCOME_Y[outcome])
            tie.append(outcome == "tie")
        else:
            y.append(float(outcome))
            tie.append(False)
        w.append(float(row[3]) if len(row) > 3 and row[3] is not None else 1.0)
        if len(row) > 4:
            judge.append(judge_index.setdefault(str(row[4]), len(judge_index)))
    return Votes(
        models=tuple(index),
        a=np.asarray(a, dtype=np.int64),
        b=np.asarray(b, dtype=np.int64),
        y=np.asarray(y, dtype=np.float64),
        tie=np.asarray(tie, dtype=bool),
        w=np.asarray(w, dtype=np.float64),
        judge=np.asarray(judge, dtype=np.int64) if judge else None,
        judges=tuple(judge_index),
    )


@dataclass(frozen=True)
class PairCounts:
    """Votes aggregated by distinct (a < b, outcome, weight): the sufficient statistics of the pairwise models.

    ``counts`` are how many votes each cell holds, so resampling the counts (multinomially) is
    resampling the votes, at the cost of the cells, not of the votes.
    """

    n: int
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    tie: np.ndarray
    w: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def wins(self, counts: np.ndarray | None = None) -> np.ndarray:
        """W[i, j]: how much i beat j (weighted; a tie is half a win each)."""
        c = self.counts if counts is None else counts
        n = self.n
        return (
            np.bincount(self.a * n + self.b, weights=c * self.w * self.y, minlength=n * n)
            + np.bincount(self.b * n + self.a, weights=c * self.w * (1.0 - self.y), minlength=n * n)
        ).reshape(n, n)

    def decisive_and_ties(self) -> tuple[np.ndarray, np.ndarray]:
        """(D, T): D[i, j] how much i beat j outside ties; T[i, j] = T[j, i] the weighted ties."""
        n = self.n
        cw = self.counts * self.w
        not_tie = ~self.tie
        d = np.bincount(
            self.a * n + self.b, weights=np.where(not_tie, cw * self.y, 0.0), minlength=n * n
        ) + np.bincount(self.b * n + self.a, weights=np.where(not_tie, cw * (1.0 - self.y), 0.0), minlength=n * n)
        t = np.bincount(self.a * n + self.b, weights=np.where(self.tie, cw, 0.0), minlength=n * n).reshape(n, n)
        return d.reshape(n, n), t + t.T


def pair_counts(votes: Votes) -> PairCounts:
    """One pass over the votes. The common case (weights 1, outcomes 0 / ½ / 1) is a single bincount."""
    n = votes.n_models
    if len(votes) == 0:
        empty = np.zeros(0)
        return PairCounts(n, empty.astype(np.int64), empty.astype(np.int64), empty, empty.astype(bool), empty, empty)
    # Orientation carries no information for the pairwise models, so (b, a, 1 − y) folds onto
    # (a, b, y) with a < b: half the cells, so half the bootstrap's sampling work.
    swap = votes.a > votes.b
    lo, hi = np.where(swap, votes.b, votes.a), np.where(swap, votes.a, votes.b)
    y = np.where(swap, 1.0 - votes.y, votes.y)
    code = lo * n + hi
    simple = votes.unweighted and np.all((y == 0) | (y == 0.5) | (y == 1))
    if simple:
        # Classes: 0 = b won, 1 = a soft ½, 2 = a won, 3 = a tie.
        cls = np.where(votes.tie, 3, np.rint(y * 2).astype(np.int64))
        binned = np.bincount(code * 4 + cls, minlength=n * n * 4)
        cells = np.flatnonzero(binned)
        pair, cls = np.divmod(cells, 4)
        a, b = np.divmod(pair, n)
        return PairCounts(
            n=n,
            a=a,
            b=b,
            y=np.where(cls == 3, 0.5, cls / 2.0),
            tie=cls == 3,
            w=np.ones(len(cells)),
            counts=binned[cells].astype(np.float64),
        )
    keys = np.stack([code.astype(np.float64), y, votes.tie.astype(np.float64), votes.w], axis=1)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    a, b = np.divmod(uniq[:, 0].astype(np.int64), n)
    return PairCounts(n=n, a=a, b=b, y=uniq[:, 1], tie=uniq[:, 2] > 0, w=uniq[:, 3], counts=counts.astype(np.float64))
