"""Train/validation split grouped by prompt and near-duplicate cluster, stable across rounds.

A cluster goes to validation when a hash of (seed, its key) falls below the validation
fraction: no prompt, and no near-copy of a prompt, is ever on both sides; the same seed
always splits the same way; and a cluster keeps its side as the data set grows, so the
validation set of round 2 contains round 1's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from dpo_tui.core.models import PreferencePair


def in_validation(cluster_key: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{cluster_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_pairs(
    pairs: Sequence[PreferencePair],
    fraction: float,
    seed: int,
    cluster_of: Mapping[str, str] | None = None,
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, validation); `cluster_of` maps a prompt id to its cluster key (default: itself)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    clusters = cluster_of or {}
    train: list[PreferencePair] = []
    validation: list[PreferencePair] = []
    for pair in pairs:
        key = clusters.get(pair.prompt_id, pair.prompt_id)
        (validation if in_validation(key, fraction, seed) else train).append(pair)
    return train, validation
