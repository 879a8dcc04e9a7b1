"""A candidate's weighted total under a rubric, and the vetoes it fails."""

from __future__ import annotations

from collections.abc import Mapping

from dpo_tui.core.models import Rubric

Scores = Mapping[str, int]
"""criterion key -> score"""

JudgedTotals = dict[tuple[str, str], dict[str, float | None]]
"""(prompt id, annotator) -> candidate id -> weighted total (None until fully scored)"""


def total(rubric: Rubric, scores: Scores) -> float | None:
    """Weighted mean of the scores, each rescaled to 0..1; None until every criterion is scored."""
    terms, weights = rubric.weighting
    weighted = 0.0
    for key, weight, low, span in terms:
        score = scores.get(key)
        if score is None:
            return None
        weighted += weight * (score - low) / span
    return weighted / weights


def vetoes(rubric: Rubric, scores: Scores) -> list[str]:
    """Keys of the criteria whose veto this candidate fails: it can never be chosen."""
    return [key for key, below in rubric.veto_rules if key in scores and scores[key] < below]
