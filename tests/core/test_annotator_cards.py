"""Report cards on a hand-made project where every figure is known."""

from __future__ import annotations

import pytest

from dpo_tui.core.annotator_cards import CardInput, GoldReference, WorkedItem, annotator_cards
from dpo_tui.core.rubric import load_rubric
from tests.conftest import DATA

RUBRIC = load_rubric(DATA / "rubrics" / "good.toml").rubric
LENGTHS = {"a1": 100, "a2": 10, "b1": 20, "b2": 200}
W44, W45 = "2026-10-27T10:00:00+00:00", "2026-11-03T10:00:00+00:00"


def item(pid, who, scores, order, seconds, diagnosis, updated) -> WorkedItem:
    candidates = sorted(scores)
    cards = {cid: dict(zip(("clarity", "safety"), v, strict=True)) for cid, v in scores.items()}
    return WorkedItem(pid, who, candidates, cards, (), order, seconds, diagnosis, updated)


ITEMS = [
    # P1: both prefer a1 (the longer); alice saw it second, bob first; bob took 1 s
    item(
        "P1",
        "alice",
        {"a1": (5, 3), "a2": (1, 3)},
        ("a2", "a1"),
        60,
        "a1 is clearer and complete",
        W44,
    ),
    item("P1", "bob", {"a1": (4, 3), "a2": (2, 3)}, ("a1", "a2"), 1, "", W45),
    # P2 (gold: b1 over b2, clarity 5 for b1): alice agrees, one point off on clarity
    item("P2", "alice", {"b1": (4, 3), "b2": (2, 3)}, ("b1", "b2"), 30, "short", W44),
]
GOLD = {"P2": GoldReference("P2", "b1", "b2", {"b1": {"clarity": 5}}, "b1 answers it")}


@pytest.fixture(scope="module")
def cards():
    found = annotator_cards(RUBRIC, CardInput(ITEMS, LENGTHS, GOLD))
    return {card.annotator: card for card in [*found.cards, found.team]}


def test_work_and_speed(cards):
    alice, bob = cards["alice"], cards["bob"]
    assert (alice.items, bob.items, cards["team"].items) == (2, 1, 3)
    assert alice.hours == pytest.approx(90 / 3600, abs=0.005)
    assert (alice.median_seconds, alice.p10_seconds) == (45, 30)
    # the team's median is 30 s, a quarter of it 7.5 s: more than reading any item takes
    # (110 or 220 characters at 50 a second)
    assert (alice.too_fast, bob.too_fast) == (0.0, 1.0)


def test_gold(cards):
    gold = cards["alice"].gold
    assert (gold.items, gold.same_chosen, gold.same_direction) == (1, 1.0, 1.0)
    assert gold.mean_distance == {"clarity": 1.0}
    assert cards["bob"].gold.items == 0 and cards["bob"].gold.same_direction is None


def test_agreement_and_biases(cards):
    alice, bob = cards["alice"], cards["bob"]
    assert (alice.agreement, bob.agreement, alice.shared_items, bob.shared_items) == (1, 1, 1, 1)
    assert (alice.longer_chosen, bob.longer_chosen) == (0.5, 1.0)
    assert (alice.first_shown_chosen, bob.first_shown_chosen) == (0.5, 1.0)


def test_diagnoses_and_weeks(cards):
    alice, bob = cards["alice"], cards["bob"]
    assert (alice.empty_diagnoses, alice.short_diagnoses, alice.pasted_diagnoses) == (0, 0.5, 0)
    assert bob.empty_diagnoses == 1.0
    assert [(w.week, w.items, w.gold_same_direction) for w in alice.weeks] == [("2026-W44", 2, 1.0)]
    assert [(w.week, w.items, w.agreement) for w in bob.weeks] == [("2026-W45", 1, 1.0)]
    assert not alice.warnings and not bob.warnings  # too few items to warn on
