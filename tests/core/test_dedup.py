import random

from dpo_tui.core.dedup import (
    SimilarPair,
    closest_earlier,
    clusters,
    exhaustive_pairs,
    near_duplicate_pairs,
)


def test_near_identical_texts_are_flagged_against_the_closest_earlier_one():
    texts = [
        "I'm sorry your order hasn't arrived. Can you send me the order number?",
        "Orders take 5-7 business days. Contact shipping if it is later.",
        "I'm sorry your order hasn't arrived! Can you send me your order number?",
        "i'm SORRY your order hasn't   arrived. Can you send me the order number?",
    ]
    found = closest_earlier(texts)
    assert set(found) == {2, 3}
    assert found[3] == (0, 1.0)
    assert found[2][0] == 0 and 0.92 <= found[2][1] < 1


def test_distinct_texts_are_not_flagged():
    assert closest_earlier(["yes", "no", "maybe later", ""]) == {}


def perturb(text: str, rng: random.Random) -> str:
    """A near-copy: one or two characters changed, case and spacing varied."""
    chars = list(text)
    for _ in range(rng.randint(1, 2)):
        chars[rng.randrange(len(chars))] = rng.choice("abcdefghij ")
    return "".join(chars).upper() if rng.random() < 0.3 else "".join(chars)


def test_blocking_finds_what_exhaustive_comparison_finds():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)] + ["the", "a", "my", "order", "is", "late"] * 20
    base = [" ".join(rng.choice(words) for _ in range(rng.randint(6, 30))) for _ in range(300)]
    texts = base + [perturb(rng.choice(base), rng) for _ in range(60)]
    expected = {(p.first, p.second) for p in exhaustive_pairs(texts)}
    found = {(p.first, p.second) for p in near_duplicate_pairs(texts)}
    assert found <= expected
    assert len(expected) >= 50
    assert len(found) >= 0.95 * len(expected)


def test_clusters_follow_chains_of_pairs():
    pairs = [SimilarPair(0, 2, 0.95), SimilarPair(2, 5, 0.91), SimilarPair(3, 4, 0.9)]
    assert clusters(6, pairs) == [0, 1, 0, 3, 3, 0]
