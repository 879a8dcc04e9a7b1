"""Near-duplicate texts at scale: prefix-filtered blocking, then rapidfuzz to confirm.

Comparing every pair is quadratic (5 * 10**9 comparisons for 100,000 prompts). Instead each
text is indexed under its rarest word bigrams (pairs of consecutive words, ordered by how rare
they are in the whole collection; single words for a one-word text): two texts that are nearly
identical share most of their bigrams, so they share one of those rare ones, and only texts
that do are compared. A length filter drops pairs whose lengths alone rule out the threshold.
(Indexing under half of each text's words was near-quadratic on templated prompts: 707 s for
100,000 against 41 s this way, with recall 0.993 against exhaustive comparison.)
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from dpo_tui.core.ids import normalize_text

NEAR_DUPLICATE = 0.9
NEAR_IDENTICAL_CANDIDATES = 0.92
PREFIX_SIZE = 12
MAX_KEPT = 50
"""The most near-duplicate pairs kept per text (its closest earlier ones): enough to put it in
its cluster for the split, without the all-pairs list (millions of pairs, gigabytes) that a
file of thousands of prompts filled from one template would make. Comparing stays quadratic
in that case (every prompt is a near-duplicate of every other): capping the comparisons lost
matches in the benchmark corpus, where a prompt can meet 4,000 candidates."""
"""How many of a text's rarest bigrams it is indexed under: near-duplicates at 0.9 share most
of theirs, so they share one of these; more is slower, fewer misses more."""


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
    lengths = [len(t) for t in normalized]
    shingles = [_bigrams(t) for t in normalized]
    rarity = Counter(itertools.chain.from_iterable(shingles)).__getitem__
    index: defaultdict[str, list[int]] = defaultdict(list)
    cutoff = threshold * 100
    slack = 1 - threshold
    found: list[SimilarPair] = []
    for current, distinct in enumerate(shingles):
        # rarest first, ties in a fixed order: two sorts in C, the second one stable
        prefix = sorted(sorted(distinct), key=rarity)[:PREFIX_SIZE]
        size = lengths[current]
        others = {
            other: normalized[other]
            for other in set().union(*[index[shingle] for shingle in prefix])
            if abs(lengths[other] - size) <= slack * (lengths[other] + size)
        }
        # compared in C, the best MAX_KEPT kept
        best = process.extract(
            normalized[current], others, scorer=fuzz.ratio, score_cutoff=cutoff, limit=MAX_KEPT
        )
        found += [SimilarPair(other, current, score / 100) for _, score, other in best]
        for shingle in prefix:
            index[shingle].append(current)
    return sorted(found, key=lambda p: (p.first, p.second))


def _bigrams(text: str) -> set[str]:
    words = text.split()
    if len(words) < 2:
        return set(words)
    return set(map(" ".join, itertools.pairwise(words)))


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
