"""Inter-annotator agreement on items scored by two or more annotators.

Coefficients (pure Python, following the published definitions):

- `percent_agreement`: share of items both annotators rated on which they agree.
- `cohen_kappa` / `cohen_kappa_from_table`: Cohen's kappa (1960), unweighted or with linear or
  quadratic disagreement weights (Cohen 1968).
- `fleiss_kappa` / `fleiss_kappa_from_ratings`: Fleiss' kappa (1971) for a fixed number of
  ratings per subject.
- `krippendorff_alpha`: Krippendorff's alpha for nominal, ordinal, interval and ratio data, with
  missing values (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

Preference-specific figures:

- pair direction: do two annotators order each pair of candidates the same way (">", "=", "<")?
- chosen: do they pick the same best candidate?

`agreement_report` combines all of these, per annotator pair and overall, into an
`AgreementReport` with a verdict in words against the 70% target.

Conventions. A missing value is `None` (or a float NaN); the coefficient functions return
`float("nan")` where a coefficient is undefined (nothing to compare, or chance agreement is
already perfect, e.g. both annotators always gave the same single value: 0/0), as scikit-learn,
statsmodels and R's irr do; the pydantic models turn NaN into `None`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal, NamedTuple

from pydantic import BaseModel

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
Weights = Literal["linear", "quadratic"]
Direction = Literal[">", "=", "<"]
DIRECTIONS: tuple[Direction, ...] = (">", "=", "<")
DEFAULT_TARGET = 0.70
"""The project's target: annotators agree on at least 70% of candidate pairs."""
ALPHA_ACCEPTABLE = 0.667
"""Krippendorff's lowest alpha for tentative conclusions (0.800 for firm ones)."""

Totals = Mapping[str, float | None]
"""candidate id -> weighted total of one annotator (None: not fully scored, left out)"""

_EPS = 1e-9
_NAN = float("nan")
_FLIP: dict[Direction, Direction] = {">": "<", "=": "=", "<": ">"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


_PairCounts = Mapping[tuple[Hashable, Hashable], int]
"""(rater A's value, rater B's value) -> number of items rated so"""


def _paired(a: Sequence[Hashable], b: Sequence[Hashable]) -> Counter[tuple[Hashable, Hashable]]:
    if len(a) != len(b):
        raise ValueError(f"the two raters have {len(a)} and {len(b)} ratings; they must match")
    counts = Counter(zip(a, b, strict=True))
    return Counter(
        {(x, y): n for (x, y), n in counts.items() if not _missing(x) and not _missing(y)}
    )


def _ordered(values: Iterable[Hashable]) -> list[Hashable]:
    distinct = set(values)
    try:
        return sorted(distinct)  # type: ignore[type-var]
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
    return _share_agreed(_paired(a, b), within)


def _share_agreed(pairs: _PairCounts, within: float = 0.0) -> float:
    rated = sum(pairs.values())
    if not rated:
        return _NAN
    if within:
        agreed = sum(n for (x, y), n in pairs.items() if abs(x - y) <= within + _EPS)  # type: ignore[operator]
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
    return _kappa(_paired(a, b), weights, categories)


def _kappa(
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
    return (p_bar - p_e) / (1 - p_e)


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
    numbers = [float(v) for v in values]  # type: ignore[arg-type]
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
    return _alpha(_coincidences(reliability_data), level)


class _Coincidences(NamedTuple):
    values: list[Hashable]
    """the distinct pairable values, sorted"""
    matrix: list[list[float]]


def _coincidences(units: Iterable[Iterable[Hashable]]) -> _Coincidences:
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


def _alpha(coincidences: _Coincidences, level: Level) -> float:
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


# -- Preferences: pair direction and chosen candidate ---------------------------------------------


def direction(x: float, y: float, tolerance: float = 0.0) -> Direction:
    """ ">" if x beats y, "<" if y beats x, "=" if they differ by less than `tolerance`.

    Pass the rubric's `pairs.min_margin` as `tolerance` to make "=" mean exactly what
    `extract_pairs` treats as a tie (same 1e-9 float slack); with 0, only equal totals tie.
    """
    gap = x - y
    if abs(gap) < max(tolerance - _EPS, _EPS):
        return "="
    return ">" if gap > 0 else "<"


def pair_directions(totals: Totals, tolerance: float = 0.0) -> dict[tuple[str, str], Direction]:
    """The direction of every candidate pair (first id < second id) of one annotator's totals;
    candidates whose total is None are left out."""
    ids = sorted(c for c, t in totals.items() if t is not None)
    return {
        (i, j): direction(totals[i], totals[j], tolerance)  # type: ignore[arg-type]
        for i, j in combinations(ids, 2)
    }


def top_candidates(totals: Totals, tolerance: float = 0.0) -> frozenset[str]:
    """The best candidate, or every candidate tied with it (within `tolerance`); empty if none
    is totalled."""
    scored = {c: t for c, t in totals.items() if t is not None}
    if not scored:
        return frozenset()
    best = max(scored.values())
    return frozenset(c for c, t in scored.items() if direction(best, t, tolerance) == "=")


ItemTotals = Mapping[str, Totals]
"""annotator -> that annotator's totals for one item"""


def _common(first: Totals, second: Totals) -> tuple[dict[str, float], dict[str, float]]:
    both = {c for c, t in first.items() if t is not None} & {
        c for c, t in second.items() if t is not None
    }
    return (
        {c: first[c] for c in both},  # type: ignore[misc]
        {c: second[c] for c in both},  # type: ignore[misc]
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


class PairDirectionAgreement(BaseModel):
    """Do annotators order candidate pairs the same way (">", "=", "<")?

    Counted per item, annotator pair and candidate pair both annotators totalled. `kappa` is
    Cohen's kappa over the three labels with each pair counted in both orientations (A vs B and
    B vs A), so it does not depend on the order of candidate ids; `alpha` is Krippendorff's
    nominal alpha on the same units with every annotator as a coder (the figure to use with 3+
    annotators). None where undefined.
    """

    items: int
    """items with at least one candidate pair compared"""
    pairs: int
    agreed: int
    reversed: int
    """pairs one annotator orders ">" and the other "<": contradictory preference pairs"""
    percent: float | None
    kappa: float | None
    alpha: float | None


def pair_direction_agreement(
    items: Iterable[ItemTotals], tolerance: float = 0.0
) -> PairDirectionAgreement:
    """Pair-direction agreement over `items`, each {annotator: {candidate id: total}}.

    Every pair of annotators of an item compares the candidates both totalled (annotators in
    sorted order; with more than two annotators the counts and kappa pool all their pairs).
    """
    return _direction_agreement(
        _compare({a: pair_directions(t, tolerance) for a, t in item.items()}) for item in items
    )


_ItemDirections = Mapping[str, Mapping[tuple[str, str], Direction]]
"""annotator -> `pair_directions` of that annotator's totals for one item"""


class _Compared(NamedTuple):
    """One item's pair directions, compared."""

    pairs: list[tuple[Direction, Direction]]
    """(first's, second's) direction of each candidate pair two annotators both totalled"""
    units: list[list[Direction | None]]
    """for alpha: every annotator's direction of each candidate pair, and its mirror image"""


def _compare(per_annotator: _ItemDirections) -> _Compared:
    directions = [per_annotator[a] for a in sorted(per_annotator)]
    pairs = [
        (x, dir_b[key])
        for dir_a, dir_b in combinations(directions, 2)
        for key, x in dir_a.items()
        if key in dir_b
    ]
    units: list[list[Direction | None]] = []
    for key in sorted(set().union(*directions)):
        row = [d.get(key) for d in directions]
        units += (row, [None if d is None else _FLIP[d] for d in row])
    return _Compared(pairs, units)


def _direction_agreement(items: Iterable[_Compared]) -> PairDirectionAgreement:
    compared: Counter[tuple[Direction, Direction]] = Counter()
    units: list[list[Direction | None]] = []
    counted_items = 0
    for item in items:
        compared.update(item.pairs)
        counted_items += bool(item.pairs)
        units += item.units
    pairs = sum(compared.values())
    agreed = sum(n for (x, y), n in compared.items() if x == y)
    both_ways = compared + Counter({(_FLIP[x], _FLIP[y]): n for (x, y), n in compared.items()})
    return PairDirectionAgreement(
        items=counted_items,
        pairs=pairs,
        agreed=agreed,
        reversed=compared[">", "<"] + compared["<", ">"],
        percent=agreed / pairs if pairs else None,
        kappa=_finite(_kappa(both_ways, None, DIRECTIONS)),
        alpha=_finite(krippendorff_alpha(units, "nominal")),
    )


class ChosenAgreement(BaseModel):
    """Do annotators pick the same best candidate?

    One comparison per item and annotator pair with 2+ candidates totalled by both. Ties are
    explicit: each annotator's top is the set of candidates tied for best (within the
    tolerance), and the annotators agree only if the sets are equal, so "A" vs "A or B tied"
    is a disagreement. `with_ties` counts comparisons where either top has 2+ candidates.
    """

    items: int
    comparisons: int
    agreed: int
    with_ties: int
    percent: float | None


def chosen_agreement(items: Iterable[ItemTotals], tolerance: float = 0.0) -> ChosenAgreement:
    """Chosen-candidate agreement over `items`, each {annotator: {candidate id: total}}."""
    return _chosen_agreement(_choose(item, tolerance) for item in items)


def _choose(item: ItemTotals, tolerance: float) -> list[tuple[bool, bool]]:
    """(same top, either tied) for each pair of annotators of `item` with 2+ candidates both
    totalled."""
    compared = []
    for first, second in combinations(sorted(item), 2):
        totals_a, totals_b = _common(item[first], item[second])
        if len(totals_a) >= 2:
            top_a = top_candidates(totals_a, tolerance)
            top_b = top_candidates(totals_b, tolerance)
            compared.append((top_a == top_b, len(top_a) > 1 or len(top_b) > 1))
    return compared


def _chosen_agreement(items: Iterable[list[tuple[bool, bool]]]) -> ChosenAgreement:
    counted_items = comparisons = agreed = with_ties = 0
    for compared in items:
        counted_items += bool(compared)
        comparisons += len(compared)
        agreed += sum(same for same, _ in compared)
        with_ties += sum(tied for _, tied in compared)
    return ChosenAgreement(
        items=counted_items,
        comparisons=comparisons,
        agreed=agreed,
        with_ties=with_ties,
        percent=agreed / comparisons if comparisons else None,
    )


# -- Per criterion ------------------------------------------------------------------------------


class CriterionPairAgreement(BaseModel):
    """One criterion, one annotator pair, over the candidates both scored."""

    criterion: str
    units: int
    """(item, candidate) units both annotators scored"""
    percent: float | None
    """exact agreement"""
    percent_within_one: float | None
    """scores at most one point apart"""
    kappa: float | None
    kappa_linear: float | None
    kappa_quadratic: float | None
    alpha: dict[Level, float | None]


class CriterionAgreement(BaseModel):
    """One criterion, every annotator: units are (item, candidate), coders are annotators."""

    criterion: str
    units: int
    """units scored by 2+ annotators"""
    level: Level
    alpha: float | None
    """Krippendorff's alpha at `level` (ordinal by default: integer rubric scales are ordered)"""
    alpha_by_level: dict[Level, float | None]
    percent: float | None
    """share of agreeing pairs among all pairs of scores given to the same unit"""
    fleiss_kappa: float | None
    """over the units every annotator scored; None with fewer than 3 annotators"""
    fleiss_units: int


def _scale(values: Iterable[float]) -> list[float] | None:
    """Every integer from the lowest to the highest value, or None if a value is not integral."""
    distinct = set(values)
    if not distinct or any(float(v) != int(v) for v in distinct):
        return None
    return list(range(int(min(distinct)), int(max(distinct)) + 1))


def _alphas(units: Iterable[Iterable[float | None]]) -> dict[Level, float | None]:
    coincidences = _coincidences(units)
    return {level: _finite(_alpha(coincidences, level)) for level in LEVELS}


_Unit = Mapping[str, float]
"""annotator -> score, for one (item, candidate) of one criterion"""


def _criterion_pair(
    criterion: str, shared: Sequence[_Unit], first: str, second: str, scale: list[float] | None
) -> CriterionPairAgreement:
    """`shared`: the units both annotators scored; `scale`: `_scale` of the whole criterion."""
    a = [u[first] for u in shared]
    b = [u[second] for u in shared]
    pairs = _paired(a, b)
    return CriterionPairAgreement(
        criterion=criterion,
        units=len(shared),
        percent=_finite(_share_agreed(pairs)),
        percent_within_one=_finite(_share_agreed(pairs, within=1)),
        kappa=_finite(_kappa(pairs, None, None)),
        kappa_linear=_finite(_kappa(pairs, "linear", scale)),
        kappa_quadratic=_finite(_kappa(pairs, "quadratic", scale)),
        alpha=_alphas(zip(a, b, strict=True)),
    )


def _criterion(criterion: str, units: Sequence[_Unit], level: Level) -> CriterionAgreement:
    coders = sorted({a for u in units for a in u})
    rows = [tuple(u.values()) for u in units]
    comparisons = agreeing = 0
    for row, n in Counter(rows).items():
        for x, y in combinations(row, 2):
            comparisons += n
            agreeing += n * (x == y)
    alphas = _alphas(rows)
    fleiss: float | None = None
    fleiss_units = 0
    if len(coders) >= 3:
        everyone = [[u[c] for c in coders] for u in units if len(u) == len(coders)]
        fleiss_units = sum(1 for row in everyone if None not in row)
        fleiss = _finite(fleiss_kappa_from_ratings(everyone))
    return CriterionAgreement(
        criterion=criterion,
        units=sum(1 for row in rows if len(row) >= 2),
        level=level,
        alpha=alphas[level],
        alpha_by_level=alphas,
        percent=agreeing / comparisons if comparisons else None,
        fleiss_kappa=fleiss,
        fleiss_units=fleiss_units,
    )


# -- Report -------------------------------------------------------------------------------------


class ScoreRecord(NamedTuple):
    """One score: `annotator` gave `value` on `criterion` to candidate `candidate_id` of item
    `item_id`. Plain 5-tuples in this order work too."""

    item_id: str
    candidate_id: str
    annotator: str
    criterion: str
    value: float


class AnnotatorPairAgreement(BaseModel):
    """Two annotators, over the items both scored."""

    annotators: tuple[str, str]
    shared_items: int
    pair_direction: PairDirectionAgreement
    chosen: ChosenAgreement
    criteria: list[CriterionPairAgreement]
    meets_target: bool | None
    """pair-direction agreement >= target; None if it cannot be measured"""


class AgreementReport(BaseModel):
    """Agreement overall (every annotator pair pooled) and per annotator pair."""

    target: float
    tolerance: float
    annotators: list[str]
    shared_items: int
    """items scored or totalled by 2+ annotators"""
    pair_direction: PairDirectionAgreement
    chosen: ChosenAgreement
    criteria: list[CriterionAgreement]
    annotator_pairs: list[AnnotatorPairAgreement]
    """pairs of annotators with at least one shared item"""
    meets_target: bool | None
    verdict: str


def agreement_report(
    scores: Iterable[ScoreRecord | tuple[str, str, str, str, float]],
    totals: Mapping[tuple[str, str], Totals],
    *,
    target: float = DEFAULT_TARGET,
    tolerance: float = 0.0,
    level: Level = "ordinal",
) -> AgreementReport:
    """Every agreement figure for some annotated data, and a verdict against `target`.

    `scores`: (item_id, candidate_id, annotator, criterion, value) records, one per score;
    a repeated (item, candidate, annotator, criterion) with another value is a ValueError.
    `totals`: {(item_id, annotator): {candidate_id: total or None}}, each candidate's weighted
    total for that annotator (e.g. `scoring.total`); pair direction and chosen use these, the
    per-criterion figures use `scores`. `tolerance`: totals closer than this are a tie ("=");
    pass the rubric's `pairs.min_margin` to match pair extraction. `level`: the alpha level
    reported as each criterion's `alpha` (all four are in `alpha_by_level`).
    Items with a single annotator count nowhere; no shared item gives a report of empty
    figures whose verdict says so.
    """
    by_criterion: dict[str, dict[tuple[str, str], dict[str, float]]] = defaultdict(dict)
    annotators_of: dict[str, set[str]] = defaultdict(set)
    for item_id, candidate_id, annotator, criterion, value in scores:
        unit = by_criterion[criterion].setdefault((item_id, candidate_id), {})
        if annotator in unit and unit[annotator] != value:
            raise ValueError(
                f"{annotator} scored {criterion} of candidate {candidate_id} (item {item_id}) "
                f"twice: {unit[annotator]} and {value}"
            )
        unit[annotator] = value
        annotators_of[item_id].add(annotator)
    item_totals: dict[str, dict[str, Totals]] = defaultdict(dict)
    for (item_id, annotator), candidate_totals in totals.items():
        item_totals[item_id][annotator] = candidate_totals
        annotators_of[item_id].add(annotator)
    shared = sorted(item for item, who in annotators_of.items() if len(who) >= 2)
    annotators = sorted({a for who in annotators_of.values() for a in who})
    # Index everything by annotator pair once, so that each pair only touches what it shares.
    pair_items: Counter[tuple[str, str]] = Counter()
    for item in shared:
        pair_items.update(combinations(sorted(annotators_of[item]), 2))
    directions = {
        item: {a: pair_directions(t, tolerance) for a, t in item_totals[item].items()}
        for item in shared
        if item in item_totals
    }
    item_compared = {item: _compare(per_annotator) for item, per_annotator in directions.items()}
    item_chosen = {item: _choose(item_totals[item], tolerance) for item in directions}
    pair_compared: dict[tuple[str, str], list[_Compared]] = defaultdict(list)
    pair_chosen: dict[tuple[str, str], list[list[tuple[bool, bool]]]] = defaultdict(list)
    for item, per_annotator in directions.items():
        for pair in combinations(sorted(per_annotator), 2):
            if len(per_annotator) == 2:  # the item's figures are the pair's
                comparison, choice = item_compared[item], item_chosen[item]
            else:
                comparison = _compare({a: per_annotator[a] for a in pair})
                choice = _choose({a: item_totals[item][a] for a in pair}, tolerance)
            pair_compared[pair].append(comparison)
            pair_chosen[pair].append(choice)
    criteria_units = {name: list(by_criterion[name].values()) for name in sorted(by_criterion)}
    pair_units: dict[tuple[str, str], dict[str, list[_Unit]]] = defaultdict(
        lambda: {name: [] for name in criteria_units}
    )
    for name, units in criteria_units.items():
        by_scorers: dict[tuple[str, ...], list[_Unit]] = defaultdict(list)
        for unit in units:
            by_scorers[tuple(unit)].append(unit)
        for scorers, group in by_scorers.items():  # a pair's figures count (x, y) pairs, so
            for pair in combinations(sorted(scorers), 2):  # the order of its units is moot
                pair_units[pair][name] += group
    scales: dict[str, list[float] | None] = {}
    if pair_items:  # once per criterion; as ever, values are only checked if a pair compares them
        scales = {
            name: _scale({v for u in units for v in u.values()})
            for name, units in criteria_units.items()
        }

    pairs: list[AnnotatorPairAgreement] = []
    for pair in sorted(pair_items):
        direction_figures = _direction_agreement(pair_compared[pair])
        pairs.append(
            AnnotatorPairAgreement(
                annotators=pair,
                shared_items=pair_items[pair],
                pair_direction=direction_figures,
                chosen=_chosen_agreement(pair_chosen[pair]),
                criteria=[
                    _criterion_pair(name, units, *pair, scales[name])
                    for name, units in pair_units[pair].items()
                ],
                meets_target=_meets(direction_figures.percent, target),
            )
        )
    direction_figures = _direction_agreement(item_compared.values())
    chosen = _chosen_agreement(item_chosen.values())
    criteria = [_criterion(name, units, level) for name, units in criteria_units.items()]
    return AgreementReport(
        target=target,
        tolerance=tolerance,
        annotators=annotators,
        shared_items=len(shared),
        pair_direction=direction_figures,
        chosen=chosen,
        criteria=criteria,
        annotator_pairs=pairs,
        meets_target=_meets(direction_figures.percent, target),
        verdict=_verdict(len(shared), direction_figures, chosen, criteria, target, level),
    )


def _meets(percent: float | None, target: float) -> bool | None:
    return None if percent is None else percent >= target - _EPS


def _percent(value: float, target: float) -> str:
    """A whole percentage, or one decimal where rounding would blur the comparison with target."""
    text = f"{value:.0%}"
    if text == f"{target:.0%}" and abs(value - target) > _EPS:
        text = f"{value:.1%}"
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _verdict(
    shared: int,
    directions: PairDirectionAgreement,
    chosen: ChosenAgreement,
    criteria: Sequence[CriterionAgreement],
    target: float,
    level: Level,
) -> str:
    goal = f"{target:.0%} target"
    if not shared:
        return (
            f"no item was scored by two or more annotators, so agreement cannot be measured "
            f"against the {goal}: have a second annotator score about 20% of items"
        )
    if directions.percent is None:
        parts = [
            f"pair-direction agreement cannot be measured against the {goal}: no candidate "
            f"pair of the {_count(shared, 'shared item')} was totalled by two annotators"
        ]
    else:
        side = "meets" if directions.percent >= target - _EPS else "is below"
        kappa = "" if directions.kappa is None else f"kappa {directions.kappa:.2f}, "
        parts = [
            f"pair-direction agreement {_percent(directions.percent, target)} {side} the {goal} "
            f"({kappa}{_count(directions.pairs, 'candidate pair')} on "
            f"{_count(directions.items, 'item')})"
        ]
        if directions.reversed:
            parts.append(
                f"{_count(directions.reversed, 'pair')} ordered in opposite directions "
                "(contradictory preferences)"
            )
    if chosen.percent is not None:
        parts.append(
            f"the same best candidate in {chosen.percent:.0%} of "
            f"{_count(chosen.comparisons, 'comparison')}"
        )
    measured = [(c.alpha, c.criterion) for c in criteria if c.alpha is not None]
    if measured:
        alpha, name = min(measured)
        note = (
            f" (below {ALPHA_ACCEPTABLE}: tighten its guidance)" if alpha < ALPHA_ACCEPTABLE else ""
        )
        parts.append(f"weakest criterion {name}: {level} alpha {alpha:.2f}{note}")
    return "; ".join(parts)
