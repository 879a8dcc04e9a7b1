"""Scores -> preference pairs under a policy: ties, flags and vetoes never make a pair.

The vocabulary of pairs, from one annotator's item to what a trainer reads:

- `AnnotatorPair`: one annotator's "chosen over rejected" within one item (candidate ids, the
  margin in 0..1 total units, whether a veto decided it).
- `ItemPairs`: what one annotator's scores of one item give: its `AnnotatorPair`s, or the
  reason there are none (a flag, a tie, no scores).
- `ProjectPair`: a pair as the whole project decides it, annotators taken together (status
  single, agreed, disputed or adjudicated), by candidate id, without texts: what the report,
  the disputed filter and adjudication read.
- `ProjectPairs` (`services.pairing`): every `ProjectPair` of a project, and why judged items
  gave none.
- `PreferencePair` (`core.models`): a `ProjectPair` with its texts and everything a trainer or
  a data lead needs; `PreferencePairs` (`services.pairing`): every one of a project, and why
  judged items gave none, split into exportable and disputed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from dpo_tui.core.models import NO_PAIR_FLAGS, Flag, PairPolicyName, PairStatus, Rubric
from dpo_tui.core.scoring import Scores, total, vetoes


@dataclass(frozen=True)
class AnnotatorPair:
    """Which candidate is chosen over which, and by how much (in 0..1 total units).

    `by_veto`: the rejected candidate fails a veto, which makes the pair whatever the
    margin (a safe answer is preferred over an unsafe one that scores higher elsewhere).
    """

    chosen: str
    rejected: str
    margin: float
    by_veto: bool = False


@dataclass(frozen=True)
class ProjectPair:
    """A pair of a project as its annotators' scores decide it, by candidate id: what the
    quality report needs; `services.pairing.collect_pairs` adds the texts for export."""

    prompt_id: str
    chosen_id: str
    rejected_id: str
    margin: float
    by_veto: bool
    status: PairStatus
    annotators: tuple[str, ...]
    chosen_scores: dict[str, float]
    """criterion -> the voters' mean score"""
    rejected_scores: dict[str, float]
    diagnosis: str


@dataclass(frozen=True)
class ItemPairs:
    """The pairs of one judged item, or why there are none."""

    pairs: tuple[AnnotatorPair, ...]
    reason: str | None = None


def extract_pairs(
    rubric: Rubric,
    candidates: Sequence[tuple[str, Scores]],
    flags: Collection[Flag] = (),
    policy: PairPolicyName | None = None,
    min_margin: float | None = None,
    totals: Mapping[str, float | None] | None = None,
) -> ItemPairs:
    """Pairs for one prompt and annotator from (candidate id, scores) in display order.

    `policy` and `min_margin` default to the rubric's; `totals` (candidate id -> `total`)
    saves computing them again. Among equal totals the earlier candidate ranks first, so
    the result is deterministic.
    """
    policy = policy or rubric.pairs.policy
    margin_needed = rubric.pairs.min_margin if min_margin is None else min_margin
    blocking = sorted(set(flags) & NO_PAIR_FLAGS)
    if blocking:
        return ItemPairs((), f"flagged {', '.join(blocking)}")
    if len(candidates) < 2:
        return ItemPairs((), "fewer than two candidates")
    value_of: dict[str, float] = {}
    for cid, scores in candidates:
        value = total(rubric, scores) if totals is None else totals.get(cid)
        if value is None:
            return ItemPairs((), "not every candidate is fully scored")
        value_of[cid] = value
    vetoed = [cid for cid, scores in candidates if vetoes(rubric, scores)]
    allowed = [cid for cid, _ in candidates if cid not in vetoed]
    if not allowed:
        return ItemPairs((), "every candidate fails a veto")
    # Vetoed candidates rank below every allowed one; ties keep display order (stable sort
    # of lists in display order: a set here made ties depend on string hashing).
    ranked = sorted(allowed, key=lambda cid: -value_of[cid]) + sorted(
        vetoed, key=lambda cid: -value_of[cid]
    )

    def pair(chosen: str, rejected: str) -> AnnotatorPair:
        return AnnotatorPair(
            chosen, rejected, value_of[chosen] - value_of[rejected], rejected in vetoed
        )

    best = ranked[0]
    if policy == "best-worst":
        options = [pair(best, ranked[-1])]
    elif policy == "best-vs-rest":
        options = [pair(best, other) for other in ranked[1:]]
    else:
        options = [
            pair(a, b) for i, a in enumerate(ranked) if a not in vetoed for b in ranked[i + 1 :]
        ]
    kept = tuple(p for p in options if p.by_veto or p.margin >= margin_needed - 1e-9)
    if not kept:
        widest = max(p.margin for p in options)
        return ItemPairs((), f"tie: margin {widest:.2f} is below {margin_needed:.2f}")
    return ItemPairs(kept)
