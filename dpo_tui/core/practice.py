"""Practice on gold items: how an annotator's scores of an item compare with the lead's
reference (the same best candidate, the same order of the reference pair, points from the
reference scores), and the summary of a practice session."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dpo_tui.core.agreement import direction, top_candidates
from dpo_tui.core.annotator_cards import GoldReference
from dpo_tui.core.models import Flag, Rubric
from dpo_tui.core.pairs import AnnotatorPair, extract_pairs
from dpo_tui.core.scoring import total


@dataclass(frozen=True)
class PracticeFeedback:
    """One finished practice item against its reference."""

    prompt_id: str
    reference: GoldReference
    pair: AnnotatorPair | None
    """the annotator's own pair (best over worst), None when their scores gave none"""
    same_chosen: bool | None
    """their best candidate, alone at the top, is the reference's chosen one (None: not
    every candidate scored)"""
    same_direction: bool | None
    """they rank the reference's chosen above its rejected (None: not both scored)"""
    distances: dict[str, int]
    """criterion -> points between their score and the reference's, where both exist"""


def practice_feedback(
    rubric: Rubric,
    reference: GoldReference,
    candidates: Sequence[str],
    scores: Mapping[str, Mapping[str, int]],
    flags: Collection[Flag] = (),
) -> PracticeFeedback:
    """How the annotator's `scores` of the item (`candidates` in display order) compare."""
    totals = {cid: total(rubric, scores.get(cid, {})) for cid in candidates}
    outcome = extract_pairs(rubric, [(cid, scores.get(cid, {})) for cid in candidates], flags)
    known = {cid: t for cid, t in totals.items() if t is not None}
    complete = len(known) == len(candidates)
    chosen, rejected = known.get(reference.chosen_id), known.get(reference.rejected_id)
    distances = {
        key: abs(scores[cid][key] - value)
        for cid, values in reference.scores.items()
        for key, value in values.items()
        if key in scores.get(cid, {})
    }
    return PracticeFeedback(
        prompt_id=reference.prompt_id,
        reference=reference,
        pair=outcome.pairs[0] if outcome.pairs else None,
        same_chosen=(top_candidates(known) == {reference.chosen_id} if complete else None),
        same_direction=(
            None if chosen is None or rejected is None else direction(chosen, rejected) == ">"
        ),
        distances=distances,
    )


class PracticeOutcome(Protocol):
    """What a practice summary needs of each item: a `PracticeFeedback`, or a stored row."""

    @property
    def same_chosen(self) -> bool | None: ...

    @property
    def same_direction(self) -> bool | None: ...

    @property
    def distances(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class PracticeSummary:
    items: int
    same_chosen: float | None
    same_direction: float | None
    mean_distance: dict[str, float]


def summarize(results: Sequence[PracticeOutcome]) -> PracticeSummary:
    """A practice session's figures over the items finished."""

    def share(flags: list[bool | None]) -> float | None:
        known = [f for f in flags if f is not None]
        return sum(known) / len(known) if known else None

    keys = sorted({key for r in results for key in r.distances})
    return PracticeSummary(
        items=len(results),
        same_chosen=share([r.same_chosen for r in results]),
        same_direction=share([r.same_direction for r in results]),
        mean_distance={
            key: statistics.fmean(r.distances[key] for r in results if key in r.distances)
            for key in keys
        },
    )
