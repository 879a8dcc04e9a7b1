"""Staged rounds: which pairs a round of N exports, stratified by source, nested in earlier
rounds (round 1's 100 pairs are inside round 2's 500), deterministic for a seed."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence

from dpo_tui.core.models import PreferencePair

PairKey = tuple[str, str, str]


def pair_key(pair: PreferencePair) -> PairKey:
    return (pair.prompt_id, pair.chosen_id, pair.rejected_id)


def select_round(
    pairs: Sequence[PreferencePair],
    limit: int | None,
    earlier: Collection[PairKey] = (),
    seed: int = 0,
) -> list[PreferencePair]:
    """All pairs, or `limit` of them: first those exported in earlier rounds, then the rest
    spread over sources in proportion to their share (largest remainder), in a seeded order."""
    if limit is None or limit >= len(pairs):
        return list(pairs)
    earlier_set = set(earlier)
    kept = [p for p in pairs if pair_key(p) in earlier_set][:limit]
    slots = limit - len(kept)
    by_source: dict[str, list[PreferencePair]] = defaultdict(list)
    for pair in pairs:
        if pair_key(pair) not in earlier_set:
            by_source[pair.source].append(pair)
    remaining = sum(len(group) for group in by_source.values())
    if slots <= 0 or remaining == 0:
        return kept
    shares = {s: slots * len(g) / remaining for s, g in by_source.items()}
    quota = {s: int(share) for s, share in shares.items()}
    leftover = slots - sum(quota.values())
    for source in sorted(shares, key=lambda s: (-(shares[s] - quota[s]), s))[:leftover]:
        quota[source] += 1
    chosen: set[PairKey] = set()
    for source, group in by_source.items():
        ordered = sorted(group, key=lambda p: _rank(p, seed))
        chosen.update(pair_key(p) for p in ordered[: quota[source]])
    return kept + [p for p in pairs if pair_key(p) in chosen]


def _rank(pair: PreferencePair, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}:{':'.join(pair_key(pair))}".encode()).digest()
