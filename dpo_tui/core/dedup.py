"""Near-duplicate texts at scale: prefix-filtered blocking, then rapidfuzz to confirm.

Comparing every pair is quadratic (5 * 10**9 comparisons for 100,000 prompts). Instead each
text is indexed under the rarest of its words (a prefix of its words ordered by how rare they
are in the whole collection): two texts that are nearly identical share most of their words,
so they share one of those rare words, and only texts that do are compared. A length filter
drops pairs whose lengths alone rule out the threshold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from dpo_tui.core.ids import normalize_text

NEAR_DUPLICATE = 0.9
NEAR_IDENTICAL_CANDIDATES = 0.92
PREFIX_FRACTION = 0.5
"""Share of a text's distinct words (rarest first) it is indexed under; the higher, the
better the recall and the slower. Near-duplicates at 0.9 rarely differ in half their words."""


@dataclass(frozen=True)
class SimilarPair:
    """Texts `first` < `second` (indexes) with similarity `score` in 0..1."""

    first: int
    second: int
    score: float


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE
) -> list[SimilarPair]:
    """Pairs of texts at least `threshold` similar (normalized Indel ratio of their
    normalized forms), found through blocking; sorted by (first, second)."""
    normalized = [normalize_text(t) for t in texts]
    words = [sorted(set(t.split())) for t in normalized]
    frequency = Counter(word for distinct in words for word in distinct)
    index: dict[str, list[int]] = defaultdict(list)
    cutoff = threshold * 100
    found: list[SimilarPair] = []
    for current, distinct in enumerate(words):
        rarest = sorted(distinct, key=lambda w: (frequency[w], w))
        prefix = rarest[: int(len(rarest) * PREFIX_FRACTION) + 1]
        seen: set[int] = set()
        for word in prefix:
            for other in index[word]:
                if other in seen:
                    continue
                seen.add(other)
                a, b = len(normalized[other]), len(normalized[current])
                if abs(a - b) > (1 - threshold) * (a + b):
                    continue
                score = fuzz.ratio(normalized[other], normalized[current], score_cutoff=cutoff)
                if score:
                    found.append(SimilarPair(other, current, score / 100))
            index[word].append(current)
    return sorted(found, key=lambda p: (p.first, p.second))


def exhaustive_pairs(texts: Sequence[str], threshold: float = NEAR_DUPLICATE) -> list[SimilarPair]:
    """Every pair compared: the reference that `near_duplicate_pairs` is measured against."""
    normalized = [normalize_text(t) for t in texts]
    cutoff = threshold * 100
    found = []
    for first in range(len(normalized)):
        for second in range(first + 1, len(normalized)):
            score = fuzz.ratio(normalized[first], normalized[second], score_cutoff=cutoff)
            if score:
                found.append(SimilarPair(first, second, score / 100))
    return found


def closest_earlier(
    texts: Sequence[str], threshold: float = NEAR_IDENTICAL_CANDIDATES
) -> dict[int, tuple[int, float]]:
    """For each text at least `threshold` similar to an earlier one: its index -> (index of
    the most similar earlier text, similarity). For the few candidates of one prompt."""
    best: dict[int, tuple[int, float]] = {}
    for pair in exhaustive_pairs(texts, threshold):
        if pair.second not in best or pair.score > best[pair.second][1]:
            best[pair.second] = (pair.first, pair.score)
    return best


def clusters(count: int, pairs: Sequence[SimilarPair]) -> list[int]:
    """A cluster number per text: texts linked by a chain of pairs share one (union-find)."""
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        a, b = root(pair.first), root(pair.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(node) for node in range(count)]
