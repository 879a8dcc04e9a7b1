"""Agreement of annotators on preference data, on items two or more of them scored:

- pair direction: do two annotators order each pair of candidates the same way (">", "=", "<")?
- chosen: do they pick the same best candidate?
- per criterion: Krippendorff's alpha of each criterion's scores, and its pair directions.

The coefficients themselves are in `core.stats.coefficients`; the pydantic models here turn an
undefined (NaN) figure into `None`. `agreement_report` (in `core.agreement_report`) combines
them, per annotator pair and overall.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal, NamedTuple

from pydantic import BaseModel

from dpo_tui.core.stats.coefficients import (
    EPS,
    LEVELS,
    Level,
    alpha_of_coincidences,
    coincidences,
    fleiss_kappa_from_ratings,
    kappa_of_counts,
    krippendorff_alpha,
    paired_counts,
    share_agreed,
)

Direction = Literal[">", "=", "<"]
DIRECTIONS: tuple[Direction, ...] = (">", "=", "<")
DEFAULT_TARGET = 0.70
"""The project's target: annotators agree on at least 70% of candidate pairs."""
ALPHA_ACCEPTABLE = 0.667
"""Krippendorff's lowest alpha for tentative conclusions (0.800 for firm ones)."""

Totals = Mapping[str, float | None]
"""candidate id -> weighted total of one annotator (None: not fully scored, left out)"""

_FLIP: dict[Direction, Direction] = {">": "<", "=": "=", "<": ">"}


# -- Preferences: pair direction and chosen candidate ---------------------------------------------


def direction(x: float, y: float, tolerance: float = 0.0) -> Direction:
    """ ">" if x beats y, "<" if y beats x, "=" if they differ by less than `tolerance`.

    Pass the rubric's `pairs.min_margin` as `tolerance` to make "=" mean exactly what
    `extract_pairs` treats as a tie (same 1e-9 float slack); with 0, only equal totals tie.
    """
    gap = x - y
    if abs(gap) < max(tolerance - EPS, EPS):
        return "="
    return ">" if gap > 0 else "<"


def pair_directions(totals: Totals, tolerance: float = 0.0) -> dict[tuple[str, str], Direction]:
    """The direction of every candidate pair (first id < second id) of one annotator's totals;
    candidates whose total is None are left out."""
    known = {c: t for c, t in totals.items() if t is not None}
    return {
        (i, j): direction(known[i], known[j], tolerance) for i, j in combinations(sorted(known), 2)
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
    a = {c: t for c, t in first.items() if t is not None}
    b = {c: t for c, t in second.items() if t is not None}
    both = a.keys() & b.keys()
    return {c: a[c] for c in both}, {c: b[c] for c in both}


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
    return direction_agreement_of(
        compare_directions({a: pair_directions(t, tolerance) for a, t in item.items()})
        for item in items
    )


_ItemDirections = Mapping[str, Mapping[tuple[str, str], Direction]]
"""annotator -> `pair_directions` of that annotator's totals for one item"""


class ComparedDirections(NamedTuple):
    """One item's pair directions, compared."""

    pairs: list[tuple[Direction, Direction]]
    """(first's, second's) direction of each candidate pair two annotators both totalled"""
    units: list[list[Direction | None]]
    """for alpha: every annotator's direction of each candidate pair, and its mirror image"""


def compare_directions(per_annotator: _ItemDirections) -> ComparedDirections:
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
    return ComparedDirections(pairs, units)


def direction_agreement_of(items: Iterable[ComparedDirections]) -> PairDirectionAgreement:
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
        kappa=_finite(kappa_of_counts(both_ways, None, DIRECTIONS)),
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
    return chosen_agreement_of_picks(choose(item, tolerance) for item in items)


def choose(item: ItemTotals, tolerance: float) -> list[tuple[bool, bool]]:
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


def chosen_agreement_of_picks(items: Iterable[list[tuple[bool, bool]]]) -> ChosenAgreement:
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


def scaled(values: Iterable[float]) -> list[float] | None:
    """Every integer from the lowest to the highest value, or None if a value is not integral."""
    distinct = set(values)
    if not distinct or any(float(v) != int(v) for v in distinct):
        return None
    return list(range(int(min(distinct)), int(max(distinct)) + 1))


def _alphas(units: Iterable[Iterable[float | None]]) -> dict[Level, float | None]:
    counted = coincidences(units)
    return {level: _finite(alpha_of_coincidences(counted, level)) for level in LEVELS}


Unit = Mapping[str, float]
"""annotator -> score, for one (item, candidate) of one criterion"""


def criterion_pair_agreement(
    criterion: str, shared: Sequence[Unit], first: str, second: str, scale: list[float] | None
) -> CriterionPairAgreement:
    """`shared`: the units both annotators scored; `scale`: `scaled` of the whole criterion."""
    a = [u[first] for u in shared]
    b = [u[second] for u in shared]
    pairs = paired_counts(a, b)
    return CriterionPairAgreement(
        criterion=criterion,
        units=len(shared),
        percent=_finite(share_agreed(pairs)),
        percent_within_one=_finite(share_agreed(pairs, within=1)),
        kappa=_finite(kappa_of_counts(pairs, None, None)),
        kappa_linear=_finite(kappa_of_counts(pairs, "linear", scale)),
        kappa_quadratic=_finite(kappa_of_counts(pairs, "quadratic", scale)),
        alpha=_alphas(zip(a, b, strict=True)),
    )


def criterion_agreement(criterion: str, units: Sequence[Unit], level: Level) -> CriterionAgreement:
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
