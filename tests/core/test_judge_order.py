"""The judge's margin per item, by hand, and the orders built on it.

The test rubric: clarity 1..5 (span 4, weight 1), safety 1..3 (span 2, weight 2); a total is
(1 * (clarity - 1) / 4 + 2 * (safety - 1) / 2) / 3."""

from __future__ import annotations

import pytest

from dpo_tui.core.judge_order import (
    judge_margin,
    judge_margins,
    ordered,
    shuffled,
    uncertain_first,
)
from dpo_tui.core.rubric import load_rubric
from tests.conftest import DATA

RUBRIC = load_rubric(DATA / "rubrics" / "good.toml").rubric


def card(clarity: int, safety: int) -> dict[str, int]:
    return {"clarity": clarity, "safety": safety}


def test_margin_is_the_gap_of_the_two_best_less_the_noise_of_the_samples():
    cards = {
        # combined (4, 3): total (3/4 + 2) / 3 = 11/12; clarity sd 1 -> 1/4, safety 0
        "a": [card(5, 3), card(3, 3)],
        # combined (3, 2): total (2/4 + 1) / 3 = 1/2; clarity 0, safety sd 1 -> 1/2
        "b": [card(3, 3), card(3, 1)],
        # combined (1, 1): total 0; no spread
        "c": [card(1, 1), card(1, 1)],
    }
    # gap 11/12 - 1/2 = 10/24; noise (1/4 + 0 + 0 + 1/2 + 0 + 0) / 6 = 3/24
    assert judge_margin(RUBRIC, cards) == pytest.approx(7 / 24)


def test_one_sample_has_no_noise():
    # totals 1 and (3/4 + 2) / 3 = 11/12
    assert judge_margin(RUBRIC, {"a": [card(5, 3)], "b": [card(4, 3)]}) == pytest.approx(1 / 12)


def test_the_combined_card_rounds_half_up_and_its_samples_still_count_as_noise():
    # a: clarity 4 and 5 -> 4.5 -> 5, total 1; clarity sd 1/2 -> 1/8; b: total 0
    margin = judge_margin(RUBRIC, {"a": [card(4, 3), card(5, 3)], "b": [card(1, 1)]})
    assert margin == pytest.approx(1 - (1 / 8) / 4)


def test_noise_over_the_gap_makes_a_negative_margin():
    # a: clarity 5 and 1 -> 3, total 5/6, clarity sd 2 -> 1/2; b: total 5/6
    margin = judge_margin(RUBRIC, {"a": [card(5, 3), card(1, 3)], "b": [card(3, 3)]})
    assert margin == pytest.approx(0 - (1 / 2) / 4)


def test_only_full_cards_count_and_fewer_than_two_give_no_margin():
    partial = {"a": [{"clarity": 5}], "b": [card(5, 3)], "c": [card(1, 1)]}
    assert judge_margin(RUBRIC, partial) == pytest.approx(1.0)
    assert judge_margin(RUBRIC, {"a": [{"clarity": 5}], "b": [card(5, 3)]}) is None
    assert judge_margin(RUBRIC, {"a": [card(5, 3)]}) is None
    assert judge_margin(RUBRIC, {"a": [], "b": [card(5, 3)]}) is None
    assert judge_margin(RUBRIC, {}) is None


def test_margins_leave_out_items_without_one():
    by_prompt = {"p1": {"a": [card(5, 3)], "b": [card(4, 3)]}, "p2": {"a": [card(5, 3)]}}
    assert judge_margins(RUBRIC, by_prompt) == {"p1": pytest.approx(1 / 12)}


def test_uncertain_first_is_stable_and_puts_unscored_items_last_in_their_order():
    margins = {"p1": 0.5, "p2": 0.1, "p3": 0.5, "p4": -0.2}
    ids = ["p5", "p1", "p2", "p6", "p3", "p4"]
    assert uncertain_first(ids, margins) == ["p4", "p2", "p1", "p3", "p5", "p6"]
    assert ordered(ids, "uncertain", margins=margins) == uncertain_first(ids, margins)
    assert uncertain_first(ids, {}) == ids


def test_shuffled_is_fixed_by_the_seed_alone():
    ids = [f"p{i}" for i in range(30)]
    first = shuffled(ids, 0)
    assert sorted(first) == sorted(ids) and first != ids
    assert shuffled(list(reversed(ids)), 0) == first
    assert shuffled(ids, 1) != first
    assert ordered(ids, "random", seed=0) == first


def test_file_order_is_kept_and_uncertain_needs_margins():
    ids = ["b", "a", "c"]
    assert ordered(ids, "file") == ids
    with pytest.raises(ValueError, match="margins"):
        ordered(ids, "uncertain")
