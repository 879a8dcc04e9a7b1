"""Figures of a preference evaluation: does a model give the chosen response of each pair a
higher log-probability than the rejected one?

- Accuracy: the share of pairs where the chosen response scores higher, on the summed
  log-probability (length-sensitive: a shorter response tends to score higher) and on the
  per-token mean. A tie (equal scores) counts as half a pair, so a model that cannot tell
  the responses apart scores 0.5.
- Reward accuracy, with a reference model: the same on DPO's implicit reward, the log-ratio
  log p(y|x) - log p_ref(y|x) (beta only scales it). A model evaluated against itself has
  every log-ratio exactly 0: every pair ties, and the reward accuracy is 0.5.
- Confidence intervals: percentile bootstrap over pairs, with a fixed seed (deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from dpo_tui.core.models import PreferencePair, Rubric

RESAMPLES = 2000
LEVEL = 0.95
NO_CRITERION = "(none)"
"""The bucket of pairs that no criterion separates (a veto, or an adjudicated pair)."""


@dataclass(frozen=True)
class PairLogprobs:
    """One pair's log-probabilities: summed and per-token mean, of the chosen and rejected
    responses; and the difference of their log-ratios to a reference model, if any."""

    chosen: float
    rejected: float
    chosen_mean: float
    rejected_mean: float
    reward_margin: float | None = None


class Figures(BaseModel):
    """An evaluation's figures over a set of pairs (see the module's doc)."""

    pairs: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_accuracy: float
    mean_ci_low: float
    mean_ci_high: float
    mean_margin: float
    """Mean of chosen minus rejected summed log-probability."""
    mean_token_margin: float
    """Mean of chosen minus rejected per-token mean log-probability."""
    reward_accuracy: float | None = None
    reward_ci_low: float | None = None
    reward_ci_high: float | None = None
    reward_margin: float | None = None
    """Mean of chosen minus rejected log-ratio (DPO's reward margin with beta = 1)."""


def outcome(chosen: float, rejected: float) -> float:
    """1 if the chosen scores higher, 0 if lower, 0.5 for a tie."""
    return 1.0 if chosen > rejected else 0.5 if chosen == rejected else 0.0


def bootstrap_ci(
    values: Sequence[float], resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (resampled with replacement)."""
    if not values:
        raise ValueError("a bootstrap needs at least one value")
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, 2_000_000 // len(data))  # bounds memory: at most 16 MB of indices
    means = np.concatenate(
        [
            data[
                rng.integers(0, len(data), size=(min(per_chunk, resamples - done), len(data)))
            ].mean(axis=1)
            for done in range(0, resamples, per_chunk)
        ]
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def figures(items: Sequence[PairLogprobs], resamples: int = RESAMPLES, seed: int = 0) -> Figures:
    """The figures of a non-empty set of pairs; the reward ones when every pair has one."""
    if not items:
        raise ValueError("no pairs to compute figures on")
    summed = [outcome(p.chosen, p.rejected) for p in items]
    means = [outcome(p.chosen_mean, p.rejected_mean) for p in items]
    low, high = bootstrap_ci(summed, resamples, seed)
    mean_low, mean_high = bootstrap_ci(means, resamples, seed)
    result = Figures(
        pairs=len(items),
        accuracy=float(np.mean(summed)),
        ci_low=low,
        ci_high=high,
        mean_accuracy=float(np.mean(means)),
        mean_ci_low=mean_low,
        mean_ci_high=mean_high,
        mean_margin=float(np.mean([p.chosen - p.rejected for p in items])),
        mean_token_margin=float(np.mean([p.chosen_mean - p.rejected_mean for p in items])),
    )
    margins = [p.reward_margin for p in items if p.reward_margin is not None]
    if len(margins) == len(items):
        rewards = [outcome(margin, 0.0) for margin in margins]
        reward_low, reward_high = bootstrap_ci(rewards, resamples, seed)
        result.reward_accuracy = float(np.mean(rewards))
        result.reward_ci_low, result.reward_ci_high = reward_low, reward_high
        result.reward_margin = float(np.mean(margins))
    return result


def deciding_criterion(pair: PreferencePair, rubric: Rubric) -> str:
    """The criterion with the largest chosen-minus-rejected score gap, each rescaled to 0..1
    (the first in rubric order on a tie), or NO_CRITERION when none favours the chosen."""
    best, best_gap = NO_CRITERION, 0.0
    for criterion in rubric.criteria:
        high = pair.chosen_scores.get(criterion.key)
        low = pair.rejected_scores.get(criterion.key)
        if high is None or low is None:
            continue
        gap = (high - low) / (criterion.scale.max - criterion.scale.min)
        if gap > best_gap:
            best, best_gap = criterion.key, gap
    return best
