"""Benchmark: near-duplicate prompts at scale, blocked search vs exhaustive rapidfuzz.

A generated corpus (default 100,000 prompts of 8-80 words, from a vocabulary of about 3,500
words over eight domains, word frequencies Zipf-like) with planted near-duplicates (3% of
prompts copied with 1-3 character edits, case or whitespace changes, two words swapped or
one dropped). It measures:

(a) `near_duplicate_pairs` (prefix-filtered blocking, rapidfuzz to confirm) on the whole
    corpus: time, pairs found, and how many planted copies at >= 0.9 it found;
(b) on a sample (default 5,000 prompts, drawn as whole groups of a prompt and its copies, so
    it has the corpus's duplicate rate): `exhaustive_pairs` (every pair, the reference) vs
    `near_duplicate_pairs`: both times and their ratio, recall and precision, with
    `rapidfuzz.process.cdist` (all pairs in C++, one thread) as a second, faster reference;
    then exhaustive's cost on the whole corpus, extrapolated by the number of pairs.

Run: `python benchmarks/dedup.py [--prompts N] [--sample N] [--seed S]` (at the defaults,
about 15 minutes on 2 cores, most of it (a)).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import TypeVar

import numpy as np
from harness import Run
from rapidfuzz import fuzz, process

from dpo_tui.core.dedup import NEAR_DUPLICATE, exhaustive_pairs, near_duplicate_pairs
from dpo_tui.core.ids import normalize_text

T = TypeVar("T")

TARGET_RECALL = 0.95
DUPLICATE_SHARE = 0.03
MIN_WORDS, MAX_WORDS = 8, 80

FUNCTION_TEXT = """
the a an and or but if then so of to in on at for with from by about as into over after
before between through during without under is are was were be been being have has had do
does did can could should would will may might must not no it its this that these those
there here what which who whom whose when where why how all any each every some many much
more most other such only also just very too than i you he she we they me my your our their
them us one two three first new old same different like up out down off again still even
"""
FUNCTION_WORDS = FUNCTION_TEXT.split()
DOMAINS = {
    "support": ("My order", "How do I", "Why was I charged for", "I can't log in to"),
    "code": ("Fix this bug in", "Write a function that", "Why does my", "Explain this error:"),
    "cooking": ("Give me a recipe for", "How long should I cook", "What can I use instead of"),
    "travel": ("Plan a trip to", "What should I pack for", "Is it safe to visit"),
    "finance": ("Should I invest in", "How do I budget for", "Explain how taxes work on"),
    "health": ("What are the symptoms of", "Is it normal to", "How can I improve my"),
    "writing": ("Write a short story about", "Rewrite this email:", "Summarize the following:"),
    "science": ("Explain why", "What is the difference between", "How does a"),
}
DOMAIN_WORDS = 320
GENERAL_WORDS = 800
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
CODAS = ("", "", "", "n", "r", "s", "t", "l", "ng", "nd", "st", "ck")


class Vocabulary:
    """Invented words (the algorithm sees only letters and frequencies): real function words,
    general content words, and words of each domain, each list drawn Zipf-like (1/rank)."""

    def __init__(self, rng: random.Random) -> None:
        made: set[str] = set(FUNCTION_WORDS)
        total = GENERAL_WORDS + DOMAIN_WORDS * len(DOMAINS)
        pool: list[str] = []
        while len(pool) < total:
            syllables = rng.choices(SYLLABLES, k=rng.choice((1, 2, 2, 2, 3, 3, 4)))
            word = "".join(syllables) + rng.choice(CODAS)
            if word not in made:
                made.add(word)
                pool.append(word)
        self.general = pool[:GENERAL_WORDS]
        self.domain = {
            name: pool[GENERAL_WORDS + i * DOMAIN_WORDS : GENERAL_WORDS + (i + 1) * DOMAIN_WORDS]
            for i, name in enumerate(DOMAINS)
        }
        self.size = len(made)

    @staticmethod
    def zipf(words: list[str]) -> tuple[list[str], list[float]]:
        """The words and cumulative 1/rank weights for `random.choices`."""
        cumulative, running = [], 0.0
        for rank in range(1, len(words) + 1):
            running += 1 / rank
            cumulative.append(running)
        return words, cumulative


class PromptMaker:
    """Prompts of 8-80 words (most short): a domain's opener, then sentences mixing function
    words, the domain's words and general words, with the odd number."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        vocabulary = Vocabulary(self.rng)
        self.vocabulary_size = vocabulary.size
        self.function = Vocabulary.zipf(FUNCTION_WORDS)
        self.general = Vocabulary.zipf(vocabulary.general)
        self.domains = [
            (openers, Vocabulary.zipf(vocabulary.domain[name])) for name, openers in DOMAINS.items()
        ]

    def _word(self, domain: tuple[list[str], list[float]]) -> str:
        roll = self.rng.random()
        words, weights = self.function if roll < 0.45 else domain if roll < 0.8 else self.general
        if roll > 0.99:
            return str(self.rng.choice((2, 3, 5, 10, 24, 100, 2024, 404, 500)))
        return self.rng.choices(words, cum_weights=weights)[0]

    def prompt(self) -> str:
        openers, domain = self.rng.choice(self.domains)
        opener = self.rng.choice(openers)
        wanted = MIN_WORDS + int((MAX_WORDS - MIN_WORDS) * self.rng.random() ** 2)
        words = opener.split()
        sentence_end = len(words) + self.rng.randint(6, 18)
        while len(words) < wanted:
            word = self._word(domain)
            if len(words) == sentence_end:
                words[-1] += self.rng.choice("..,?")
                word = word.capitalize()
                sentence_end += self.rng.randint(6, 18)
            words.append(word)
        return " ".join(words) + self.rng.choice("?.?.!:")

    def sentence(self) -> str:
        """A sentence of 6-18 words from one domain (for response texts)."""
        _, domain = self.rng.choice(self.domains)
        words = [self._word(domain) for _ in range(self.rng.randint(6, 18))]
        return " ".join(words).capitalize() + self.rng.choice("....!?:")


def near_copy(text: str, rng: random.Random) -> str:
    """`text` with one or two edits: 1-3 character edits, a case or whitespace change, two
    neighbouring words swapped, or a word dropped."""
    for _ in range(rng.choice((1, 1, 2))):
        kind = rng.choice(("chars", "chars", "case", "space", "swap", "drop"))
        words = text.split(" ")
        if kind == "chars":
            chars = list(text)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(chars))
                edit = rng.choice(("insert", "delete", "replace"))
                if edit == "insert":
                    chars.insert(at, rng.choice("abcdefghijklmnopqrstuvwxyz"))
                elif edit == "delete" and len(chars) > 1:
                    del chars[at]
                else:
                    chars[at] = rng.choice("abcdefghijklmnopqrstuvwxyz")
            text = "".join(chars)
        elif kind == "case":
            text = rng.choice((text.lower(), text.upper(), text.title()))
        elif kind == "space":
            text = rng.choice(("  ", "\n", "\t ")).join(words) + rng.choice(("", " ", "\n"))
        elif kind == "swap" and len(words) > 2:
            at = rng.randrange(len(words) - 1)
            words[at], words[at + 1] = words[at + 1], words[at]
            text = " ".join(words)
        elif len(words) > 2:
            del words[rng.randrange(len(words))]
            text = " ".join(words)
    return text


@dataclass
class Corpus:
    """The prompts, and each planted copy's index -> the index of the prompt it copies."""

    texts: list[str]
    copied_from: dict[int, int]


def make_corpus(count: int, seed: int) -> Corpus:
    """`count` prompts, distinct once normalized (as prompt ids are), of which a
    `DUPLICATE_SHARE` are near-copies of earlier ones."""
    maker = PromptMaker(seed)
    rng = random.Random(seed + 1)
    texts: list[str] = []
    seen: set[str] = set()
    copied_from: dict[int, int] = {}
    while len(texts) < count:
        source = -1
        if len(texts) > 100 and rng.random() < DUPLICATE_SHARE:
            source = rng.randrange(len(texts))
            while source in copied_from:
                source = rng.randrange(len(texts))
        for _ in range(20):
            text = maker.prompt() if source < 0 else near_copy(texts[source], rng)
            key = normalize_text(text)
            if key not in seen:
                break
        else:
            continue
        seen.add(key)
        if source >= 0:
            copied_from[len(texts)] = source
        texts.append(text)
    return Corpus(texts, copied_from)


def group_sample(corpus: Corpus, size: int, seed: int) -> list[int]:
    """About `size` prompt indexes: whole groups (a prompt and its copies) drawn at random."""
    groups: dict[int, list[int]] = {}
    for index in range(len(corpus.texts)):
        groups.setdefault(corpus.copied_from.get(index, index), []).append(index)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    chosen: list[int] = []
    for group in order:
        if len(chosen) >= size:
            break
        chosen += group
    return sorted(chosen)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def cdist_pairs(texts: list[str]) -> set[tuple[int, int]]:
    """Every pair at >= NEAR_DUPLICATE by `rapidfuzz.process.cdist` (C++, one thread)."""
    normalized = [normalize_text(t) for t in texts]
    cutoff = round(NEAR_DUPLICATE * 100)
    found: set[tuple[int, int]] = set()
    for start in range(0, len(normalized), 1000):
        block = process.cdist(
            normalized[start : start + 1000],
            normalized,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            dtype=np.uint8,
            workers=1,
        )
        for row, column in zip(*np.nonzero(block), strict=True):
            first, second = start + int(row), int(column)
            if first < second:
                found.add((first, second))
    return found


def duration(seconds: float) -> str:
    return f"{seconds / 60:,.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def pair_count(n: int) -> int:
    return n * (n - 1) // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000, help="corpus size (100000)")
    parser.add_argument("--sample", type=int, default=5_000, help="sample size (5000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 2 <= args.sample <= args.prompts:
        parser.error("need 2 <= --sample <= --prompts")
    bench = Run("dedup")
    print(f"rapidfuzz {version('rapidfuzz')}, threshold {NEAR_DUPLICATE}")
    corpus, seconds = timed(lambda: make_corpus(args.prompts, args.seed))
    words = [len(t.split()) for t in corpus.texts]
    vocabulary = PromptMaker(args.seed).vocabulary_size
    print(
        f"corpus: {len(corpus.texts):,} prompts, {min(words)}-{max(words)} words (mean "
        f"{sum(words) / len(words):.1f}), vocabulary {vocabulary:,} words, "
        f"{len(corpus.copied_from):,} planted near-copies; generated in {seconds:.1f} s"
    )

    print(f"\n(a) near_duplicate_pairs on all {len(corpus.texts):,} prompts")
    full, full_seconds = timed(lambda: near_duplicate_pairs(corpus.texts))
    found = {(p.first, p.second) for p in full}
    planted = [
        (source, copy)
        for copy, source in corpus.copied_from.items()
        if fuzz.ratio(normalize_text(corpus.texts[source]), normalize_text(corpus.texts[copy]))
        >= NEAR_DUPLICATE * 100
    ]
    recovered = sum(1 for pair in planted if pair in found)
    print(f"  time {full_seconds:.2f} s, {len(full):,} pairs found")
    print(
        f"  planted copies still >= {NEAR_DUPLICATE} similar: {len(planted):,}, of which found "
        f"{recovered:,} ({recovered / len(planted):.2%})"
    )

    indexes = group_sample(corpus, args.sample, args.seed)
    sample = [corpus.texts[i] for i in indexes]
    print(f"\n(b) sample of {len(sample):,} prompts (whole groups of a prompt and its copies)")
    exhaustive, exhaustive_seconds = timed(lambda: exhaustive_pairs(sample))
    blocked, blocked_seconds = timed(lambda: near_duplicate_pairs(sample))
    reference, cdist_seconds = timed(lambda: cdist_pairs(sample))
    truth = {(p.first, p.second) for p in exhaustive}
    got = {(p.first, p.second) for p in blocked}
    assert reference == truth, "cdist and exhaustive_pairs disagree"
    recall = len(got & truth) / len(truth) if truth else 1.0
    precision = len(got & truth) / len(got) if got else 1.0
    print(f"  exhaustive_pairs        {exhaustive_seconds:8.2f} s  {len(truth):,} pairs")
    print(f"  cdist (C++, 1 thread)   {cdist_seconds:8.2f} s  (same pairs)")
    print(f"  near_duplicate_pairs    {blocked_seconds:8.2f} s  {len(got):,} pairs")
    print(
        f"  ratio exhaustive / blocked: {exhaustive_seconds / blocked_seconds:.1f}x "
        f"(cdist / blocked: {cdist_seconds / blocked_seconds:.1f}x)"
    )
    verdict = "PASS" if recall >= TARGET_RECALL else "MISS"
    print(
        f"  recall {recall:.4f} (target >= {TARGET_RECALL}: {verdict}), precision {precision:.4f}"
        f"; missed {len(truth - got)}"
    )

    growth = len(corpus.texts) / len(sample)
    print(
        f"\nnear_duplicate_pairs, sample to corpus: {full_seconds / blocked_seconds:,.0f}x the "
        f"time for {growth:,.0f}x the prompts (linear: {growth:,.0f}x, quadratic: "
        f"{growth**2:,.0f}x)"
    )
    scale = pair_count(len(corpus.texts)) / pair_count(len(sample))
    projected, projected_cdist = exhaustive_seconds * scale, cdist_seconds * scale
    print(
        f"exhaustive on {len(corpus.texts):,} prompts, extrapolated by pairs (x{scale:,.0f}): "
        f"{duration(projected)} (cdist {duration(projected_cdist)})"
    )
    print(
        f"ratio extrapolated exhaustive / blocked on {len(corpus.texts):,}: "
        f"{projected / full_seconds:,.0f}x "
        f"(cdist / blocked: {projected_cdist / full_seconds:,.0f}x)"
    )
    bench.figure("near_duplicate_pairs, corpus", full_seconds, "s")
    bench.figure("planted copies found, corpus", recovered / len(planted), "share", "higher")
    bench.figure("exhaustive_pairs, sample", exhaustive_seconds, "s")
    bench.figure("cdist, sample", cdist_seconds, "s")
    bench.figure("near_duplicate_pairs, sample", blocked_seconds, "s")
    bench.figure(
        "exhaustive / blocked, sample", exhaustive_seconds / blocked_seconds, "x", "higher"
    )
    bench.figure("recall, sample", recall, "share", "higher")
    bench.figure("precision, sample", precision, "share", "higher")
    bench.figure(
        "extrapolated exhaustive / blocked, corpus", projected / full_seconds, "x", "higher"
    )
    bench.save()


if __name__ == "__main__":
    main()
