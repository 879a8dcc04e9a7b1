"""Correlation coefficients in numpy (a few lines that save a dependency on scipy, which dpo-tui
does not otherwise need):

- `pearson`: Pearson's r.
- `spearman`: Spearman's rho, Pearson's r of the average ranks (ties share the mean of their
  positions), as `scipy.stats.spearmanr` computes it.

Both return None with fewer than three values, or when either variable is constant (r is
undefined there: 0/0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_VALUES = 3
"""Fewer values than this: no correlation is computed."""


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r of two equally long arrays; None if undefined."""
    if len(x) < MIN_VALUES or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks, from 1 (ties share the mean of their positions), as Spearman's rho needs."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rho of two equally long sequences; None if undefined."""
    first, second = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(first) != len(second):
        raise ValueError(f"{len(first)} and {len(second)} values: they must pair up")
    if len(first) < MIN_VALUES:
        return None
    return pearson(ranks(first), ranks(second))
