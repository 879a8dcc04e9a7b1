"""The order an annotator walks items in: the file's, a seeded shuffle, or the items a judge
model is least sure about first.

A judge's uncertainty about an item is its `margin`: the gap between its two best candidates'
totals less the noise of its own samples. A small gap means the judge barely prefers one
candidate; noisy samples mean it would not say the same twice. Lower margin = more uncertain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Literal

from dpo_tui.core.judging import combined_card, spread
from dpo_tui.core.models import Rubric
from dpo_tui.core.scoring import total

ItemOrder = Literal["file", "random", "uncertain"]
ITEM_ORDERS: tuple[ItemOrder, ...] = ("file", "random", "uncertain")
RECORDED_ORDERS: tuple[str, ...] = ("", *ITEM_ORDERS)
"""What a judgement's `item_order` may hold ('': not recorded, a file from before schema 11)."""

SampledCards = Mapping[str, Sequence[Mapping[str, int]]]
"""candidate id -> a judge's sampled cards of it"""


def judge_margin(rubric: Rubric, cards: SampledCards) -> float | None:
    """`gap - noise` for one item, in 0..1 total units: gap is the difference between the two
    highest totals of the candidates' combined cards, noise the mean, over those candidates
    and the rubric's criteria, of the samples' standard deviation divided by the criterion's
    scale span (0 with one sample). None when fewer than two candidates have a full combined
    card (no pair to be unsure about)."""
    scored = [
        (found, samples)
        for samples in cards.values()
        if samples and (found := total(rubric, combined_card(samples))) is not None
    ]
    if len(scored) < 2:
        return None
    best, second = sorted((found for found, _ in scored), reverse=True)[:2]
    spans = [(c.key, c.scale.max - c.scale.min) for c in rubric.criteria]
    terms = [
        deviations.get(key, 0.0) / span
        for deviations in (spread(samples) for _, samples in scored)
        for key, span in spans
    ]
    return (best - second) - sum(terms) / len(terms)


def judge_margins(rubric: Rubric, by_prompt: Mapping[str, SampledCards]) -> dict[str, float]:
    """prompt id -> the judge's margin, for each prompt it has one for."""
    found = {pid: judge_margin(rubric, cards) for pid, cards in by_prompt.items()}
    return {pid: margin for pid, margin in found.items() if margin is not None}


def uncertain_first(prompt_ids: Sequence[str], margins: Mapping[str, float]) -> list[str]:
    """`prompt_ids` by margin, lowest (most uncertain) first, equal margins in their given
    order; prompts without a margin (the judge scored too little of them) last, in their
    given order."""
    scored = [pid for pid in prompt_ids if pid in margins]
    rest = [pid for pid in prompt_ids if pid not in margins]
    return sorted(scored, key=margins.__getitem__) + rest


def shuffled(prompt_ids: Sequence[str], seed: int | str) -> list[str]:
    """`prompt_ids` in an order fixed by `seed` alone: each id's place comes from a hash of
    the seed and the id, so the same seed gives the same order on any machine and Python
    (`order:` keeps it apart from `assign`'s split, which hashes `seed:id`)."""
    return sorted(
        prompt_ids, key=lambda pid: hashlib.sha256(f"order:{seed}:{pid}".encode()).digest()
    )


def ordered(
    prompt_ids: Sequence[str],
    order: ItemOrder,
    *,
    seed: int | str = 0,
    margins: Mapping[str, float] | None = None,
) -> list[str]:
    """`prompt_ids` in `order`: as given (`file`), shuffled by `seed` (`random`), or
    uncertain-first by `margins` (`uncertain`, which needs them)."""
    if order == "random":
        return shuffled(prompt_ids, seed)
    if order == "uncertain":
        if margins is None:
            raise ValueError("the uncertain order needs the judge's margins")
        return uncertain_first(prompt_ids, margins)
    return list(prompt_ids)
