"""Pair policies on hand-made score tables; the test rubric has clarity 1-5 (weight 1) and
safety 1-3 (weight 2, veto below 2), so total = (clarity-1)/4 * 1/3 + (safety-1)/2 * 2/3."""

import pytest

from dpo_tui.core.pairs import AnnotatorPair, extract_pairs
from dpo_tui.core.rubric import load_rubric
from dpo_tui.core.scoring import total, vetoes
from tests.conftest import DATA

RUBRIC = load_rubric(DATA / "rubrics" / "good.toml").rubric


def s(clarity: int, safety: int) -> dict[str, int]:
    return {"clarity": clarity, "safety": safety}


def test_total_is_weighted_mean_of_rescaled_scores():
    assert total(RUBRIC, s(5, 3)) == pytest.approx(1.0)
    assert total(RUBRIC, s(1, 1)) == pytest.approx(0.0)
    assert total(RUBRIC, s(3, 2)) == pytest.approx(0.5 / 3 + 0.5 * 2 / 3)
    assert total(RUBRIC, {"clarity": 5}) is None
    assert vetoes(RUBRIC, s(5, 1)) == ["safety"]
    assert vetoes(RUBRIC, s(5, 2)) == []


def test_best_worst_picks_top_and_bottom():
    outcome = extract_pairs(RUBRIC, [("a", s(3, 3)), ("b", s(5, 3)), ("c", s(1, 2))])
    assert outcome.pairs == (AnnotatorPair("b", "c", pytest.approx(1 - 1 / 3)),)


def test_tie_below_margin_makes_no_pair():
    outcome = extract_pairs(RUBRIC, [("a", s(4, 3)), ("b", s(5, 3))], min_margin=0.1)
    assert outcome.pairs == ()
    assert outcome.reason == "tie: margin 0.08 is below 0.10"
    assert extract_pairs(RUBRIC, [("a", s(4, 3)), ("b", s(5, 3))], min_margin=0.05).pairs


def test_equal_totals_keep_display_order():
    outcome = extract_pairs(RUBRIC, [("a", s(5, 3)), ("b", s(5, 3)), ("c", s(1, 3))])
    assert [(p.chosen, p.rejected) for p in outcome.pairs] == [("a", "c")]


@pytest.mark.parametrize("flag", ["skip", "tie", "all_bad", "unclear"])
def test_flags_withhold_pairs(flag: str):
    outcome = extract_pairs(RUBRIC, [("a", s(5, 3)), ("b", s(1, 3))], flags=[flag])
    assert outcome.pairs == ()
    assert outcome.reason == f"flagged {flag}"


def test_incomplete_scores_and_single_candidate():
    assert extract_pairs(RUBRIC, [("a", s(5, 3)), ("b", {"clarity": 1})]).reason == (
        "not every candidate is fully scored"
    )
    assert extract_pairs(RUBRIC, [("a", s(5, 3))]).reason == "fewer than two candidates"


def test_vetoed_candidate_is_never_chosen_but_can_be_rejected_whatever_the_margin():
    # a scores highest on clarity but fails the safety veto; b is safe but plainer.
    outcome = extract_pairs(RUBRIC, [("a", s(5, 1)), ("b", s(2, 2))])
    [pair] = outcome.pairs
    assert (pair.chosen, pair.rejected, pair.by_veto) == ("b", "a", True)
    assert pair.margin < 0.1
    assert extract_pairs(RUBRIC, [("a", s(5, 1)), ("b", s(1, 1))]).reason == (
        "every candidate fails a veto"
    )


@pytest.mark.parametrize("order", ["xyz", "xzy", "yxz", "yzx", "zxy", "zyx"])
def test_tied_vetoed_candidates_keep_display_order(order: str):
    # w is safe; x, y, z fail the veto with equal totals: the rejected one (ranked last) is
    # the last of them on screen, whatever the ids (a set here once made it hash-dependent).
    table = [("w", s(1, 2))] + [(cid, s(3, 1)) for cid in order]
    [pair] = extract_pairs(RUBRIC, table, policy="best-worst").pairs
    assert (pair.chosen, pair.rejected) == ("w", order[-1])


def test_best_vs_rest_and_all_pairs():
    table = [("a", s(5, 3)), ("b", s(3, 3)), ("c", s(1, 3)), ("d", s(5, 3))]
    rest = extract_pairs(RUBRIC, table, policy="best-vs-rest")
    assert [(p.chosen, p.rejected) for p in rest.pairs] == [("a", "b"), ("a", "c")]
    every = extract_pairs(RUBRIC, table, policy="all-pairs")
    assert {(p.chosen, p.rejected) for p in every.pairs} == {
        ("a", "b"),
        ("a", "c"),
        ("d", "b"),
        ("d", "c"),
        ("b", "c"),
    }
    assert all(p.margin >= 0.1 for p in every.pairs)


def test_totals_given_are_used_in_place_of_the_scores():
    table = [("a", s(3, 3)), ("b", s(5, 3))]
    assert extract_pairs(RUBRIC, table).pairs[0].chosen == "b"
    outcome = extract_pairs(RUBRIC, table, totals={"a": 0.9, "b": 0.1})
    assert outcome.pairs == (AnnotatorPair("a", "b", pytest.approx(0.8)),)
    assert extract_pairs(RUBRIC, table, totals={"a": 0.9}).reason == (
        "not every candidate is fully scored"
    )
