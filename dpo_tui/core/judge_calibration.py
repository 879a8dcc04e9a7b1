"""How far to trust a judge model: its scores and verdicts held against the humans' on the
same items, and against itself.

For each judge of a project:

- per criterion, judge against humans over every (candidate, human) both scored: Krippendorff's
  alpha (ordinal; each (candidate, human) a unit with two values, the judge's and the human's),
  exact and within-one agreement, the mean signed difference judge minus human (does it score
  high?), n;
- pair direction (`core.agreement`): for each candidate pair of an item that a human and the
  judge both totalled, does the judge order it as that human does ("<", "=", ">", with the
  rubric's margin as the tie tolerance); and chosen agreement (the same best candidate);
  again on the shared items (items at least two humans and the judge totalled), next to the
  humans' agreement with each other there: the figure to beat;
- position: the share of pairs whose two verdicts (shown A/B, then B/A) pick the same
  candidate (a failed verdict, winner None, is counted apart), the share of verdicts picking
  the response shown first, and the share that agree with the judge's own scores' order;
- length: Spearman's rho of its totals with response length, and of the humans' totals;
- anchoring: its pair-direction agreement with humans on items whose human judgement says the
  judge's scores were shown (`suggested`), and on items done blind;
- its samples' spread: per criterion, the mean standard deviation of the sampled cards of
  one candidate (candidates with two samples or more).

The figures, the published ones to read them against and the verdict in words are in
`core.judge_figures`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dpo_tui.core.agreement import (
    ComparedDirections,
    choose,
    chosen_agreement_of_picks,
    compare_directions,
    direction_agreement_of,
    pair_directions,
)
from dpo_tui.core.judge_figures import (
    MIN_SHARED_ITEMS,
    MT_BENCH_SWAP_INCONSISTENT,
    REFERENCES,
    CriterionCalibration,
    JudgeCalibration,
    JudgeFigures,
    LengthFigures,
    PositionFigures,
    verdict,
)
from dpo_tui.core.judging import is_judge, spread
from dpo_tui.core.models import Judgement, Rubric
from dpo_tui.core.scoring import total
from dpo_tui.core.stats.coefficients import krippendorff_alpha, paired_counts, share_agreed
from dpo_tui.core.stats.correlation import spearman

ITEM_ORDERS = ("file", "random", "uncertain", "unknown")
"""The orders an annotator walks items in (`Judgement.item_order`; '' is unknown)."""


class VerdictFacts(NamedTuple):
    """One verdict: which of two candidates, shown in this order, the judge found better
    (None: the answer failed)."""

    prompt_id: str
    first_id: str
    second_id: str
    winner_id: str | None


@dataclass(frozen=True)
class JudgeFacts:
    """What one judge answered besides its combined cards."""

    name: str
    samples: Mapping[str, Mapping[str, Sequence[Mapping[str, int]]]] = field(default_factory=dict)
    """prompt id -> candidate id -> its valid sampled cards"""
    verdicts: Sequence[VerdictFacts] = ()
    """in the order they were made"""
    failures: int = 0
    """answers about candidates that failed validation"""


@dataclass(frozen=True)
class CalibrationInput:
    cards: Mapping[tuple[str, str], Mapping[str, Mapping[str, int]]]
    """(prompt id, annotator) -> candidate id -> criterion -> value: humans' and judges'"""
    judgements: Mapping[tuple[str, str], Judgement]
    """(prompt id, annotator) -> judgement (its `item_order` and `suggested`)"""
    judges: Sequence[JudgeFacts]
    lengths: Mapping[str, int]
    """candidate id -> response length in characters"""
    totals: Mapping[tuple[str, str], Mapping[str, float | None]] | None = None
    """`scoring.total` of each card, if already computed"""


def judge_calibration(
    rubric: Rubric, data: CalibrationInput, tolerance: float | None = None
) -> JudgeCalibration:
    """Every figure for each judge in `data.judges`. `tolerance`: totals closer than this are
    a tie (default: the rubric's `pairs.min_margin`, as pairs and the report have it)."""
    tolerance = rubric.pairs.min_margin if tolerance is None else tolerance
    totals = data.totals
    if totals is None:
        totals = {
            key: {cid: total(rubric, card) for cid, card in item.items()}
            for key, item in data.cards.items()
        }
    keys = data.cards.keys() | data.judgements.keys() | totals.keys()
    humans = sorted({a for _, a in keys if not is_judge(a)})
    orders = Counter(
        j.item_order or "unknown" for (_, a), j in data.judgements.items() if not is_judge(a)
    )
    item_orders = {order: orders.pop(order, 0) for order in ITEM_ORDERS} | dict(
        sorted(orders.items())
    )
    return JudgeCalibration(
        humans=humans,
        item_orders=item_orders,
        tolerance=tolerance,
        min_shared_items=MIN_SHARED_ITEMS,
        references=list(REFERENCES),
        swap_inconsistent_reference=MT_BENCH_SWAP_INCONSISTENT,
        judges=[
            _Judge(rubric, data, totals, judge, tolerance).figures()
            for judge in sorted(data.judges, key=lambda j: j.name)
        ],
    )


_Compared = tuple[str, ComparedDirections]
"""(item, a comparison of its pair directions)"""
_Picks = list[tuple[bool, bool]]
"""`agreement.choose` of one item: (same best candidate, either tied) per pair of annotators"""


class _SharedItem(NamedTuple):
    """An item at least two humans and the judge totalled, compared both ways."""

    judge_human: ComparedDirections
    human_human: ComparedDirections
    judge_chosen: _Picks
    human_chosen: _Picks


class _Judge:
    """One judge's figures, from the project's facts."""

    def __init__(
        self,
        rubric: Rubric,
        data: CalibrationInput,
        totals: Mapping[tuple[str, str], Mapping[str, float | None]],
        facts: JudgeFacts,
        tolerance: float,
    ) -> None:
        self.rubric, self.data, self.facts, self.tolerance = rubric, data, facts, tolerance
        name = facts.name
        self.totals = {pid: t for (pid, a), t in totals.items() if a == name}
        self.cards = {pid: c for (pid, a), c in data.cards.items() if a == name}
        self.human_totals: dict[str, dict[str, Mapping[str, float | None]]] = {}
        for (pid, annotator), item in totals.items():
            if not is_judge(annotator):
                self.human_totals.setdefault(pid, {})[annotator] = item
        self.human_prompts = {
            pid for pid, a in data.cards.keys() | data.judgements if not is_judge(a)
        }

    def figures(self) -> JudgeFigures:
        compared, picks, shared = self._compared()
        suggested = [c for c, shown in compared if shown]
        blind = [c for c, shown in compared if not shown]
        shared_jh = direction_agreement_of(s.judge_human for s in shared)
        shared_hh = direction_agreement_of(s.human_human for s in shared)
        figures = JudgeFigures(
            judge=self.facts.name,
            prompts=len(self.cards),
            candidates=sum(len(item) for item in self.cards.values()),
            samples=sum(len(c) for item in self.facts.samples.values() for c in item.values()),
            failures=self.facts.failures,
            judge_only_prompts=sum(
                1
                for pid, item in self.totals.items()
                if pid not in self.human_prompts and sum(t is not None for t in item.values()) >= 2
            ),
            criteria=self._criteria(),
            pair_direction=direction_agreement_of(_merged(c for c, _ in compared)),
            chosen=chosen_agreement_of_picks(picks.values()),
            shared_items=len(shared),
            shared_judge_human=shared_jh,
            shared_human_human=shared_hh,
            shared_judge_chosen=chosen_agreement_of_picks(s.judge_chosen for s in shared),
            shared_human_chosen=chosen_agreement_of_picks(s.human_chosen for s in shared),
            position=self._position(),
            length=self._length(),
            suggested=direction_agreement_of(_merged(suggested)),
            blind=direction_agreement_of(_merged(blind)),
            meets_humans=_meets(len(shared), shared_jh.percent, shared_hh.percent),
            verdict="",
        )
        figures.verdict = verdict(figures)
        return figures

    def _compared(
        self,
    ) -> tuple[list[tuple[_Compared, bool]], dict[str, _Picks], list[_SharedItem]]:
        """((item, judge vs one human), whether that human saw the judge's scores) for each
        item and human; each item's chosen picks; and each shared item's comparisons."""
        name, tolerance = self.facts.name, self.tolerance
        compared: list[tuple[_Compared, bool]] = []
        picks: dict[str, _Picks] = {}
        shared = []
        for pid in sorted(self.totals.keys() & self.human_totals.keys()):
            judge = self.totals[pid]
            mine = pair_directions(judge, tolerance)
            humans = self.human_totals[pid]
            theirs = {h: pair_directions(t, tolerance) for h, t in sorted(humans.items())}
            item_compared: list[ComparedDirections] = []
            item_picks: _Picks = []
            for human, directions in theirs.items():
                one = compare_directions({name: mine, human: directions})
                judgement = self.data.judgements.get((pid, human))
                compared.append(((pid, one), judgement is not None and judgement.suggested))
                item_compared.append(one)
                item_picks += choose({name: judge, human: humans[human]}, tolerance)
            picks[pid] = item_picks
            if len(theirs) >= 2:
                among = compare_directions(theirs)
                jh = _merge(item_compared)
                if jh.pairs and among.pairs:
                    shared.append(_SharedItem(jh, among, item_picks, choose(humans, tolerance)))
        return compared, picks, shared

    def _criteria(self) -> list[CriterionCalibration]:
        found = []
        for criterion in self.rubric.criteria:
            key = criterion.key
            pairs: list[tuple[int, int]] = []
            for (pid, annotator), item in sorted(self.data.cards.items()):
                if is_judge(annotator) or pid not in self.cards:
                    continue
                judged = self.cards[pid]
                for cid in sorted(item.keys() & judged.keys()):
                    if key in item[cid] and key in judged[cid]:
                        pairs.append((judged[cid][key], item[cid][key]))
            spreads = [
                spread(cards)[key]
                for item in self.facts.samples.values()
                for cards in item.values()
                if len(cards) >= 2 and all(key in card for card in cards)
            ]
            counts = paired_counts([j for j, _ in pairs], [h for _, h in pairs])
            found.append(
                CriterionCalibration(
                    criterion=key,
                    units=len(pairs),
                    alpha=_finite(krippendorff_alpha(pairs, "ordinal")) if pairs else None,
                    exact=_finite(share_agreed(counts)),
                    within_one=_finite(share_agreed(counts, within=1)),
                    mean_difference=sum(j - h for j, h in pairs) / len(pairs) if pairs else None,
                    sample_spread=sum(spreads) / len(spreads) if spreads else None,
                )
            )
        return found

    def _position(self) -> PositionFigures:
        latest: dict[tuple[str, str, str], str | None] = {}
        for v in self.facts.verdicts:
            latest[(v.prompt_id, v.first_id, v.second_id)] = v.winner_id
        valid = {key: winner for key, winner in latest.items() if winner is not None}
        swapped = consistent = swap_failed = 0
        for (pid, first, second), winner in latest.items():
            if first > second or (pid, second, first) not in latest:
                continue
            other = latest[(pid, second, first)]
            if winner is None or other is None:
                swap_failed += 1
            else:
                swapped += 1
                consistent += winner == other
        scored = agree = 0
        for (pid, first, second), winner in valid.items():
            item = self.totals.get(pid, {})
            high, low = item.get(first), item.get(second)
            if high is None or low is None or high == low:
                continue
            scored += 1
            agree += winner == (first if high > low else second)
        first_wins = sum(winner == key[1] for key, winner in valid.items())
        return PositionFigures(
            verdicts=len(latest),
            failed=len(latest) - len(valid),
            swapped=swapped,
            consistent=consistent,
            consistency=consistent / swapped if swapped else None,
            swap_failed=swap_failed,
            first_shown_wins=first_wins / len(valid) if valid else None,
            scored=scored,
            agree_with_scores=agree,
            scores_agreement=agree / scored if scored else None,
        )

    def _length(self) -> LengthFigures:
        lengths = self.data.lengths

        def paired(items: Iterable[Mapping[str, float | None]]) -> tuple[list[float], list[int]]:
            values, sizes = [], []
            for item in items:
                for cid, value in item.items():
                    if value is not None and cid in lengths:
                        values.append(value)
                        sizes.append(lengths[cid])
            return values, sizes

        judge = paired(self.totals.values())
        humans = paired(t for item in self.human_totals.values() for t in item.values())
        return LengthFigures(
            judge_rho=spearman(*judge),
            judge_n=len(judge[0]),
            human_rho=spearman(*humans),
            human_n=len(humans[0]),
        )


def _merge(items: Sequence[ComparedDirections]) -> ComparedDirections:
    """Several comparisons of one item as one."""
    return ComparedDirections(
        [p for c in items for p in c.pairs], [u for c in items for u in c.units]
    )


def _merged(compared: Iterable[_Compared]) -> list[ComparedDirections]:
    """(item, comparison) pairs, one comparison per item, in item order."""
    by_item: dict[str, list[ComparedDirections]] = {}
    for pid, one in compared:
        by_item.setdefault(pid, []).append(one)
    return [_merge(by_item[pid]) for pid in sorted(by_item)]


def _finite(value: float) -> float | None:
    return None if value != value else value


def _meets(shared: int, judge: float | None, humans: float | None) -> bool | None:
    if shared < MIN_SHARED_ITEMS or judge is None or humans is None:
        return None
    return judge >= humans - 1e-9
