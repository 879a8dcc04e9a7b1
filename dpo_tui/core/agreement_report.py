"""The agreement section of the report: every figure of `core.agreement`, per annotator pair and
overall, and a verdict in words against the 70% target."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

from pydantic import BaseModel

from dpo_tui.core.agreement import (
    ALPHA_ACCEPTABLE,
    DEFAULT_TARGET,
    ChosenAgreement,
    ComparedDirections,
    CriterionAgreement,
    CriterionPairAgreement,
    PairDirectionAgreement,
    Totals,
    Unit,
    choose,
    chosen_agreement_of_picks,
    compare_directions,
    criterion_agreement,
    criterion_pair_agreement,
    direction_agreement_of,
    pair_directions,
    scaled,
)
from dpo_tui.core.stats.coefficients import EPS, Level

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
    item_compared = {
        item: compare_directions(per_annotator) for item, per_annotator in directions.items()
    }
    item_chosen = {item: choose(item_totals[item], tolerance) for item in directions}
    pair_compared: dict[tuple[str, str], list[ComparedDirections]] = defaultdict(list)
    pair_chosen: dict[tuple[str, str], list[list[tuple[bool, bool]]]] = defaultdict(list)
    for item, per_annotator in directions.items():
        for pair in combinations(sorted(per_annotator), 2):
            if len(per_annotator) == 2:  # the item's figures are the pair's
                comparison, choice = item_compared[item], item_chosen[item]
            else:
                comparison = compare_directions({a: per_annotator[a] for a in pair})
                choice = choose({a: item_totals[item][a] for a in pair}, tolerance)
            pair_compared[pair].append(comparison)
            pair_chosen[pair].append(choice)
    criteria_units = {name: list(by_criterion[name].values()) for name in sorted(by_criterion)}
    pair_units: dict[tuple[str, str], dict[str, list[Unit]]] = defaultdict(
        lambda: {name: [] for name in criteria_units}
    )
    for name, units in criteria_units.items():
        by_scorers: dict[tuple[str, ...], list[Unit]] = defaultdict(list)
        for unit in units:
            by_scorers[tuple(unit)].append(unit)
        for scorers, group in by_scorers.items():  # a pair's figures count (x, y) pairs, so
            for pair in combinations(sorted(scorers), 2):  # the order of its units is moot
                pair_units[pair][name] += group
    scales: dict[str, list[float] | None] = {}
    if pair_items:  # once per criterion; as ever, values are only checked if a pair compares them
        scales = {
            name: scaled({v for u in units for v in u.values()})
            for name, units in criteria_units.items()
        }

    pairs: list[AnnotatorPairAgreement] = []
    for pair in sorted(pair_items):
        direction_figures = direction_agreement_of(pair_compared[pair])
        pairs.append(
            AnnotatorPairAgreement(
                annotators=pair,
                shared_items=pair_items[pair],
                pair_direction=direction_figures,
                chosen=chosen_agreement_of_picks(pair_chosen[pair]),
                criteria=[
                    criterion_pair_agreement(name, units, *pair, scales[name])
                    for name, units in pair_units[pair].items()
                ],
                meets_target=_meets(direction_figures.percent, target),
            )
        )
    direction_figures = direction_agreement_of(item_compared.values())
    chosen = chosen_agreement_of_picks(item_chosen.values())
    criteria = [criterion_agreement(name, units, level) for name, units in criteria_units.items()]
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
    return None if percent is None else percent >= target - EPS


def _percent(value: float, target: float) -> str:
    """A whole percentage, or one decimal where rounding would blur the comparison with target."""
    text = f"{value:.0%}"
    if text == f"{target:.0%}" and abs(value - target) > EPS:
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
        side = "meets" if directions.percent >= target - EPS else "is below"
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
