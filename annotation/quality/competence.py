"""Annotator competence: Dawid–Skene and MACE label models, accuracy on gold items, and flags for review.

Labels come as ``(annotator, item, label)`` triples (None or NaN labels are skipped). The label models are
deterministic EM: they start from the vote shares of each item, so the same input always gives the same output,
and additive smoothing keeps every probability positive (a confusion row an annotator has no data for stays uniform,
never 0/0). Inputs that cannot be read raise :class:`CompetenceError`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from .agreement import _is_number, _missing, _ordered


class CompetenceError(ValueError):
    """Input the competence functions cannot read: a label outside the classes, a bad setting, a bad duration."""


@dataclass(frozen=True)
class _Labels:
    """Triples encoded as index arrays, one entry per label."""

    annotators: tuple[Hashable, ...]
    items: tuple[Hashable, ...]
    classes: tuple[Hashable, ...]
    annotator: np.ndarray
    item: np.ndarray
    label: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.annotators), len(self.items), len(self.classes)

    def votes(self) -> np.ndarray:
        """Items × classes vote counts."""
        counts = np.zeros((len(self.items), len(self.classes)))
        np.add.at(counts, (self.item, self.label), 1.0)
        return counts

    def by_item(self) -> sparse.csr_matrix:
        """Items × labels incidence: summing a per-label array into its items."""
        n = len(self.label)
        return sparse.csr_matrix((np.ones(n), (self.item, np.arange(n))), shape=(len(self.items), n))


def _encode(labels: Iterable[tuple[Hashable, Hashable, Any]], classes: Iterable[Hashable] | None) -> _Labels:
    annotators: dict[Hashable, int] = {}
    items: dict[Hashable, int] = {}
    rows: list[tuple[int, int, Hashable]] = []
    for annotator, item, label in labels:
        if _missing(label):
            continue
        rows.append((annotators.setdefault(annotator, len(annotators)), items.setdefault(item, len(items)), label))
    names = tuple(classes) if classes is not None else tuple(_ordered(label for *_, label in rows))
    position = {c: k for k, c in enumerate(names)}
    if len(position) != len(names):
        raise CompetenceError("classes must be distinct")
    unknown = [label for *_, label in rows if label not in position]
    if unknown:
        raise CompetenceError(f"label {unknown[0]!r} is not one of the classes {list(names)!r}")
    return _Labels(
        tuple(annotators),
        tuple(items),
        names,
        np.array([r[0] for r in rows], dtype=int),
        np.array([r[1] for r in rows], dtype=int),
        np.array([position[r[2]] for r in rows], dtype=int),
    )


def _check_settings(smoothing: float, tol: float, max_iter: int) -> None:
    if not smoothing > 0 or not math.isfinite(smoothing):
        raise CompetenceError("smoothing must be a positive number")
    if not tol > 0:
        raise CompetenceError("tol must be positive")
    if max_iter < 1:
        raise CompetenceError("max_iter must be 1 or more")


@dataclass(frozen=True)
class LabelModel:
    """What both label models report: item posteriors over the classes, and how the fit went.

    ``posteriors[i, k]`` is P(item ``items[i]`` is of class ``classes[k]``); ``answers[j]`` is how many labels
    annotator ``annotators[j]`` gave; ``log_likelihood`` is the marginal log-likelihood of the labels at the end.
    """

    classes: tuple[Hashable, ...]
    annotators: tuple[Hashable, ...]
    items: tuple[Hashable, ...]
    posteriors: np.ndarray
    answers: np.ndarray
    iterations: int
    converged: bool
    log_likelihood: float

    def best_labels(self) -> dict[Hashable, Hashable]:
        """Each item's most probable class (ties: the first class in ``classes``)."""
        best = np.argmax(self.posteriors, axis=1) if len(self.classes) else []
        return {item: self.classes[k] for item, k in zip(self.items, best, strict=True)}


@dataclass(frozen=True)
class DawidSkene(LabelModel):
    """A Dawid–Skene fit: ``priors[k]`` = P(class k); ``confusion[j, k, l]`` = P(annotator j says l | class k)."""

    priors: np.ndarray
    confusion: np.ndarray

    @property
    def accuracy(self) -> dict[Hashable, float]:
        """Per annotator, P(the label is right) = Σ_k priors[k] · confusion[j, k, k]."""
        diagonal = np.diagonal(self.confusion, axis1=1, axis2=2)
        return {a: float(v) for a, v in zip(self.annotators, diagonal @ self.priors, strict=True)}


@dataclass(frozen=True)
class Mace(LabelModel):
    """A MACE fit: ``competence[j]`` = P(annotator j answers from the item rather than at random); ``spam[j, l]`` =
    P(label l | answering at random)."""

    competence: np.ndarray
    spam: np.ndarray

    @property
    def competence_by_annotator(self) -> dict[Hashable, float]:
        return {a: float(v) for a, v in zip(self.annotators, self.competence, strict=True)}


def majority_vote(
    labels: Iterable[tuple[Hashable, Hashable, Any]], *, classes: Iterable[Hashable] | None = None
) -> dict[Hashable, Hashable]:
    """Each item's most frequent label (ties: the first in ``classes``, which default to the sorted labels)."""
    data = _encode(labels, classes)
    if not len(data.items):
        return {}
    best = np.argmax(data.votes(), axis=1)
    return {item: data.classes[k] for item, k in zip(data.items, best, strict=True)}


def _empty(data: _Labels) -> dict[str, Any]:
    a, i, k = data.shape
    return dict(
        classes=data.classes,
        annotators=data.annotators,
        items=data.items,
        posteriors=np.zeros((i, k)),
        answers=np.zeros(a, dtype=int),
        iterations=0,
        converged=True,
        log_likelihood=0.0,
    )


def _normalize(log_posteriors: np.ndarray) -> tuple[np.ndarray, float]:
    totals = logsumexp(log_posteriors, axis=1)
    return np.exp(log_posteriors - totals[:, None]), float(totals.sum())


def dawid_skene(
    labels: Iterable[tuple[Hashable, Hashable, Any]],
    *,
    classes: Iterable[Hashable] | None = None,
    smoothing: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> DawidSkene:
    """Dawid & Skene (1979): per-annotator confusion matrices and class priors by EM, and each item's posterior.

    ``labels``: ``(annotator, item, label)`` triples; an annotator may label an item more than once. ``classes``:
    the label set and its order (default: the sorted labels seen). Starts from the vote shares (a soft majority
    vote), then alternates M (priors and confusion rows from the posteriors, plus ``smoothing`` pseudo-counts in
    every cell) and E (posteriors from priors and confusions) until no posterior moves by ``tol`` or more, or
    ``max_iter`` rounds. The reported priors and confusions are the ones the final posteriors were computed from.
    """
    _check_settings(smoothing, tol, max_iter)
    data = _encode(labels, classes)
    n_annotators, n_items, k = data.shape
    if not n_items:
        return DawidSkene(**_empty(data), priors=np.zeros(k), confusion=np.zeros((n_annotators, k, k)))
    by_item = data.by_item()
    given = sparse.csr_matrix(
        (np.ones(len(data.label)), (data.annotator * k + data.label, np.arange(len(data.label)))),
        shape=(n_annotators * k, len(data.label)),
    )
    posteriors = data.votes()
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    converged, iterations, log_likelihood = False, 0, 0.0
    while iterations < max_iter:
        iterations += 1
        counts = (given @ posteriors[data.item]).reshape(n_annotators, k, k).transpose(0, 2, 1) + smoothing
        confusion = counts / counts.sum(axis=2, keepdims=True)
        priors = (posteriors.sum(axis=0) + smoothing) / (n_items + k * smoothing)
        per_label = np.log(confusion)[data.annotator, :, data.label]
        updated, log_likelihood = _normalize(np.log(priors) + by_item @ per_label)
        change = float(np.abs(updated - posteriors).max())
        posteriors = updated
        if change < tol:
            converged = True
            break
    return DawidSkene(
        classes=data.classes,
        annotators=data.annotators,
        items=data.items,
        posteriors=posteriors,
        answers=np.bincount(data.annotator, minlength=n_annotators),
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        priors=priors,
        confusion=confusion,
    )


def mace(
    labels: Iterable[tuple[Hashable, Hashable, Any]],
    *,
    classes: Iterable[Hashable] | None = None,
    smoothing: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> Mace:
    """MACE (Hovy et al. 2013): each annotator either answers from the item (with probability ``competence``) and
    gives the true class, or answers at random from their own ``spam`` distribution; true classes are uniform.

    Fitted by deterministic EM with ``smoothing`` pseudo-counts (a Beta/Dirichlet prior), starting from every
    annotator at competence 0.5 with uniform spam, so the first posteriors weigh every vote alike (P(k) ∝ (K + 1) to
    the votes for k); the original uses variational Bayes with random restarts, which this does not. Stops as
    :func:`dawid_skene` does.
    """
    _check_settings(smoothing, tol, max_iter)
    data = _encode(labels, classes)
    n_annotators, n_items, k = data.shape
    if not n_items:
        return Mace(**_empty(data), competence=np.zeros(n_annotators), spam=np.zeros((n_annotators, k)))
    by_item = data.by_item()
    answers = np.bincount(data.annotator, minlength=n_annotators)
    competence = np.full(n_annotators, 0.5)
    spam = np.full((n_annotators, k), 1.0 / k)
    rows = np.arange(len(data.label))
    posteriors = None
    converged, iterations, log_likelihood = False, 0, 0.0
    while iterations < max_iter:
        iterations += 1
        # E: P(label l | class c) = (1 − competence)·spam[l] + competence·[l = c]
        at_random = (1.0 - competence[data.annotator]) * spam[data.annotator, data.label]
        per_label = np.repeat(np.log(at_random)[:, None], k, axis=1)
        per_label[rows, data.label] = np.log(at_random + competence[data.annotator])
        updated, log_likelihood = _normalize(by_item @ per_label - math.log(k))
        change = math.inf if posteriors is None else float(np.abs(updated - posteriors).max())
        posteriors = updated
        converged = change < tol
        if converged or iterations == max_iter:
            break
        # M: expected "answered from the item" per label, from the posterior that the label is the true class
        knew = posteriors[data.item, data.label] * competence[data.annotator]
        knew /= competence[data.annotator] + at_random
        competence = (np.bincount(data.annotator, weights=knew, minlength=n_annotators) + smoothing) / (
            answers + 2 * smoothing
        )
        random_counts = np.zeros((n_annotators, k))
        np.add.at(random_counts, (data.annotator, data.label), 1.0 - knew)
        spam = (random_counts + smoothing) / (random_counts.sum(axis=1, keepdims=True) + k * smoothing)
    return Mace(
        classes=data.classes,
        annotators=data.annotators,
        items=data.items,
        posteriors=posteriors,
        answers=answers,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        competence=competence,
        spam=spam,
    )


@dataclass(frozen=True)
class GoldScore:
    """One annotator's answers on gold items: ``correct`` of ``total``."""

    annotator: Hashable
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


def _matches(answer: Any, expected: Any, tolerance: float) -> bool:
    if _missing(answer):
        return False
    if _is_number(answer) and _is_number(expected):
        a, e = float(answer), float(expected)
        return math.isfinite(a) and (abs(a - e) <= tolerance or math.isclose(a, e))
    return answer == expected


def gold_accuracy(
    answers: Iterable[tuple[Hashable, Hashable, Any]], gold: Mapping[Hashable, Any], *, tolerance: float = 0.0
) -> dict[Hashable, GoldScore]:
    """Per annotator, how many of their answers on gold items match the expected answer.

    ``answers``: ``(annotator, item, answer)``; answers on items not in ``gold`` are ignored, and annotators with no
    gold answer are left out. Numbers match when within ``tolerance`` of the expected number (or equal up to float
    rounding); anything else matches by equality. A missing answer (None, NaN) counts as wrong. Every answer counts,
    so an annotator who answered a gold item twice has two chances there.
    """
    if not tolerance >= 0:
        raise CompetenceError("tolerance must be 0 or more")
    scores: dict[Hashable, list[int]] = {}
    for annotator, item, answer in answers:
        if item not in gold:
            continue
        tally = scores.setdefault(annotator, [0, 0])
        tally[0] += _matches(answer, gold[item], tolerance)
        tally[1] += 1
    return {a: GoldScore(a, correct, total) for a, (correct, total) in scores.items()}


@dataclass(frozen=True)
class Flag:
    """One reason to look at an annotator's work: ``kind`` is ``"accuracy"`` or ``"speed"``; ``item`` is set for a
    single answer; ``value`` is the accuracy or the seconds spent."""

    annotator: Hashable
    kind: str
    reason: str
    value: float
    item: Hashable | None = None


def flag_low_accuracy(
    scores: Mapping[Hashable, GoldScore | float | None],
    *,
    threshold: float,
    min_answers: int = 1,
    source: str = "gold",
) -> list[Flag]:
    """Annotators whose accuracy is below ``threshold``, lowest first.

    ``scores``: :func:`gold_accuracy`'s result (annotators with fewer than ``min_answers`` gold answers are not
    judged), or plain accuracies such as :attr:`DawidSkene.accuracy` (``source`` names them in the reason). An
    accuracy of None (no data) is not judged.
    """
    flags = []
    for annotator, score in scores.items():
        if isinstance(score, GoldScore):
            if score.total < min_answers or score.accuracy is None:
                continue
            value, detail = score.accuracy, f" ({score.correct}/{score.total})"
        elif score is None:
            continue
        else:
            value, detail = float(score), ""
        if value < threshold:
            reason = f"{source} accuracy {value:.2f}{detail} is below {threshold:.2f}"
            flags.append(Flag(annotator, "accuracy", reason, value))
    return sorted(flags, key=lambda f: f.value)


def flag_fast_answers(
    timings: Iterable[tuple[Hashable, Hashable, float]],
    *,
    min_seconds: float | None = None,
    median_fraction: float | None = None,
) -> list[Flag]:
    """Answers given implausibly fast, in input order.

    ``timings``: ``(annotator, item, seconds)``. An answer is flagged when it took less than ``min_seconds``, or less
    than ``median_fraction`` times the median over all the answers given (the project's median); either or both.
    A negative or non-finite duration raises :class:`CompetenceError`.
    """
    if min_seconds is None and median_fraction is None:
        raise CompetenceError("give min_seconds, median_fraction or both")
    rows = list(timings)
    for annotator, item, seconds in rows:
        if not _is_number(seconds) or not math.isfinite(seconds) or seconds < 0:
            raise CompetenceError(f"{annotator!r} on {item!r}: {seconds!r} is not a duration in seconds")
    median = statistics.median(float(s) for *_, s in rows) if rows else 0.0
    flags = []
    for annotator, item, seconds in rows:
        reasons = []
        if min_seconds is not None and seconds < min_seconds:
            reasons.append(f"under {min_seconds:g} s")
        if median_fraction is not None and seconds < median_fraction * median:
            reasons.append(f"under {median_fraction:g} × the median {median:.3g} s")
        if reasons:
            flags.append(
                Flag(annotator, "speed", f"answered in {seconds:.3g} s, " + " and ".join(reasons), float(seconds), item)
            )
    return flags
