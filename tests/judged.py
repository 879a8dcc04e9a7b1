"""A judge model's answers written into a project as `judge_project` writes them (samples,
combined cards, a judgement with its reasons, a verdict), without a model."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dpo_tui.core.judging import combined_card, judge_name
from dpo_tui.core.models import Judgement
from dpo_tui.store.judge import JudgeSample, JudgeVerdict
from dpo_tui.store.project import ProjectStore

ORIGIN = "gguf:" + "ab" * 32
JUDGE = judge_name("oracle-7b", ORIGIN)
"""judge:oracle-7b@abababababab"""
REASONS = "Zebracorn reasoning: the first response cites the refund policy"
"""Reasons no screen of the annotator may ever show."""


def judge_prompt(
    store: ProjectStore,
    prompt_id: str,
    cards: Mapping[str, Sequence[dict[str, int]]],
    name: str = JUDGE,
    reasons: str = REASONS,
) -> None:
    """Record `name`'s sampled `cards` (candidate id -> cards) of one prompt."""
    samples = [
        JudgeSample(cid, number, 0, card, reasons, json.dumps(card), "", {"seed": number}, 0.5)
        for cid, found in cards.items()
        for number, card in enumerate(found)
    ]
    combined = {cid: combined_card(found) for cid, found in cards.items()}
    judgement = Judgement(
        prompt_id=prompt_id,
        annotator=name,
        diagnosis=f"A: {reasons}",
        display_order=tuple(cards),
    )
    ids = list(cards)
    verdicts = [(prompt_id, JudgeVerdict(ids[0], ids[1], ids[0], '{"better": "A"}', ""))]
    store.save_judged(name, "oracle-7b", ORIGIN, samples, combined, judgement, verdicts)


def judge_by_position(
    store: ProjectStore,
    prompt_id: str,
    cards: Sequence[Sequence[dict[str, int]]],
    name: str = JUDGE,
) -> None:
    """`judge_prompt` with the cards given for the prompt's candidates in the order added."""
    ids = [c.id for c in store.candidates(prompt_id)]
    judge_prompt(store, prompt_id, dict(zip(ids, cards, strict=False)), name)
