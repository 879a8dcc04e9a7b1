"""A report card per annotator: how much and how fast they worked, how often they match the
lead's gold items, how well they agree with the others, their own biases, the quality of their
diagnoses, and how that drifts week by week; warnings that name the annotator and the number
("carol: 41% of items faster than it takes to read them; gold accuracy 50%, team 85%").

Pasted diagnoses are found with `core.dedup.near_duplicate_pairs` (rapidfuzz, blocked).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from pydantic import BaseModel

from dpo_tui.core.agreement import direction, pair_directions, top_candidates
from dpo_tui.core.dedup import near_duplicate_pairs
from dpo_tui.core.ids import normalize_text
from dpo_tui.core.models import Flag, Rubric
from dpo_tui.core.pairs import extract_pairs
from dpo_tui.core.scoring import total

READING_CHARS_PER_SECOND = 50.0
"""Faster than this over an item's candidates (about 600 words a minute, a fast skim), an
item was not read."""
FAST_SHARE_OF_TEAM_MEDIAN = 0.25
"""An item done in under this share of the team's median time per item was not read either."""
SHORT_DIAGNOSIS = 20
"""Characters below which a diagnosis says nothing a pair does not."""
PASTED_SIMILARITY = 0.9
"""Two diagnoses of one annotator this similar (on different items) were pasted."""
WARN_FAST_SHARE = 0.2
WARN_GOLD_GAP = 0.15
"""Gold accuracy this far below the team's warrants a warning."""
WARN_AGREEMENT_GAP = 0.15
WARN_BIAS_GAP = 0.15
WARN_PASTED_SHARE = 0.2
MIN_ITEMS = 5
"""Fewer items than this behind a figure: it is shown but gives no warning."""


@dataclass(frozen=True)
class GoldReference:
    """The lead's reference for a gold item: the expected pair, optional reference scores."""

    prompt_id: str
    chosen_id: str
    rejected_id: str
    scores: Mapping[str, Mapping[str, int]]
    """candidate id -> criterion -> reference value (may be empty)"""
    explanation: str


@dataclass(frozen=True)
class WorkedItem:
    """One annotator's work on one item."""

    prompt_id: str
    annotator: str
    candidates: Sequence[str]
    """the item's candidate ids, in the order they were added"""
    scores: Mapping[str, Mapping[str, int]]
    flags: Sequence[Flag]
    display_order: Sequence[str]
    seconds_spent: float
    diagnosis: str
    updated_at: str


@dataclass(frozen=True)
class CardInput:
    items: Sequence[WorkedItem]
    lengths: Mapping[str, int]
    """candidate id -> response length in characters"""
    gold: Mapping[str, GoldReference]


class GoldFigures(BaseModel):
    items: int
    same_chosen: float | None
    same_direction: float | None
    mean_distance: dict[str, float]
    """criterion -> mean absolute difference from the reference scores (points)"""


class WeekFigures(BaseModel):
    week: str
    items: int
    gold_same_direction: float | None
    agreement: float | None


class AnnotatorCard(BaseModel):
    annotator: str
    items: int
    hours: float
    median_seconds: float | None
    p10_seconds: float | None
    too_fast: float | None
    """share of timed items done faster than reading their candidates allows"""
    gold: GoldFigures
    agreement: float | None
    """pair-direction agreement with every other annotator on the items they share"""
    shared_items: int
    longer_chosen: float | None
    first_shown_chosen: float | None
    empty_diagnoses: float | None
    short_diagnoses: float | None
    pasted_diagnoses: float | None
    weeks: list[WeekFigures]
    warnings: list[str]


class AnnotatorCards(BaseModel):
    """One card per annotator, and the team's figures to read them against."""

    cards: list[AnnotatorCard]
    team: AnnotatorCard


@dataclass
class _Tally:
    """Counts toward one annotator's (or the team's) card."""

    items: int = 0
    seconds: float = 0.0
    times: list[float] | None = None
    too_fast: int = 0
    timed: int = 0
    gold_items: int = 0
    gold_chosen: int = 0
    gold_direction: int = 0
    distances: dict[str, list[int]] | None = None
    agreed: int = 0
    compared: int = 0
    shared: int = 0
    pairs: int = 0
    longer: int = 0
    first: int = 0
    diagnosed: int = 0
    empty: int = 0
    short: int = 0
    pasted: int = 0

    def __post_init__(self) -> None:
        self.times = []
        self.distances = defaultdict(list)

    def add(self, other: _Tally) -> None:
        """Count `other`'s counts in too."""
        for name, value in vars(other).items():
            if name == "times":
                assert self.times is not None and other.times is not None
                self.times += other.times
            elif name == "distances":
                assert self.distances is not None and other.distances is not None
                for key, values in other.distances.items():
                    self.distances[key] += values
            else:
                setattr(self, name, getattr(self, name) + value)


def annotator_cards(rubric: Rubric, data: CardInput) -> AnnotatorCards:
    """Every annotator's card, the team's, and warnings in plain words."""
    by_prompt: dict[str, dict[str, WorkedItem]] = defaultdict(dict)
    for item in data.items:
        by_prompt[item.prompt_id][item.annotator] = item
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    team = _Tally()
    weekly: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    median_all = _median([i.seconds_spent for i in data.items if i.seconds_spent > 0])
    for item in data.items:
        one = _Tally()
        _count_item(one, item, rubric, data, median_all)
        for tally in (tallies[item.annotator], team, weekly[(item.annotator, _week(item))]):
            tally.add(one)
    for others in by_prompt.values():
        if len(others) < 2:
            continue
        totals = {name: _totals(rubric, item) for name, item in others.items()}
        directions = {
            name: pair_directions(t, rubric.pairs.min_margin) for name, t in totals.items()
        }
        for first, second in combinations(sorted(others), 2):
            common = directions[first].keys() & directions[second].keys()
            agreed = sum(directions[first][p] == directions[second][p] for p in common)
            for name in (first, second):
                week = weekly[(name, _week(others[name]))]
                for tally in (tallies[name], team, week):
                    tally.agreed += agreed
                    tally.compared += len(common)
        team.shared += 1
        for name in others:
            tallies[name].shared += 1
    for name, items in _by_annotator(data.items).items():
        pasted = _pasted(items)
        tallies[name].pasted = pasted
        team.pasted += pasted
    cards = [_card(name, tallies[name], _weeks(name, weekly)) for name in sorted(tallies)]
    team_card = _card("team", team, [])
    for card in cards:
        card.warnings = _warnings(card, team_card)
    return AnnotatorCards(cards=cards, team=team_card)


def _week(item: WorkedItem) -> str:
    try:
        year, week, _ = datetime.fromisoformat(item.updated_at).isocalendar()
    except ValueError:
        return "unknown"
    return f"{year}-W{week:02d}"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _totals(rubric: Rubric, item: WorkedItem) -> dict[str, float | None]:
    return {cid: total(rubric, item.scores.get(cid, {})) for cid in item.candidates}


def _count_item(
    tally: _Tally,
    item: WorkedItem,
    rubric: Rubric,
    data: CardInput,
    team_median: float | None,
) -> None:
    assert tally.times is not None and tally.distances is not None
    tally.items += 1
    tally.seconds += item.seconds_spent
    if item.seconds_spent > 0:
        tally.times.append(item.seconds_spent)
        tally.timed += 1
        reading = sum(data.lengths.get(c, 0) for c in item.candidates) / READING_CHARS_PER_SECOND
        floor = FAST_SHARE_OF_TEAM_MEDIAN * team_median if team_median else 0.0
        if item.seconds_spent < max(reading, floor):
            tally.too_fast += 1
    table = [(cid, item.scores.get(cid, {})) for cid in item.candidates]
    outcome = extract_pairs(rubric, table, item.flags)
    for pair in outcome.pairs:
        tally.pairs += 1
        if data.lengths.get(pair.chosen, 0) > data.lengths.get(pair.rejected, 0):
            tally.longer += 1
        if item.display_order and item.display_order[0] == pair.chosen:
            tally.first += 1
    if outcome.pairs or item.diagnosis.strip() or item.scores:
        tally.diagnosed += 1
        text = item.diagnosis.strip()
        if not text:
            tally.empty += 1
        elif len(text) < SHORT_DIAGNOSIS:
            tally.short += 1
    gold = data.gold.get(item.prompt_id)
    if gold is not None:
        totals = _totals(rubric, item)
        chosen, rejected = totals.get(gold.chosen_id), totals.get(gold.rejected_id)
        if chosen is not None and rejected is not None:
            tally.gold_items += 1
            tally.gold_chosen += top_candidates(totals) == {gold.chosen_id}
            tally.gold_direction += direction(chosen, rejected) == ">"
        for cid, reference in gold.scores.items():
            given = item.scores.get(cid, {})
            for key, value in reference.items():
                if key in given:
                    tally.distances[key].append(abs(given[key] - value))


def _by_annotator(items: Sequence[WorkedItem]) -> dict[str, list[WorkedItem]]:
    found: dict[str, list[WorkedItem]] = defaultdict(list)
    for item in items:
        found[item.annotator].append(item)
    return found


def _pasted(items: Sequence[WorkedItem]) -> int:
    """Items whose diagnosis is the same (once normalized: case, spacing) as, or nearly the
    same as, that of another of the annotator's items. The same texts are grouped first, so
    the near-duplicate search runs over distinct texts only (a pasted text repeated on
    thousands of items is one text)."""
    groups: dict[str, int] = defaultdict(int)
    for item in items:
        text = normalize_text(item.diagnosis)
        if len(text) >= SHORT_DIAGNOSIS:
            groups[text] += 1
    distinct = list(groups)
    near: set[int] = set()
    for pair in near_duplicate_pairs(distinct, PASTED_SIMILARITY):
        near |= {pair.first, pair.second}
    return sum(count for index, count in enumerate(groups.values()) if count >= 2 or index in near)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _card(name: str, t: _Tally, weeks: list[WeekFigures]) -> AnnotatorCard:
    assert t.times is not None and t.distances is not None
    times = sorted(t.times)
    return AnnotatorCard(
        annotator=name,
        items=t.items,
        hours=round(t.seconds / 3600, 2),
        median_seconds=_median(times),
        p10_seconds=times[int(0.1 * (len(times) - 1))] if times else None,
        too_fast=_share(t.too_fast, t.timed),
        gold=GoldFigures(
            items=t.gold_items,
            same_chosen=_share(t.gold_chosen, t.gold_items),
            same_direction=_share(t.gold_direction, t.gold_items),
            mean_distance={k: statistics.fmean(v) for k, v in sorted(t.distances.items()) if v},
        ),
        agreement=_share(t.agreed, t.compared),
        shared_items=t.shared,
        longer_chosen=_share(t.longer, t.pairs),
        first_shown_chosen=_share(t.first, t.pairs),
        empty_diagnoses=_share(t.empty, t.diagnosed),
        short_diagnoses=_share(t.short, t.diagnosed),
        pasted_diagnoses=_share(t.pasted, t.diagnosed),
        weeks=weeks,
        warnings=[],
    )


def _weeks(name: str, weekly: Mapping[tuple[str, str], _Tally]) -> list[WeekFigures]:
    return [
        WeekFigures(
            week=week,
            items=t.items,
            gold_same_direction=_share(t.gold_direction, t.gold_items),
            agreement=_share(t.agreed, t.compared),
        )
        for (who, week), t in sorted(weekly.items())
        if who == name
    ]


def _warnings(card: AnnotatorCard, team: AnnotatorCard) -> list[str]:
    """Plain words, the annotator and the number first; nothing on too few items."""
    found: list[str] = []
    name = card.annotator
    if card.too_fast is not None and card.items >= MIN_ITEMS and card.too_fast >= WARN_FAST_SHARE:
        found.append(
            f"{name}: {card.too_fast:.0%} of items done faster than it takes to read their "
            f"candidates (median {card.median_seconds or 0:.0f} s an item, team "
            f"{team.median_seconds or 0:.0f} s)"
        )
    gold, team_gold = card.gold.same_direction, team.gold.same_direction
    if (
        gold is not None
        and team_gold is not None
        and card.gold.items >= MIN_ITEMS
        and gold <= team_gold - WARN_GOLD_GAP
    ):
        found.append(
            f"{name}: gold accuracy {gold:.0%} on {card.gold.items} gold items, "
            f"team {team_gold:.0%}"
        )
    if (
        card.agreement is not None
        and team.agreement is not None
        and card.shared_items >= MIN_ITEMS
        and card.agreement <= team.agreement - WARN_AGREEMENT_GAP
    ):
        found.append(
            f"{name}: agrees with the others on {card.agreement:.0%} of pair directions, team "
            f"{team.agreement:.0%} ({card.shared_items} shared items)"
        )
    for label, mine, theirs in (
        ("chooses the longer response", card.longer_chosen, team.longer_chosen),
        ("chooses the response shown first", card.first_shown_chosen, team.first_shown_chosen),
    ):
        if (
            mine is not None
            and theirs is not None
            and card.items >= MIN_ITEMS
            and abs(mine - theirs) >= WARN_BIAS_GAP
        ):
            found.append(f"{name}: {label} in {mine:.0%} of pairs, team {theirs:.0%}")
    if (
        card.pasted_diagnoses is not None
        and card.items >= MIN_ITEMS
        and card.pasted_diagnoses >= WARN_PASTED_SHARE
    ):
        found.append(
            f"{name}: {card.pasted_diagnoses:.0%} of diagnoses are near copies of another of "
            "theirs (pasted)"
        )
    empty = (card.empty_diagnoses or 0) + (card.short_diagnoses or 0)
    if card.items >= MIN_ITEMS and empty >= WARN_PASTED_SHARE:
        found.append(
            f"{name}: {empty:.0%} of diagnoses are empty or under {SHORT_DIAGNOSIS} characters"
        )
    return found
