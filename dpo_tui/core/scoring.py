"""A candidate's weighted total under a rubric, and the vetoes it fails."""

from __future__ import annotations

from collections.abc import Mapping

from dpo_tui.core.models import Rubric

Scores = Mapping[str, int]
"""criterion key -> score"""


def is_complete(rubric: Rubric, scores: Scores) -> bool:
    return all(c.key in scores for c in rubric.criteria)


def total(rubric: Rubric, scores: Scores) -> float | None:
    """Weighted mean of the scores, each rescaled to 0..1; None until every criterion is scored."""
    if not is_complete(rubric, scores):
        return None
    weighted = sum(
        c.weight * (scores[c.key] - c.scale.min) / (c.scale.max - c.scale.min)
        for c in rubric.criteria
    )
    return weighted / sum(c.weight for c in rubric.criteria)


def vetoes(rubric: Rubric, scores: Scores) -> list[str]:
    """Keys of the criteria whose veto this candidate fails: it can never be chosen."""
    return [
        c.key
        for c in rubric.criteria
        if c.veto_below is not None and c.key in scores and scores[c.key] < c.veto_below
    ]
