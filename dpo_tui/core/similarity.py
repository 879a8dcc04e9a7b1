"""Near-identical texts: candidates of one prompt that carry no preference signal."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from dpo_tui.core.ids import normalize_text

NEAR_IDENTICAL = 0.92


def near_duplicates(
    texts: Sequence[str], threshold: float = NEAR_IDENTICAL
) -> dict[int, tuple[int, float]]:
    """For each text at least `threshold` similar (0..1, normalized Indel ratio) to an earlier
    one: its index -> (index of the most similar earlier text, similarity)."""
    normalized = [normalize_text(t) for t in texts]
    found: dict[int, tuple[int, float]] = {}
    for later in range(1, len(normalized)):
        best = max(
            (
                (earlier, fuzz.ratio(normalized[later], normalized[earlier]) / 100)
                for earlier in range(later)
            ),
            key=lambda pair: pair[1],
        )
        if best[1] >= threshold:
            found[later] = best
    return found
