"""Agreement and competence math, checked against published examples and brute-force definitions (no database)."""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from annotation.quality.agreement import (
    LEVELS,
    AgreementError,
    category_counts,
    cohen_kappa,
    coincidences,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    krippendorff_alpha,
    percent_agreement,
    reliability_matrix,
)
from annotation.quality.competence import (
    CompetenceError,
    GoldScore,
    dawid_skene,
    flag_fast_answers,
    flag_low_accuracy,
    gold_accuracy,
    mace,
    majority_vote,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers × 12 units, missing
# data. Printed there with observers as rows; transposed here to units × coders.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
).T

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories (counts per category).
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


# --- brute-force definitions, written from the formulas and sharing nothing with the module ---------------------


def brute_alpha(matrix: np.ndarray, level: str) -> float:
    """α = 1 − D_o/D_e with D_o averaged over the pairs of values within each unit and D_e over all pairs."""
    units = [[float(v) for v in row if not math.isnan(v)] for row in matrix]
    units = [u for u in units if len(u) >= 2]
    pool = [v for u in units for v in u]
    n = len(pool)
    frequency = Counter(pool)

    def delta(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        low, high = min(c, k), max(c, k)
        between = sum(count for g, count in frequency.items() if low <= g <= high)
        return (between - (frequency[c] + frequency[k]) / 2) ** 2

    observed = 0.0
    for u in units:
        within = sum(delta(u[i], u[j]) for i in range(len(u)) for j in range(len(u)) if i != j)
        observed += within / (len(u) - 1)
    expected = sum(delta(pool[i], pool[j]) for i in range(n) for j in range(n) if i != j)
    return 1.0 - (observed / n) / (expected / (n * (n - 1)))


def brute_cohen(first, second, weights=None) -> float:
    """κ = 1 − mean disagreement over units / mean disagreement over every (unit, unit') pairing of the coders."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if not np.isnan(a) and not np.isnan(b)]
    categories = sorted({v for pair in pairs for v in pair})
    last = max(len(categories) - 1, 1)

    def disagreement(a, b) -> float:
        if weights is None:
            return float(a != b)
        step = abs(categories.index(a) - categories.index(b)) / last
        return step if weights == "linear" else step**2

    observed = sum(disagreement(a, b) for a, b in pairs) / len(pairs)
    expected = sum(disagreement(a, b) for a, _ in pairs for _, b in pairs) / len(pairs) ** 2
    return 1.0 - observed / expected


def random_matrix(seed: int, units: int = 25, coders: int = 5, values: int = 5, missing: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.integers(1, values + 1, size=(units, coders)).astype(float)
    matrix[rng.random(matrix.shape) < missing] = NAN
    return matrix


# --- Krippendorff's α ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_alpha_krippendorff_2011_example(level, expected):
    result = krippendorff_alpha(KRIPPENDORFF_2011, level)
    assert round(result.value, 3) == expected
    # unit 12 has one value only: not pairable
    assert (result.n_units, result.n_pairable, result.n_values) == (12, 11, 40)


def test_alpha_coincidence_matrix_of_the_example():
    o, values = coincidences(KRIPPENDORFF_2011)
    assert list(values) == [1, 2, 3, 4, 5]
    # the paper's table: rows sum to n_c = 9, 13, 10, 5, 3 and n = 40
    assert np.allclose(o.sum(axis=1), [9, 13, 10, 5, 3])
    assert np.allclose(o, o.T)
    assert np.allclose(np.diag(o), [7, 10, 8, 4, 3])


def test_alpha_wikipedia_example_three_coders_fifteen_units():
    data = np.array(
        [
            [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
            [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
            [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
        ]
    ).T
    assert round(krippendorff_alpha(data).value, 3) == 0.691


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(6))
def test_alpha_equals_brute_force_on_random_data_with_missing_values(level, seed):
    matrix = random_matrix(seed, values=3 + seed % 4)
    assert krippendorff_alpha(matrix, level).value == pytest.approx(brute_alpha(matrix, level), abs=1e-12)


def test_alpha_ordinal_uses_marginal_frequencies_not_rank_differences():
    # a monotone relabelling keeps every marginal frequency, so ordinal α stays and interval α moves
    stretched = KRIPPENDORFF_2011.copy()
    for value, moved in {3: 7.0, 4: 8.0, 5: 20.0}.items():
        stretched[KRIPPENDORFF_2011 == value] = moved
    ordinal = krippendorff_alpha(KRIPPENDORFF_2011, "ordinal").value
    assert krippendorff_alpha(stretched, "ordinal").value == pytest.approx(ordinal)
    assert abs(krippendorff_alpha(stretched, "interval").value - 0.849) > 0.05
    # and it is not interval α on the ranks (the values here are their own ranks 1..5)
    assert abs(ordinal - krippendorff_alpha(KRIPPENDORFF_2011, "interval").value) > 0.03


def test_alpha_from_triples_with_labels_in_ordinal_order():
    order = ["low", "mid", "high"]
    triples = [
        (unit, coder, order[int(v) - 1])
        for unit, row in enumerate(KRIPPENDORFF_2011[:, :3])
        for coder, v in enumerate(row)
        if not math.isnan(v) and v <= 3
    ]
    data = reliability_matrix(triples, labels=order)
    codes = np.where(KRIPPENDORFF_2011[:, :3] <= 3, KRIPPENDORFF_2011[:, :3], NAN)
    assert data.labels == tuple(order)
    assert krippendorff_alpha(data, "ordinal").value == pytest.approx(brute_alpha(codes, "ordinal"))
    with pytest.raises(AgreementError, match="labels"):
        krippendorff_alpha(data, "interval")


def llmfao_triples() -> list[tuple[str, str, str]]:
    with (SHARED / "llmfao" / "crowd-comparisons.csv").open() as f:
        return [(r["id"], r["worker"], r["winner"]) for r in csv.DictReader(f)]


def test_alpha_on_llmfao_crowd_votes_equals_brute_force():
    triples = llmfao_triples()
    data = reliability_matrix(triples)
    assert data.labels == ("left", "right", "tie")
    assert data.matrix.shape == (2139, 124)
    result = krippendorff_alpha(data, "nominal")

    # brute force straight from the triples: pairs of votes within each pair of answers, and all pairs of votes
    units: dict[str, list[str]] = {}
    for unit, _, winner in triples:
        units.setdefault(unit, []).append(winner)
    pairable = [votes for votes in units.values() if len(votes) >= 2]
    observed = sum(sum(a != b for a, b in itertools.permutations(votes, 2)) / (len(votes) - 1) for votes in pairable)
    pool = np.array([v for votes in pairable for v in votes])
    n = len(pool)
    expected = float((pool[:, None] != pool[None, :]).sum())  # the diagonal (i = j) adds nothing
    brute = 1.0 - (observed / n) / (expected / (n * (n - 1)))

    print(f"\nLLMFAO crowd votes: Krippendorff's α (nominal) = {result.value:.6f} over {result.n_pairable} units")
    assert result.value == pytest.approx(brute, abs=1e-9)
    assert (result.n_units, result.n_pairable, result.n_values) == (2139, 2124, 8916)


# --- Cohen's κ -------------------------------------------------------------------------------------------------


def test_cohen_kappa_textbook_two_by_two():
    # 50 units: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o 0.7, p_e 0.5, κ 0.4
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    result = cohen_kappa(first, second)
    assert result.value == pytest.approx(0.4)
    assert (result.n_units, result.n_pairable) == (50, 50)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_equals_brute_force_over_units_both_coded(weights, seed):
    matrix = random_matrix(100 + seed, units=40, coders=2, values=4, missing=0.2)
    rng = np.random.default_rng(seed)
    agree = rng.random(40) < 0.5  # some real agreement, so κ is not just noise around 0
    matrix[agree, 1] = np.where(np.isnan(matrix[agree, 1]), NAN, matrix[agree, 0])
    result = cohen_kappa(matrix[:, 0], matrix[:, 1], weights=weights)
    assert result.value == pytest.approx(brute_cohen(matrix[:, 0], matrix[:, 1], weights), abs=1e-12)
    assert result.n_pairable == int((~np.isnan(matrix)).all(axis=1).sum())


def test_cohen_kappa_columns_of_a_reliability_matrix():
    data = reliability_matrix([(1, "a", "x"), (1, "b", "x"), (2, "a", "y"), (2, "b", "y"), (3, "a", "x")])
    result = cohen_kappa(data.column("a"), data.column("b"))
    assert (result.value, result.n_units, result.n_pairable) == (1.0, 3, 2)


# --- Fleiss' κ and percent agreement ------------------------------------------------------------------------------


def test_fleiss_kappa_wikipedia_example():
    result = fleiss_kappa_from_counts(FLEISS_WIKIPEDIA)
    assert round(result.value, 3) == 0.210
    assert (result.n_units, result.n_pairable, result.n_values) == (10, 10, 140)


def test_fleiss_kappa_from_a_matrix_matches_its_count_table():
    matrix = random_matrix(5, units=30, coders=4, missing=0.0)
    counts, values = category_counts(matrix)
    assert counts.sum(axis=1).tolist() == [4] * 30 and list(values) == sorted(set(matrix.ravel()))
    assert fleiss_kappa(matrix).value == pytest.approx(fleiss_kappa_from_counts(counts).value)


def test_fleiss_kappa_varying_rater_counts_are_refused_unless_a_count_is_chosen():
    with pytest.raises(AgreementError, match="same number of raters"):
        fleiss_kappa(KRIPPENDORFF_2011)
    complete = fleiss_kappa(KRIPPENDORFF_2011, raters=4)
    assert complete.n_pairable == 8
    assert complete.value == pytest.approx(fleiss_kappa(KRIPPENDORFF_2011[[1, 2, 3, 4, 5, 6, 7, 8]]).value)


def test_percent_agreement_pools_pairs_over_units():
    # unit 1: 3 coders agree (3 pairs agree); unit 2: 2 of 3 agree (1 of 3 pairs); unit 3: 2 coders differ (0 of 1)
    matrix = [[1, 1, 1], [1, 2, 1], [1, 2, NAN], [3, NAN, NAN]]
    result = percent_agreement(matrix)
    assert result.value == pytest.approx(4 / 7)
    assert (result.n_units, result.n_pairable, result.n_values) == (4, 3, 8)


# --- edge cases: a documented value or None, never NaN, never a crash ---------------------------------------------


def all_coefficients(matrix):
    matrix = np.asarray(matrix, dtype=float)
    results = {level: krippendorff_alpha(matrix, level) for level in LEVELS}
    results["percent"] = percent_agreement(matrix)
    if matrix.ndim == 2 and matrix.shape[1] >= 2:
        results["cohen"] = cohen_kappa(matrix[:, 0], matrix[:, 1])
    return results


def test_no_variation_at_all_leaves_alpha_and_kappa_undefined():
    matrix = np.ones((5, 3))
    for name, result in all_coefficients(matrix).items():
        if name == "percent":
            assert result.value == 1.0
        else:
            assert result.value is None and result.n_pairable == 5, name
            assert "undefined" in result.reason
    assert fleiss_kappa(matrix).value is None
    assert krippendorff_alpha(reliability_matrix([(u, c, "tie") for u in range(4) for c in "ab"])).value is None


def test_identical_coders_using_several_values_agree_perfectly():
    matrix = np.array([[1, 1, 1], [2, 2, 2], [4, 4, 4], [2, 2, NAN]])
    for result in all_coefficients(matrix).values():
        assert result.value == pytest.approx(1.0)
    assert fleiss_kappa(matrix, raters=3).value == pytest.approx(1.0)


def test_units_coded_once_are_dropped_and_missing_rows_and_columns_change_nothing():
    padded = np.full((14, 6), NAN)
    padded[:12, :4] = KRIPPENDORFF_2011
    padded[12, 5] = 3  # a unit coded by one coder only
    for level in LEVELS:
        result = krippendorff_alpha(padded, level)
        assert result.value == pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011, level).value)
        assert (result.n_units, result.n_pairable) == (14, 11)


@pytest.mark.parametrize(
    ("matrix", "reason"),
    [
        ([], "no units"),
        (np.zeros((0, 3)), "no units"),
        (np.zeros((3, 0)), "fewer than 2 coders"),
        ([[1], [2], [3]], "fewer than 2 coders"),
        ([[1, NAN], [NAN, 2], [NAN, NAN]], "no unit was coded by 2"),
    ],
)
def test_nothing_pairable_gives_none_with_a_reason(matrix, reason):
    for level in LEVELS:
        result = krippendorff_alpha(matrix, level)
        assert result.value is None and result.n_pairable == 0 and reason in result.reason
    assert percent_agreement(matrix).value is None
    assert fleiss_kappa(matrix).value is None


def test_cohen_kappa_edge_cases():
    assert cohen_kappa([], []).value is None
    assert cohen_kappa([1, NAN], [NAN, 2]).reason == "no unit was coded by both coders"
    assert cohen_kappa(["a", "a"], ["a", "a"]).value is None
    assert cohen_kappa(["a", "a"], ["b", "b"]).value == 0.0  # each constant, never the same: chance level
    assert cohen_kappa([1, 2, None], [1, 2, 2], weights="quadratic").value == 1.0


def test_small_inputs_never_leak_nan_or_crash():
    rng = np.random.default_rng(0)
    for _ in range(300):
        matrix = rng.choice([1.0, 2.0, NAN], size=rng.integers(0, 5, size=2))
        for result in all_coefficients(matrix).values():
            assert result.value is None or math.isfinite(result.value)
            assert (result.value is None) == (result.reason is not None)
        if matrix.size:
            counts, _ = category_counts(matrix)
            sizes = counts.sum(axis=1)
            if len(set(sizes[sizes >= 2])) <= 1:
                value = fleiss_kappa(matrix).value
                assert value is None or math.isfinite(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: krippendorff_alpha(KRIPPENDORFF_2011, "circular"),
        lambda: krippendorff_alpha(np.zeros((2, 2, 2))),
        lambda: krippendorff_alpha([["a", "b"], ["a", "a"]]),
        lambda: krippendorff_alpha([[1, np.inf], [1, 2]]),
        lambda: krippendorff_alpha([[-1, 2], [1, 2]], "ratio"),
        lambda: cohen_kappa([1, 2], [1]),
        lambda: cohen_kappa(["a", "b"], ["a", "b"], weights="linear"),
        lambda: cohen_kappa([1, 2], [1, 2], weights="cubic"),
        lambda: fleiss_kappa_from_counts([[1.5, 2], [2, 2]]),
        lambda: reliability_matrix([(1, "a", "x"), (1, "a", "y")]),
        lambda: reliability_matrix([(1, "a", "x")], labels=["y"]),
    ],
)
def test_malformed_input_raises_agreement_error(call):
    with pytest.raises(AgreementError):
        call()


def test_reliability_matrix_duplicates_and_missing_values():
    triples = [(1, "a", 2), (1, "a", 3), (1, "b", None), (2, "b", NAN), (2, "a", 1)]
    assert reliability_matrix(triples, duplicates="first").matrix.tolist()[0][0] == 2
    last = reliability_matrix(triples, duplicates="last")
    assert last.matrix[0, 0] == 3 and last.labels is None
    assert np.isnan(last.matrix[:, 1]).all() and last.units == (1, 2) and last.coders == ("a", "b")


# --- Dawid–Skene, MACE, gold accuracy and flags ----------------------------------------------------------------


def planted_labels(seed: int = 7, items: int = 600, classes: int = 3):
    """Each item labelled by 5 of 9 annotators: 3 right 90% of the time, 6 right 55%, errors spread evenly."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, items)
    accuracy = {f"good{j}": 0.9 for j in range(3)} | {f"bad{j}": 0.55 for j in range(6)}
    triples = []
    for item in range(items):
        for annotator in rng.choice(sorted(accuracy), 5, replace=False):
            label = truth[item]
            if rng.random() >= accuracy[annotator]:
                label = rng.choice([c for c in range(classes) if c != truth[item]])
            triples.append((str(annotator), item, int(label)))
    return triples, truth, accuracy


def test_dawid_skene_ranks_planted_annotators_and_beats_majority_vote():
    triples, truth, planted = planted_labels()
    result = dawid_skene(triples)
    assert result.converged
    accuracy = result.accuracy
    good = [accuracy[a] for a in planted if a.startswith("good")]
    bad = [accuracy[a] for a in planted if a.startswith("bad")]
    assert min(good) > max(bad)
    realised: dict[str, list[bool]] = {}
    for annotator, item, label in triples:
        realised.setdefault(annotator, []).append(label == truth[item])
    for annotator, value in accuracy.items():
        assert value == pytest.approx(np.mean(realised[annotator]), abs=0.05)

    vote = majority_vote(triples)
    best = result.best_labels()
    vote_accuracy = np.mean([vote[i] == truth[i] for i in range(len(truth))])
    model_accuracy = np.mean([best[i] == truth[i] for i in range(len(truth))])
    print(f"\nplanted annotators: majority vote {vote_accuracy:.3f}, Dawid–Skene {model_accuracy:.3f}")
    assert model_accuracy > vote_accuracy + 0.02
    assert np.allclose(result.posteriors.sum(axis=1), 1.0) and np.allclose(result.confusion.sum(axis=2), 1.0)
    assert result.answers.sum() == len(triples)


def test_dawid_skene_is_deterministic():
    triples, _, _ = planted_labels(seed=3, items=200)
    first, second = dawid_skene(triples), dawid_skene(list(triples))
    assert np.array_equal(first.posteriors, second.posteriors)
    assert np.array_equal(first.confusion, second.confusion) and first.iterations == second.iterations


def test_mace_ranks_planted_annotators():
    triples, truth, planted = planted_labels()
    result = mace(triples)
    competence = result.competence_by_annotator
    assert min(competence[a] for a in planted if a.startswith("good")) > max(
        competence[a] for a in planted if a.startswith("bad")
    )
    best = result.best_labels()
    vote = majority_vote(triples)
    assert np.mean([best[i] == truth[i] for i in range(len(truth))]) > np.mean(
        [vote[i] == truth[i] for i in range(len(truth))]
    )


def test_label_models_stay_finite_on_one_label_everywhere():
    triples = [(a, i, "tie") for a in "abc" for i in range(6)]
    for classes in (None, ["left", "right", "tie"]):
        for result in (dawid_skene(triples, classes=classes), mace(triples, classes=classes)):
            arrays = [
                result.posteriors,
                *(getattr(result, n) for n in ("priors", "confusion", "competence", "spam") if hasattr(result, n)),
            ]
            assert all(np.isfinite(a).all() for a in arrays)
            assert set(result.best_labels().values()) == {"tie"}
            assert math.isfinite(result.log_likelihood)
    assert dawid_skene(triples).accuracy == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_dawid_skene_confusion_rows_without_data_stay_uniform():
    # annotator "c" only ever saw items of class 0, so its rows for classes 1 and 2 have no data
    triples = [(a, i, i % 3) for a in "ab" for i in range(9)] + [("c", i, 0) for i in (0, 3, 6)]
    confusion = dawid_skene(triples).confusion[2]
    assert np.isfinite(confusion).all()
    assert np.allclose(confusion[1:], 1 / 3, atol=0.01)


def test_label_models_on_empty_input_and_unknown_labels():
    for result in (dawid_skene([]), mace([])):
        assert result.items == () and result.best_labels() == {} and result.converged
    with pytest.raises(CompetenceError, match="not one of the classes"):
        dawid_skene([("a", 1, "maybe")], classes=["yes", "no"])
    with pytest.raises(CompetenceError, match="smoothing"):
        dawid_skene([("a", 1, "yes")], smoothing=0)


def test_gold_accuracy_counts_and_tolerance():
    answers = [
        ("ann", "q1", 3.05),
        ("ann", "q2", "left"),
        ("ann", "q3", None),
        ("ann", "free", "x"),
        ("bob", "q1", 4),
        ("bob", "q2", "left"),
        ("bob", "q1", 3),
        ("cat", "free", "x"),
    ]
    gold = {"q1": 3, "q2": "left", "q3": 1}
    scores = gold_accuracy(answers, gold, tolerance=0.1)
    assert scores == {"ann": GoldScore("ann", 2, 3), "bob": GoldScore("bob", 2, 3)}
    assert gold_accuracy(answers, gold)["ann"].correct == 1  # 3.05 is not 3 without tolerance
    assert scores["ann"].accuracy == pytest.approx(2 / 3)


def test_flags_for_low_accuracy_and_fast_answers():
    scores = {"ann": GoldScore("ann", 9, 10), "bob": GoldScore("bob", 3, 10), "cat": GoldScore("cat", 0, 1)}
    flags = flag_low_accuracy(scores, threshold=0.7, min_answers=5)
    assert [(f.annotator, f.kind) for f in flags] == [("bob", "accuracy")]
    assert "0.30 (3/10)" in flags[0].reason
    model = flag_low_accuracy({"ann": 0.9, "bob": 0.5, "dan": None}, threshold=0.6, source="Dawid–Skene")
    assert [f.annotator for f in model] == ["bob"] and model[0].reason.startswith("Dawid–Skene accuracy 0.50")

    timings = [("ann", 1, 30.0), ("ann", 2, 2.0), ("bob", 1, 25.0), ("bob", 2, 8.0), ("cat", 1, 20)]
    fast = flag_fast_answers(timings, min_seconds=3)
    assert [(f.annotator, f.item) for f in fast] == [("ann", 2)]
    relative = flag_fast_answers(timings, median_fraction=0.5)  # median 20 s → under 10 s
    assert [(f.annotator, f.item) for f in relative] == [("ann", 2), ("bob", 2)]
    assert "median 20" in relative[1].reason
    both = flag_fast_answers(timings, min_seconds=3, median_fraction=0.5)
    assert " and " in both[0].reason and len(both) == 2
    assert flag_fast_answers([], min_seconds=1) == []
    with pytest.raises(CompetenceError):
        flag_fast_answers(timings)
    with pytest.raises(CompetenceError):
        flag_fast_answers([("ann", 1, -1.0)], min_seconds=1)
