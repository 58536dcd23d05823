"""Inter-annotator agreement: Krippendorff's α, Cohen's κ, Fleiss' κ and pairwise percent agreement.

Data come as a *reliability matrix* — one row per unit (item), one column per coder (annotator), one value per
cell and NaN (or None) where the coder did not code the unit — or as ``(unit, coder, value)`` triples, which
:func:`reliability_matrix` turns into one (labels such as ``"left"``/``"right"``/``"tie"`` become codes). Note the
orientation: Krippendorff's papers print coders as rows; here units are rows.

Every coefficient returns an :class:`Agreement`. A coefficient the data leave undefined comes back as
``value=None`` with a ``reason``; NaN never comes out. The cases, and what each function answers:

- empty input, fewer than 2 coders, or no unit coded by 2 or more coders: nothing is pairable, ``value=None``;
- a unit coded by one coder only: not pairable, dropped (it counts in ``n_units``, not in ``n_pairable``);
- missing values: skipped; a unit keeps whatever values it has;
- one single value used on every pairable unit (so all coders agree everywhere, on one category): the expected
  disagreement is 0 and α = 1 − D_o/D_e is 0/0. Following Krippendorff (2011), data without variation cannot show
  reliability, so α (and κ, whose chance agreement is then 1) is ``None``, not 1.0. Percent agreement is 1.0 there:
  it is a plain share and stays defined;
- coders identical on every unit but using two or more values: D_o = 0 < D_e, α = 1.0 (and κ = 1.0).

Malformed input — not two-dimensional, a value that is not a number in a matrix, an infinite value, an unknown level
of measurement, a negative value on a ratio scale — raises :class:`AgreementError`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from scipy import sparse

LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = (None, "linear", "quadratic")


class AgreementError(ValueError):
    """Input the agreement functions cannot read: bad shape, non-numeric matrix value, unknown level or weights."""


@dataclass(frozen=True)
class Agreement:
    """One coefficient.

    ``value`` is a finite float, or None when the data leave the coefficient undefined (``reason`` says why).
    ``n_units``: units in the input; ``n_pairable``: units that entered the computation (coded by 2+ coders, or by
    both coders for Cohen's κ); ``n_values``: the values in those units.
    """

    value: float | None
    n_units: int
    n_pairable: int
    n_values: int
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class ReliabilityData:
    """A reliability matrix with the names of its rows and columns.

    ``matrix[u, c]`` is the value coder ``coders[c]`` gave unit ``units[u]`` (NaN: not coded). When the values were
    labels, ``labels`` holds them and the matrix holds each label's index in it (so ordinal data follow its order).
    """

    matrix: np.ndarray
    units: tuple[Hashable, ...]
    coders: tuple[Hashable, ...]
    labels: tuple[Hashable, ...] | None = None

    def column(self, coder: Hashable) -> np.ndarray:
        """One coder's values, unit by unit (NaN where not coded): the input :func:`cohen_kappa` takes."""
        return self.matrix[:, self.coders.index(coder)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _ordered(values: Iterable[Hashable]) -> list[Hashable]:
    distinct = set(values)
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=lambda v: (type(v).__name__, str(v)))


def reliability_matrix(
    triples: Iterable[tuple[Hashable, Hashable, Any]],
    *,
    labels: Sequence[Hashable] | None = None,
    duplicates: str = "error",
) -> ReliabilityData:
    """Turn ``(unit, coder, value)`` triples into a :class:`ReliabilityData` (units and coders in first-seen order).

    Missing values (None, NaN) are skipped. Values that are all numbers stay numbers. Otherwise they are labels:
    coded by their index in ``labels`` when given (its order is the ordinal order; a value not in it is an error),
    else in sorted order. A coder giving the same unit two values is an error unless ``duplicates`` is ``"first"``
    or ``"last"`` (which one to keep).
    """
    if duplicates not in ("error", "first", "last"):
        raise AgreementError(f"duplicates must be 'error', 'first' or 'last', not {duplicates!r}")
    units: dict[Hashable, int] = {}
    coders: dict[Hashable, int] = {}
    cells: dict[tuple[int, int], Any] = {}
    for unit, coder, value in triples:
        u = units.setdefault(unit, len(units))
        c = coders.setdefault(coder, len(coders))
        if _missing(value):
            continue
        if (u, c) in cells:
            if duplicates == "error" and cells[(u, c)] != value:
                raise AgreementError(f"coder {coder!r} gave unit {unit!r} two values: {cells[(u, c)]!r} and {value!r}")
            if duplicates == "first":
                continue
        cells[(u, c)] = value
    if labels is None and all(_is_number(v) for v in cells.values()):
        codes = {v: float(v) for v in cells.values()}
        names = None
    else:
        names = tuple(labels) if labels is not None else tuple(_ordered(cells.values()))
        codes = {name: float(i) for i, name in enumerate(names)}
        unknown = [v for v in cells.values() if v not in codes]
        if unknown:
            raise AgreementError(f"value {unknown[0]!r} is not one of the labels {list(names)!r}")
    matrix = np.full((len(units), len(coders)), np.nan)
    for (u, c), value in cells.items():
        matrix[u, c] = codes[value]
    if not np.all(np.isfinite(matrix[~np.isnan(matrix)])):
        raise AgreementError("values must be finite numbers")
    return ReliabilityData(matrix, tuple(units), tuple(coders), names)


def _matrix(data: ReliabilityData | Any) -> tuple[np.ndarray, tuple | None]:
    labels = data.labels if isinstance(data, ReliabilityData) else None
    raw = data.matrix if isinstance(data, ReliabilityData) else data
    try:
        matrix = np.array(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AgreementError(
            "a reliability matrix holds numbers (NaN or None where missing); use reliability_matrix() for labels"
        ) from exc
    if matrix.size == 0 and matrix.ndim != 2:
        return matrix.reshape(0, 0), labels
    if matrix.ndim != 2:
        raise AgreementError(f"a reliability matrix is 2-D (units × coders), not {matrix.ndim}-D")
    if np.isinf(matrix).any():
        raise AgreementError("a reliability matrix cannot hold infinite values")
    return matrix, labels


def _level(level: str, labels: tuple | None) -> str:
    if level not in LEVELS:
        raise AgreementError(f"unknown level of measurement {level!r}; one of {', '.join(LEVELS)}")
    if labels is not None and level in ("interval", "ratio"):
        raise AgreementError(f"{level} data must be numbers; these values are labels")
    return level


def _value_counts(matrix: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Units × values table of how many coders gave each unit each value, and the sorted values."""
    present = ~np.isnan(matrix)
    values = np.unique(matrix[present])
    rows, _ = np.nonzero(present)
    columns = np.searchsorted(values, matrix[present])
    table = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(matrix.shape[0], len(values)), dtype=float)
    return table, values


def _pairable(matrix: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """The value counts of the units with 2+ values, restricted to the values they use; and their unit sizes."""
    table, values = _value_counts(matrix)
    sizes = np.asarray(table.sum(axis=1)).ravel()
    keep = sizes >= 2
    table = table[keep]
    used = np.asarray(table.sum(axis=0)).ravel() > 0
    return table[:, used], values[used], sizes[keep]


def coincidences(matrix: ReliabilityData | Any) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix ``o[c, k]`` over the pairable units, and the values ``c`` it is indexed by.

    ``o[c, k] = Σ_u (n_uc·n_uk − [c = k]·n_uc) / (m_u − 1)``, with ``n_uc`` the number of coders who gave unit ``u``
    value ``c`` and ``m_u`` the number of values in unit ``u``; each pairable value contributes 1 in all, so the
    total is the number of pairable values ``n``. Memory is O(V²) in the number of distinct values.
    """
    table, values, sizes = _pairable(_matrix(matrix)[0])
    return _coincidences(table, sizes), values


def _coincidences(table: sparse.csr_matrix, sizes: np.ndarray) -> np.ndarray:
    weights = 1.0 / (sizes - 1.0)
    weighted = sparse.diags(weights) @ table
    o = (table.T @ weighted).toarray()
    o -= np.diag(np.asarray(weighted.sum(axis=0)).ravel())
    return o


def _distances(values: np.ndarray, totals: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's squared difference δ²(c, k) between every two values, for one level of measurement."""
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ratio":
        if (values < 0).any():
            raise AgreementError("ratio data cannot be negative")
        total = values[:, None] + values[None, :]
        difference = values[:, None] - values[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (difference / np.where(total > 0, total, 1.0)) ** 2, 0.0)
    # ordinal: (Σ_{g=c..k} n_g − (n_c + n_k)/2)², from the marginal frequencies n_g of the ranked values
    index = np.arange(len(values))
    low = np.minimum(index[:, None], index[None, :])
    high = np.maximum(index[:, None], index[None, :])
    cumulative = np.concatenate([[0.0], np.cumsum(totals)])
    between = cumulative[high + 1] - cumulative[low]
    return (between - (totals[:, None] + totals[None, :]) / 2.0) ** 2


def _pairable_units(matrix: np.ndarray) -> tuple[tuple | None, Agreement | None]:
    """The pairable units' value counts, values and sizes (see :func:`_pairable`), or an Agreement saying why none."""
    n_units, n_coders = matrix.shape
    if n_units == 0:
        return None, Agreement(None, 0, 0, 0, "no units")
    if n_coders < 2:
        return None, Agreement(None, n_units, 0, 0, "fewer than 2 coders, so no unit has a pair of values")
    table, values, sizes = _pairable(matrix)
    if len(sizes) == 0:
        return None, Agreement(None, n_units, 0, 0, "no unit was coded by 2 or more coders")
    return (table, values, sizes), None


def krippendorff_alpha(data: ReliabilityData | Any, level: str = "nominal") -> Agreement:
    """Krippendorff's α = 1 − D_o/D_e through the coincidence matrix (Krippendorff 2011).

    ``data``: a units × coders matrix (NaN = missing) or a :class:`ReliabilityData`; ``level``: ``nominal``,
    ``ordinal``, ``interval`` or ``ratio``. Units with fewer than 2 values are not pairable and are dropped. The
    ordinal distance uses the marginal frequencies of the ranked values, not rank differences. With ``n_c`` the
    totals of the coincidence matrix ``o`` and ``n`` their sum::

        α = 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck

    ``value`` is None when nothing is pairable or when every pairable value is the same (no variation: D_e = 0).
    """
    matrix, labels = _matrix(data)
    level = _level(level, labels)
    pairable, undefined = _pairable_units(matrix)
    if undefined:
        return undefined
    table, values, sizes = pairable
    n_units, n_pairable, n_values = matrix.shape[0], len(sizes), int(sizes.sum())
    if len(values) < 2:
        value = labels[int(values[0])] if labels else float(values[0])
        return Agreement(
            None,
            n_units,
            n_pairable,
            n_values,
            f"no variation: every pairable value is {value!r}, so the expected disagreement is 0 and α is undefined",
        )
    o = _coincidences(table, sizes)
    totals = o.sum(axis=1)
    delta = _distances(values, totals, level)
    observed = float((o * delta).sum())
    expected = float((np.outer(totals, totals) * delta).sum())
    if expected <= 0:
        return Agreement(None, n_units, n_pairable, n_values, "the expected disagreement is 0, so α is undefined")
    return Agreement(1.0 - (n_values - 1) * observed / expected, n_units, n_pairable, n_values)


def percent_agreement(data: ReliabilityData | Any) -> Agreement:
    """Pairwise percent agreement: of all pairs of coders' values on the same unit, the share that are equal.

    Pairs are pooled over units, so a unit coded by m coders weighs m(m − 1)/2 pairs. Units with fewer than 2 values
    are dropped. Defined (1.0) when everyone used one value; None when nothing is pairable.
    """
    matrix, _ = _matrix(data)
    pairable, undefined = _pairable_units(matrix)
    if undefined:
        return undefined
    table, _, sizes = pairable
    agreeing = float((table.multiply(table) - table).sum()) / 2.0
    pairs = float((sizes * (sizes - 1)).sum()) / 2.0
    return Agreement(agreeing / pairs, matrix.shape[0], len(sizes), int(sizes.sum()))


def cohen_kappa(
    first: Sequence[Any],
    second: Sequence[Any],
    *,
    weights: str | None = None,
    categories: Sequence[Hashable] | None = None,
) -> Agreement:
    """Cohen's κ between two coders, over the units both coded.

    ``first[u]`` and ``second[u]`` are the two coders' values on unit ``u`` (None or NaN where not coded); numbers
    or labels. ``weights``: None (nominal), ``"linear"`` or ``"quadratic"`` (ordinal; the disagreement weight of
    categories i and j is |i − j|/(K − 1), or its square, by their positions in the ordered ``categories``, which
    default to the sorted values seen). κ = 1 − Σ w·observed / Σ w·expected, the expected table being the product of
    the two coders' marginals. None when no unit was coded by both, or when both coders used one and the same
    category throughout (chance agreement 1, so κ is 0/0).
    """
    if weights not in WEIGHTS:
        raise AgreementError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    if len(first) != len(second):
        raise AgreementError(f"the two coders' sequences differ in length: {len(first)} and {len(second)}")
    n_units = len(first)
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if not _missing(a) and not _missing(b)]
    if not pairs:
        return Agreement(None, n_units, 0, 0, "no unit was coded by both coders")
    seen = [v for pair in pairs for v in pair]
    if categories is None:
        if weights is not None and not all(_is_number(v) for v in seen):
            raise AgreementError("weighted κ needs ordered categories: pass categories= for labels")
        categories = _ordered(seen)
    position = {c: i for i, c in enumerate(categories)}
    unknown = [v for v in seen if v not in position]
    if unknown:
        raise AgreementError(f"value {unknown[0]!r} is not one of the categories {list(categories)!r}")
    k = len(categories)
    observed = np.zeros((k, k))
    for a, b in pairs:
        observed[position[a], position[b]] += 1
    observed /= len(pairs)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        steps = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]) / max(k - 1, 1)
        w = steps if weights == "linear" else steps**2
    used = set(seen)
    if len(used) == 1:
        return Agreement(
            None,
            n_units,
            len(pairs),
            2 * len(pairs),
            f"both coders used {seen[0]!r} on every unit: chance agreement is 1 and κ is undefined",
        )
    return Agreement(
        1.0 - float((w * observed).sum()) / float((w * expected).sum()), n_units, len(pairs), 2 * len(pairs)
    )


def category_counts(data: ReliabilityData | Any) -> tuple[np.ndarray, np.ndarray]:
    """Units × categories table of how many coders put each unit in each category, and the categories (sorted)."""
    matrix, _ = _matrix(data)
    if matrix.shape[1] == 0:
        return np.zeros((matrix.shape[0], 0)), np.zeros(0)
    table, values = _value_counts(matrix)
    return table.toarray(), values


def fleiss_kappa(data: ReliabilityData | Any, *, raters: int | None = None) -> Agreement:
    """Fleiss' κ from a units × coders matrix (NaN = missing); see :func:`fleiss_kappa_from_counts`."""
    counts, _ = category_counts(data)
    return fleiss_kappa_from_counts(counts, raters=raters)


def fleiss_kappa_from_counts(counts: Any, *, raters: int | None = None) -> Agreement:
    """Fleiss' κ from a units × categories table of rating counts (Fleiss 1971).

    Fleiss' κ assumes every unit was rated by the same number of raters. Units with fewer than 2 ratings are not
    pairable and are dropped. If the remaining units' counts differ, this raises :class:`AgreementError` rather than
    use one of the varying-count variants: pass ``raters=n`` to use only the units with exactly ``n`` ratings, or use
    :func:`krippendorff_alpha`, which takes any number of coders per unit. None when nothing is pairable, or when one
    category holds every rating (chance agreement 1, κ is 0/0).
    """
    try:
        table = np.array(counts, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AgreementError("a count table holds non-negative whole numbers") from exc
    if table.size == 0:
        return Agreement(None, table.shape[0] if table.ndim == 2 else 0, 0, 0, "no units")
    if table.ndim != 2:
        raise AgreementError(f"a count table is 2-D (units × categories), not {table.ndim}-D")
    if not np.all(np.isfinite(table)) or (table < 0).any() or (table != np.round(table)).any():
        raise AgreementError("a count table holds non-negative whole numbers")
    n_units = table.shape[0]
    sizes = table.sum(axis=1)
    if raters is not None:
        if raters < 2:
            raise AgreementError("raters must be 2 or more")
        keep = sizes == raters
    else:
        keep = sizes >= 2
        found = sorted({int(s) for s in sizes[keep]})
        if len(found) > 1:
            raise AgreementError(
                f"Fleiss' κ needs the same number of raters on every unit; found {found}: pass raters=n to use only "
                "the units with n ratings, or use krippendorff_alpha, which takes any number per unit"
            )
    table = table[keep]
    if len(table) == 0:
        what = f"exactly {raters}" if raters is not None else "2 or more"
        return Agreement(None, n_units, 0, 0, f"no unit has {what} ratings")
    n = float(table[0].sum())
    n_values = int(table.sum())
    shares = table.sum(axis=0) / table.sum()
    if np.count_nonzero(shares) == 1:
        return Agreement(
            None,
            n_units,
            len(table),
            n_values,
            "every rating is in one category: chance agreement is 1 and κ is undefined",
        )
    per_unit = ((table * (table - 1)).sum(axis=1)) / (n * (n - 1))
    observed = float(per_unit.mean())
    chance = float((shares**2).sum())
    return Agreement((observed - chance) / (1.0 - chance), n_units, len(table), n_values)
