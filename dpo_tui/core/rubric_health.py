"""Rubric health: per criterion, whether annotators apply it alike, whether it separates
responses, whether it decides pairs, whether it repeats another criterion or mostly rewards
length, and where annotators disagree on it; each weakness said as plain advice with the number
behind it ("safety: alpha 0.52 and 93% of scores are 3: its scale does not separate
responses; give its guidance examples of 1 and 2").

The correlations (Pearson's r between criteria; Spearman's rho against response length) are
`core.stats.correlation`'s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel

from dpo_tui.core.agreement import ALPHA_ACCEPTABLE, criterion_agreement
from dpo_tui.core.models import Criterion, Rubric
from dpo_tui.core.pairs import ProjectPair
from dpo_tui.core.stats.correlation import pearson, spearman

ALPHA_GOOD = 0.8
"""Krippendorff's alpha for firm conclusions (`ALPHA_ACCEPTABLE` for tentative ones)."""
TOP_SHARE_WARNING = 0.8
"""A share of one score above which a scale is said not to separate responses."""
REDUNDANT_ABOVE = 0.9
"""Two criteria correlated above this are said to be redundant."""
LENGTH_ABOVE = 0.5
"""A criterion correlated with response length above this is said to reward length."""
FLAT_WITHIN_PROMPT = 0.25
"""A mean spread (standard deviation, in scale points) of a criterion over the candidates of
one prompt below which it is said not to separate them."""
DECIDES_BELOW = 0.05
"""A criterion deciding fewer pairs than this share is said to add little."""
DISPUTED_GAP = 1.0
"""A mean gap (points) between annotators on disputed items from which it is advice."""
MIN_UNITS = 20
"""Fewer scores (pairs, items) than this: a figure is shown, but gives no advice."""

AlphaStatus = Literal["good", "acceptable", "low"]


@dataclass(frozen=True)
class HealthInput:
    """What rubric health is computed from: every annotator's cards (as they count under
    the current rubric version), the candidates' lengths, and the project's pairs."""

    cards: Mapping[tuple[str, str], Mapping[str, Mapping[str, int]]]
    """(prompt id, annotator) -> candidate id -> criterion -> value"""
    lengths: Mapping[str, int]
    """candidate id -> response length in characters"""
    pairs: Sequence[ProjectPair]


class CriterionHealth(BaseModel):
    """Every figure of one criterion, and the advice they lead to."""

    key: str
    label: str
    weight: float
    scores: int
    alpha: float | None
    """Krippendorff's alpha (ordinal) over the candidates scored by 2+ annotators"""
    alpha_units: int
    alpha_status: AlphaStatus | None
    top_value: int | None
    top_share: float | None
    """share of the most common score"""
    within_prompt_spread: float | None
    """mean standard deviation of its scores over one prompt's candidates (points)"""
    spread_items: int
    decides_share: float | None
    """share of exportable pairs where it makes the largest weighted difference (or vetoes)"""
    correlations: dict[str, float | None]
    """other criterion -> Pearson's r over the cards scoring both"""
    length_correlation: float | None
    """Spearman's rho between its scores and the response's length"""
    disputed_gap: float | None
    """mean gap (max - min, points) between annotators on candidates of disputed items"""
    disputed_units: int
    advice: list[str]


class RubricHealth(BaseModel):
    """Rubric health of a project: one entry per criterion of its current rubric."""

    rubric: str
    version: int
    exportable_pairs: int
    criteria: list[CriterionHealth]

    @property
    def low_alpha(self) -> list[CriterionHealth]:
        """Criteria whose alpha is below `ALPHA_ACCEPTABLE`."""
        return [c for c in self.criteria if c.alpha_status == "low"]


@dataclass
class _Table:
    """Every card as a row of a matrix (NaN: not scored), with its item, candidate and
    annotator: built once, each figure then computed in numpy."""

    values: np.ndarray
    """cards x criteria"""
    items: np.ndarray
    """per card: the number of its (prompt, annotator) item"""
    lengths: np.ndarray
    """per card: its candidate's length (NaN: unknown)"""
    candidates: list[str]
    annotators: list[str]
    prompts: list[str]

    @classmethod
    def of(cls, keys: Sequence[str], data: HealthInput) -> _Table:
        rows: dict[int, tuple[float, ...]] = {}  # cards are shared dicts: each made once
        values, items, candidates, annotators, prompts = [], [], [], [], []
        nan = float("nan")
        for number, ((pid, annotator), item) in enumerate(data.cards.items()):
            for cid, card in item.items():
                row = rows.get(id(card))
                if row is None:
                    row = rows[id(card)] = tuple(card.get(key, nan) for key in keys)
                values.append(row)
                items.append(number)
                candidates.append(cid)
                annotators.append(annotator)
                prompts.append(pid)
        lengths = [data.lengths.get(cid, nan) for cid in candidates]
        return cls(
            values=np.array(values, dtype=float).reshape(-1, len(keys)),
            items=np.array(items, dtype=np.int64),
            lengths=np.array(lengths, dtype=float),
            candidates=candidates,
            annotators=annotators,
            prompts=prompts,
        )

    def spread(self, column: int) -> tuple[float | None, int]:
        """The mean standard deviation of a criterion over each item's candidates (items with
        2+ scored), and how many items that is."""
        scored = ~np.isnan(self.values[:, column])
        items, values = self.items[scored], self.values[scored, column]
        if not len(items):
            return None, 0
        n = np.bincount(items)
        total = np.bincount(items, weights=values)
        squares = np.bincount(items, weights=values * values)
        several = n >= 2
        if not several.any():
            return None, 0
        mean = total[several] / n[several]
        variance = np.maximum(squares[several] / n[several] - mean * mean, 0.0)
        return float(np.sqrt(variance).mean()), int(several.sum())

    def shared_units(self, column: int) -> list[dict[str, float]]:
        """annotator -> score, per candidate two or more annotators scored on a criterion."""
        by_candidate: dict[str, dict[str, float]] = {}
        column_values = self.values[:, column]
        for row in self.shared_rows:
            value = column_values[row]
            if value == value:  # not NaN
                unit = by_candidate.setdefault(self.candidates[row], {})
                unit[self.annotators[row]] = float(value)
        return [unit for unit in by_candidate.values() if len(unit) >= 2]

    @cached_property
    def shared_rows(self) -> list[int]:
        """The rows of candidates that two or more cards score."""
        times = Counter(self.candidates)
        return [row for row, cid in enumerate(self.candidates) if times[cid] >= 2]


def rubric_health(rubric: Rubric, version: int, data: HealthInput) -> RubricHealth:
    """Every criterion's health figures and advice."""
    keys = [c.key for c in rubric.criteria]
    table = _Table.of(keys, data)
    exportable = [p for p in data.pairs if p.status != "disputed"]
    decided = _deciders(rubric, exportable)
    gaps = _disputed_gaps(keys, table, {p.prompt_id for p in data.pairs if p.status == "disputed"})
    found = []
    for column, criterion in enumerate(rubric.criteria):
        key = criterion.key
        scored = table.values[:, column][~np.isnan(table.values[:, column])]
        shared = table.shared_units(column)
        agreement = criterion_agreement(key, shared, "ordinal") if shared else None
        alpha = agreement.alpha if agreement else None
        points, counts = np.unique(scored, return_counts=True)
        top = int(np.argmax(counts)) if len(counts) else None
        spread, spread_items = table.spread(column)
        health = CriterionHealth(
            key=key,
            label=criterion.label,
            weight=criterion.weight,
            scores=len(scored),
            alpha=alpha,
            alpha_units=len(shared),
            alpha_status=_alpha_status(alpha),
            top_value=None if top is None else int(points[top]),
            top_share=None if top is None else float(counts[top] / len(scored)),
            within_prompt_spread=spread,
            spread_items=spread_items,
            decides_share=decided[key] / len(exportable) if exportable else None,
            correlations={
                other: _pearson_where(table.values[:, column], table.values[:, index])
                for index, other in enumerate(keys)
                if other != key
            },
            length_correlation=_length_correlation(table.values[:, column], table.lengths),
            disputed_gap=gaps[key][0],
            disputed_units=gaps[key][1],
            advice=[],
        )
        health.advice = _advice(health, criterion, len(exportable), gaps)
        found.append(health)
    return RubricHealth(
        rubric=rubric.name, version=version, exportable_pairs=len(exportable), criteria=found
    )


def _alpha_status(alpha: float | None) -> AlphaStatus | None:
    if alpha is None:
        return None
    return "good" if alpha >= ALPHA_GOOD else "acceptable" if alpha >= ALPHA_ACCEPTABLE else "low"


def _deciders(rubric: Rubric, pairs: Sequence[ProjectPair]) -> Counter[str]:
    """criterion -> the pairs it decides: a veto the rejected fails, else the largest
    weighted difference in the chosen's favour (in 0..1 units of the total)."""
    decided: Counter[str] = Counter()
    vetoes = dict(rubric.veto_rules)
    for pair in pairs:
        if pair.by_veto:
            failed = [
                k for k, below in vetoes.items() if pair.rejected_scores.get(k, below) < below
            ]
            if failed:
                decided[failed[0]] += 1
                continue
        best, largest = None, 0.0
        for key, weight, _, span in rubric.weighting[0]:
            chosen, rejected = pair.chosen_scores.get(key), pair.rejected_scores.get(key)
            if chosen is None or rejected is None:
                continue
            difference = weight * (chosen - rejected) / span
            if difference > largest:
                best, largest = key, difference
        if best is not None:
            decided[best] += 1
    return decided


def _disputed_gaps(
    keys: Sequence[str], table: _Table, disputed: set[str]
) -> dict[str, tuple[float | None, int]]:
    """criterion -> (mean max-min gap between annotators, candidates it is over), on the
    candidates of items with a disputed pair that 2+ annotators scored."""
    rows = [row for row, pid in enumerate(table.prompts) if pid in disputed]
    result: dict[str, tuple[float | None, int]] = {}
    for column, key in enumerate(keys):
        by_candidate: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            value = table.values[row, column]
            if not np.isnan(value):
                by_candidate[table.candidates[row]].append(float(value))
        gaps = [max(v) - min(v) for v in by_candidate.values() if len(v) >= 2]
        result[key] = (float(np.mean(gaps)) if gaps else None, len(gaps))
    return result


def _pearson_where(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r over the rows where both are known."""
    both = ~(np.isnan(x) | np.isnan(y))
    return pearson(x[both], y[both])


def _length_correlation(values: np.ndarray, lengths: np.ndarray) -> float | None:
    """Spearman's rho between a criterion's scores and the responses' lengths."""
    both = ~(np.isnan(values) | np.isnan(lengths))
    return spearman(values[both], lengths[both])


def _advice(
    health: CriterionHealth,
    criterion: Criterion,
    pairs: int,
    gaps: Mapping[str, tuple[float | None, int]],
) -> list[str]:
    """Plain advice, each with the number behind it; none on too few scores."""
    key = health.key
    advice = []
    flat = (
        health.top_share is not None
        and health.top_share >= TOP_SHARE_WARNING
        and health.scores >= MIN_UNITS
    )
    others = [str(p) for p in criterion.scale.points if p != health.top_value]
    shown_others = " and ".join(others[:2]) if len(others) <= 2 else f"{others[0]} to {others[-1]}"
    if health.alpha_status == "low" and health.alpha_units >= MIN_UNITS:
        assert health.alpha is not None
        if flat:
            assert health.top_share is not None
            advice.append(
                f"{key}: alpha {health.alpha:.2f} and {health.top_share:.0%} of scores are "
                f"{health.top_value}: its scale does not separate responses; give its guidance "
                f"examples of {shown_others}"
            )
            flat = False
        else:
            advice.append(
                f"{key}: alpha {health.alpha:.2f} (below {ALPHA_ACCEPTABLE}): annotators do not "
                "apply it alike; make its question narrower and give its guidance an example "
                "of each point"
            )
    if flat:
        assert health.top_share is not None
        advice.append(
            f"{key}: {health.top_share:.0%} of scores are {health.top_value}: its scale does "
            f"not separate responses; give its guidance examples of {shown_others}"
        )
    if (
        health.within_prompt_spread is not None
        and health.within_prompt_spread < FLAT_WITHIN_PROMPT
        and health.spread_items >= MIN_UNITS
    ):
        advice.append(
            f"{key}: the candidates of one prompt differ by {health.within_prompt_spread:.2f} "
            "points on it on average: it rarely tells them apart; say in its guidance what "
            "separates a better response from a worse one"
        )
    if (
        health.decides_share is not None
        and pairs >= MIN_UNITS
        and health.decides_share < DECIDES_BELOW
    ):
        advice.append(
            f"{key}: it decides {health.decides_share:.0%} of the {pairs} pairs: it adds little "
            "to the pairs; raise its weight if it matters, or remove it"
        )
    for other, r in health.correlations.items():
        if r is not None and r > REDUNDANT_ABOVE and key < other:
            advice.append(
                f"{key} and {other}: correlation {r:.2f}: they measure the same thing; "
                "merge them into one criterion"
            )
    if health.length_correlation is not None and health.length_correlation > LENGTH_ABOVE:
        advice.append(
            f"{key}: correlation {health.length_correlation:.2f} with response length: it "
            "mostly rewards longer responses; say in its guidance that length alone is not "
            f"{criterion.label.lower()}"
        )
    worst = max(gaps.items(), key=lambda item: item[1][0] or 0.0)
    if (
        health.disputed_gap is not None
        and worst[0] == key
        and health.disputed_gap >= DISPUTED_GAP
        and health.disputed_units >= MIN_UNITS
    ):
        advice.append(
            f"{key}: on disputed items annotators are {health.disputed_gap:.1f} points apart "
            "on it, more than on any other criterion: tighten its guidance with examples "
            "from those items (`dpo-tui adjudicate`)"
        )
    return advice
