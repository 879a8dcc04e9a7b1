"""Agreement coefficients (pure Python, following the published definitions):

- `percent_agreement`: share of items both annotators rated on which they agree.
- `cohen_kappa` / `cohen_kappa_from_table`: Cohen's kappa (1960), unweighted or with linear or
  quadratic disagreement weights (Cohen 1968).
- `fleiss_kappa` / `fleiss_kappa_from_ratings`: Fleiss' kappa (1971) for a fixed number of
  ratings per subject.
- `krippendorff_alpha`: Krippendorff's alpha for nominal, ordinal, interval and ratio data, with
  missing values (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

Conventions. A missing value is `None` (or a float NaN); a function returns `float("nan")`
where a coefficient is undefined (nothing to compare, or chance agreement is already perfect,
e.g. both annotators always gave the same single value: 0/0), as scikit-learn, statsmodels and
R's irr do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
Weights = Literal["linear", "quadratic"]
EPS = 1e-9
_NAN = float("nan")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


_PairCounts = Mapping[tuple[Any, Any], int]
"""(rater A's value, rater B's value) -> number of items rated so"""


def paired_counts(
    a: Sequence[Hashable], b: Sequence[Hashable]
) -> Counter[tuple[Hashable, Hashable]]:
    if len(a) != len(b):
        raise ValueError(f"the two raters have {len(a)} and {len(b)} ratings; they must match")
    counts = Counter(zip(a, b, strict=True))
    return Counter(
        {(x, y): n for (x, y), n in counts.items() if not _missing(x) and not _missing(y)}
    )


def _ordered(values: Iterable[Any]) -> list[Any]:
    distinct = set(values)
    try:
        return sorted(distinct)
    except TypeError:  # unorderable nominal labels: any fixed order will do
        return sorted(distinct, key=repr)


def _categories(given: Sequence[Hashable] | None, observed: Iterable[Hashable]) -> list[Hashable]:
    if given is None:
        return _ordered(observed)
    categories = list(given)
    if len(set(categories)) != len(categories):
        raise ValueError("categories must not repeat")
    unknown = set(observed) - set(categories)
    if unknown:
        raise ValueError(f"values {_ordered(unknown)} are not among the categories")
    return categories


# -- Two raters ---------------------------------------------------------------------------------


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable], within: float = 0.0) -> float:
    """Share (0..1) of the items rated by both on which `a` and `b` agree; NaN if there are none.

    `a[i]` and `b[i]` are the two ratings of item i; items where either is missing are left
    out. With `within` > 0 (numeric ratings), ratings at most that far apart agree: `within=1`
    is the "adjacent agreement" often quoted for 1-5 scales.
    """
    return share_agreed(paired_counts(a, b), within)


def share_agreed(pairs: _PairCounts, within: float = 0.0) -> float:
    rated = sum(pairs.values())
    if not rated:
        return _NAN
    if within:  # numeric ratings
        agreed = sum(n for (x, y), n in pairs.items() if abs(x - y) <= within + EPS)
    else:
        agreed = sum(n for (x, y), n in pairs.items() if x == y)
    return agreed / rated


def _disagreement_weight(i: int, j: int, weights: Weights | None) -> int:
    if weights is None:
        return int(i != j)
    if weights == "linear":
        return abs(i - j)
    if weights == "quadratic":
        return (i - j) ** 2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")


def cohen_kappa_from_table(
    table: Sequence[Sequence[float]], weights: Weights | None = None
) -> float:
    """Cohen's kappa from a k x k contingency table (rows: rater A's category, columns: B's).

    kappa = 1 - sum(w * observed) / sum(w * expected), expected from the product of the
    marginals, with disagreement weights w(i, j) = [i != j] (unweighted, Cohen 1960), |i - j|
    ("linear") or (i - j)^2 ("quadratic", Cohen 1968), i and j being category positions.
    NaN if the table is empty or the expected disagreement is 0 (both raters used one and the
    same category throughout).
    """
    k = len(table)
    if any(len(row) != k for row in table):
        raise ValueError("the contingency table must be square")
    n = sum(sum(row) for row in table)
    if n == 0:
        return _NAN
    rows = [sum(row) for row in table]
    cols = [sum(table[i][j] for i in range(k)) for j in range(k)]
    observed = 0.0
    expected = 0.0
    for i in range(k):
        for j in range(k):
            w = _disagreement_weight(i, j, weights)
            observed += w * table[i][j]
            expected += w * rows[i] * cols[j]
    if expected == 0:
        return _NAN
    return 1 - n * observed / expected


def cohen_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    weights: Weights | None = None,
    categories: Sequence[Hashable] | None = None,
) -> float:
    """Cohen's kappa of two raters; `a[i]`, `b[i]` rate item i; NaN if undefined.

    Items where either rating is missing are left out. `categories` gives the ordered list of
    possible values (required to contain every rating, else ValueError); by default it is the
    sorted values the two raters used, as in scikit-learn and R's irr. Weights use category
    positions, so for an integer scale with unused points inside the range pass the full scale
    (e.g. `range(1, 6)`) to weight by scale distance. Unused points at either end change nothing.
    """
    return kappa_of_counts(paired_counts(a, b), weights, categories)


def kappa_of_counts(
    pairs: _PairCounts, weights: Weights | None, categories: Sequence[Hashable] | None
) -> float:
    cats = _categories(categories, [v for pair in pairs for v in pair])
    index = {c: i for i, c in enumerate(cats)}
    table = [[0] * len(cats) for _ in cats]
    for (x, y), n in pairs.items():
        table[index[x]][index[y]] += n
    return cohen_kappa_from_table(table, weights)


# -- Many raters --------------------------------------------------------------------------------


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from a subjects x categories table of counts (how many raters put subject i
    in category j). Every subject must have the same number n >= 2 of ratings (ValueError
    otherwise); the raters need not be the same people. NaN if there are no subjects or every
    rating falls in one category (chance agreement 1).
    """
    rows = [list(row) for row in table]
    if not rows:
        return _NAN
    n = sum(rows[0])
    if any(sum(row) != n for row in rows):
        raise ValueError("Fleiss' kappa needs the same number of ratings for every subject")
    if n < 2:
        raise ValueError("Fleiss' kappa needs at least two ratings per subject")
    subjects = len(rows)
    p_bar = sum((sum(x * x for x in row) - n) / (n * (n - 1)) for row in rows) / subjects
    totals = [sum(col) for col in zip(*rows, strict=True)]
    if sum(t * t for t in totals) == (subjects * n) ** 2:
        return _NAN
    p_e = sum((t / (subjects * n)) ** 2 for t in totals)
    return float((p_bar - p_e) / (1 - p_e))


def fleiss_kappa_from_ratings(
    ratings: Sequence[Sequence[Hashable]], categories: Sequence[Hashable] | None = None
) -> float:
    """Fleiss' kappa from a units x raters matrix (`ratings[u][r]`: rater r's value for unit u).

    Fleiss' definition needs the same number of ratings per unit, so units with a missing value
    are dropped (listwise, as R's `irr::kappam.fleiss` does); NaN if none is left. Krippendorff's
    alpha uses every pairable value instead.
    """
    complete = [list(unit) for unit in ratings if not any(_missing(v) for v in unit)]
    if not complete:
        return _NAN
    cats = _categories(categories, [v for unit in complete for v in unit])
    index = {c: i for i, c in enumerate(cats)}
    table = [[0] * len(cats) for _ in complete]
    for row, unit in zip(table, complete, strict=True):
        for value in unit:
            row[index[value]] += 1
    return fleiss_kappa(table)


def _delta(level: Level, values: list[Hashable], marginals: list[float]) -> list[list[float]]:
    """Krippendorff's squared difference function delta^2(c, k) over the sorted values."""
    size = len(values)
    if level == "nominal":
        return [[float(i != j) for j in range(size)] for i in range(size)]
    if level == "ordinal":
        cumulative = [0.0]
        for count in marginals:
            cumulative.append(cumulative[-1] + count)
        table = [[0.0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                between = cumulative[j + 1] - cumulative[i] - (marginals[i] + marginals[j]) / 2
                table[i][j] = table[j][i] = between**2
        return table
    numbers = [float(v) for v in values]  # type: ignore[arg-type]  # interval/ratio: numbers
    if level == "interval":
        return [[(c - k) ** 2 for k in numbers] for c in numbers]
    if level == "ratio":
        if any(v < 0 for v in numbers):
            raise ValueError("ratio data cannot be negative")
        return [[((c - k) / (c + k)) ** 2 if c + k else 0.0 for k in numbers] for c in numbers]
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")


def krippendorff_alpha(
    reliability_data: Sequence[Sequence[Hashable]], level: Level = "nominal"
) -> float:
    """Krippendorff's alpha = 1 - D_o / D_e of a units x coders matrix (`data[u][c]`: coder c's
    value for unit u; rows may differ in length; None or NaN is missing).

    As Krippendorff (2011) defines it: only pairable values count (a unit with fewer than two
    values is dropped), each unit's m_u values add 1/(m_u - 1) to the coincidence matrix per
    ordered pair, and the difference function is nominal ([c != k]), ordinal (squared count of
    the values ranked from c to k, halving both ends, from the pooled value frequencies),
    interval ((c - k)^2) or ratio (((c - k) / (c + k))^2). Returns 1.0 when the coders never
    disagree but used 2+ values, NaN when nothing is pairable or only one value occurs (D_e = 0;
    the `krippendorff` package raises an error there).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    return alpha_of_coincidences(coincidences(reliability_data), level)


class _Coincidences(NamedTuple):
    values: list[Hashable]
    """the distinct pairable values, sorted"""
    matrix: list[list[float]]


def coincidences(units: Iterable[Iterable[Hashable]]) -> _Coincidences:
    """Krippendorff's coincidence matrix of the pairable values of `units` (built once, it
    serves every level).

    Identical units are added at once (count x increment) when every increment 1/(m_u - 1) is
    a power of two, as with two or three values per unit, for then every sum is exact; else one
    unit at a time, in order, to round exactly as adding them up one by one does.
    """
    rows = [tuple(unit) for unit in units]
    profiles = Counter(rows)
    pairable: dict[tuple[Hashable, ...], list[Hashable]] = {}
    for row in profiles:
        present = [v for v in row if not _missing(v)]
        if len(present) >= 2:
            pairable[row] = present
    exact = all((len(unit) - 1) & (len(unit) - 2) == 0 for unit in pairable.values())
    values = _ordered(v for unit in pairable.values() for v in unit)
    index = {v: i for i, v in enumerate(values)}
    matrix = [[0.0] * len(values) for _ in values]
    added = (
        ((unit, profiles[row]) for row, unit in pairable.items())
        if exact
        else ((pairable[row], 1) for row in rows if row in pairable)
    )
    for unit, times in added:
        counts = Counter(index[v] for v in unit)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                matrix[c][k] += times * (n_c * (n_k - (c == k)) / (len(unit) - 1))
    return _Coincidences(values, matrix)


def alpha_of_coincidences(coincidences: _Coincidences, level: Level) -> float:
    values, matrix = coincidences
    if not values:
        return _NAN
    size = len(values)
    marginals = [sum(row) for row in matrix]
    n = sum(marginals)
    delta = _delta(level, values, marginals)
    observed = sum(matrix[c][k] * delta[c][k] for c in range(size) for k in range(size))
    expected = sum(
        marginals[c] * marginals[k] * delta[c][k] for c in range(size) for k in range(size)
    ) / (n - 1)
    if expected == 0:
        return _NAN
    return 1 - observed / expected
