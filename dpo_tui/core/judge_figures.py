"""A judge model's calibration figures, the published figures to read them against, and both
in plain words (`core.judge_calibration` computes them).

Published figures (`REFERENCES`, `MT_BENCH_SWAP_INCONSISTENT`):

- MT-Bench (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena",
  Table 5, setup S1, ties counted): GPT-4 agrees with the experts on 66% of votes, the experts
  with each other on 63%.
- AlpacaEval (Li et al. 2023, tatsu-lab/alpaca_eval, its annotators' table: agreement with
  the majority of the other humans on its 2.5k cross-annotations): the `alpaca_eval_gpt4`
  annotator 69% (69.2), a human 66% (65.7).
- Position (MT-Bench paper, Table 2, default prompt): GPT-4 picks the same answer after the
  swap on 65% of pairs, so 35% of its pairs are inconsistent (30% favour the first position).

Our pair-direction agreement counts ties ("=") as a label, like MT-Bench's S1.
"""

from __future__ import annotations

from pydantic import BaseModel

from dpo_tui.core.agreement import ChosenAgreement, PairDirectionAgreement

MIN_SHARED_ITEMS = 50
"""Fewer shared items than this (two humans and the judge): too few to trust judge pairs."""
ANCHORING_GAP = 0.10
"""Agreement with the judge this much higher where humans saw its scores: said as anchoring."""


class Reference(BaseModel):
    """A published judge-human figure, and the human-human one measured beside it."""

    name: str
    judge_human: float
    human_human: float
    source: str


REFERENCES = (
    Reference(
        name="MT-Bench, GPT-4 judge (with ties)",
        judge_human=0.66,
        human_human=0.63,
        source="Zheng et al. 2023, Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena, "
        "Table 5 (S1)",
    ),
    Reference(
        name="AlpacaEval, GPT-4 annotator",
        judge_human=0.69,
        human_human=0.66,
        source="Li et al. 2023, tatsu-lab/alpaca_eval, annotators' table (alpaca_eval_gpt4 "
        "69.2%, humans 65.7%)",
    ),
)
MT_BENCH_SWAP_INCONSISTENT = 0.35
"""MT-Bench paper, Table 2: GPT-4's verdict is not the same after the swap on 35% of pairs."""


class CriterionCalibration(BaseModel):
    criterion: str
    units: int
    """(candidate, human) pairs where both the judge and the human scored the criterion"""
    alpha: float | None
    """Krippendorff's ordinal alpha, each (candidate, human) a unit of two values"""
    exact: float | None
    within_one: float | None
    mean_difference: float | None
    """mean of judge minus human: above 0, the judge scores high"""
    sample_spread: float | None
    """mean standard deviation of one candidate's sampled cards (2+ samples), in points"""


class PositionFigures(BaseModel):
    verdicts: int
    """the latest verdict of each (prompt, shown first, shown second)"""
    failed: int
    swapped: int
    """pairs with a valid verdict in both orders"""
    consistent: int
    consistency: float | None
    swap_failed: int
    """pairs asked in both orders where a verdict failed (counted apart)"""
    first_shown_wins: float | None
    """share of valid verdicts that pick the response shown first"""
    scored: int
    """valid verdicts on two candidates whose totals the judge ordered strictly"""
    agree_with_scores: int
    scores_agreement: float | None


class LengthFigures(BaseModel):
    judge_rho: float | None
    judge_n: int
    human_rho: float | None
    human_n: int


class JudgeFigures(BaseModel):
    """Every figure of one judge."""

    judge: str
    prompts: int
    """prompts it gave cards for"""
    candidates: int
    samples: int
    failures: int
    judge_only_prompts: int
    """prompts it totalled two candidates of that no human judged: what judge pairs come from"""
    criteria: list[CriterionCalibration]
    pair_direction: PairDirectionAgreement
    """with each human, on every item both totalled"""
    chosen: ChosenAgreement
    shared_items: int
    """items at least two humans and the judge totalled, compared both ways"""
    shared_judge_human: PairDirectionAgreement
    shared_human_human: PairDirectionAgreement
    shared_judge_chosen: ChosenAgreement
    shared_human_chosen: ChosenAgreement
    position: PositionFigures
    length: LengthFigures
    suggested: PairDirectionAgreement
    """with humans, on items whose judgement says the judge's scores were shown"""
    blind: PairDirectionAgreement
    """with humans, on the other items"""
    meets_humans: bool | None
    """agrees with humans at least as often as they agree with each other, on enough shared
    items; None with fewer than `MIN_SHARED_ITEMS`"""
    verdict: str


class JudgeCalibration(BaseModel):
    """Every judge of a project, calibrated against its humans."""

    humans: list[str]
    item_orders: dict[str, int]
    """how many human judgements were made walking items in each order"""
    tolerance: float
    min_shared_items: int
    references: list[Reference]
    swap_inconsistent_reference: float
    judges: list[JudgeFigures]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def verdict(f: JudgeFigures) -> str:
    """The judge's figures in plain words, each with the number behind it."""
    if not f.pair_direction.pairs:
        return (
            "no candidate pair was totalled by both the judge and a human, so it cannot be "
            f"calibrated: have two annotators each score at least {MIN_SHARED_ITEMS} of the "
            "items it scored"
        )
    jh, hh = f.shared_judge_human, f.shared_human_human
    if f.shared_items:
        parts = [
            f"the judge agrees with humans on {_share(jh.percent)} of pair directions; humans "
            f"agree with each other on {_share(hh.percent)} "
            f"(on {_count(f.shared_items, 'shared item')})"
        ]
    else:
        parts = [
            f"the judge agrees with humans on {_share(f.pair_direction.percent)} of pair "
            f"directions ({_count(f.pair_direction.pairs, 'candidate pair')} on "
            f"{_count(f.pair_direction.items, 'item')}); no item was totalled by two humans and "
            "the judge, so there is no human agreement to hold it against"
        ]
    if f.shared_items < MIN_SHARED_ITEMS:
        parts.append(
            f"fewer than {MIN_SHARED_ITEMS} shared items: too few to trust its pairs on their own"
        )
    elif f.meets_humans:
        parts.append("it agrees with humans as often as they agree with each other")
    else:
        parts.append("it agrees with humans less often than they agree with each other")
    position = f.position
    if position.consistency is not None:
        parts.append(
            f"its verdict changes when the two responses are swapped on "
            f"{_share(1 - position.consistency)} of {_count(position.swapped, 'pair')} "
            f"(GPT-4 on MT-Bench: {MT_BENCH_SWAP_INCONSISTENT:.0%})"
        )
    if position.failed:
        parts.append(f"{_count(position.failed, 'verdict')} failed")
    if position.scores_agreement is not None:
        parts.append(
            f"its verdicts agree with its own scores on {_share(position.scores_agreement)} of "
            f"{_count(position.scored, 'verdict')}"
        )
    length = f.length
    if length.judge_rho is not None:
        humans = "" if length.human_rho is None else f" (humans {length.human_rho:.2f})"
        parts.append(
            f"Spearman's rho of its totals with response length {length.judge_rho:.2f}{humans}"
        )
    shown, blind = f.suggested.percent, f.blind.percent
    if shown is not None and blind is not None:
        parts.append(
            f"humans shown its scores agree with it on {_share(shown)} of pair directions "
            f"({_count(f.suggested.items, 'item')}), blind on {_share(blind)} "
            f"({_count(f.blind.items, 'item')})"
            + (
                ": shown its scores, humans follow them (anchoring)"
                if shown - blind >= ANCHORING_GAP
                else ""
            )
        )
    return "; ".join(parts)


def judge_pairs_refusal(
    f: JudgeFigures, min_agreement: float | None, project: str = "PROJECT"
) -> tuple[str, str] | None:
    """Why the judge's pairs may not be exported, as (message, what to do); None if they
    may: its pair-direction agreement with humans on at least `MIN_SHARED_ITEMS` shared items
    meets `min_agreement` (default: the humans' agreement with each other on those items)."""
    jh, hh = f.shared_judge_human.percent, f.shared_human_human.percent
    figures = (
        f"{f.judge} agrees with humans on {_share(jh)} of pair directions and humans with each "
        f"other on {_share(hh)}, on {_count(f.shared_items, 'shared item')} (items two humans "
        "and the judge fully scored)"
    )
    if f.shared_items < MIN_SHARED_ITEMS or jh is None:
        return (
            f"{figures}; judge pairs need at least {MIN_SHARED_ITEMS} shared items",
            "have two annotators score more of the items the judge scored (dpo-tui assign), "
            f"then check it with dpo-tui report {project} --judge",
        )
    threshold = hh if min_agreement is None else min_agreement
    if threshold is None or jh < threshold - 1e-9:
        asked = "the humans' own agreement" if min_agreement is None else "--judge-min-agreement"
        return (
            f"{figures}: below {asked} ({_share(threshold)}), so no judge pair is exported",
            f"see why with dpo-tui report {project} --judge (criteria, length, position), then "
            "tighten the rubric or judge with another model; --judge-min-agreement sets a "
            "lower bar knowingly",
        )
    return None
