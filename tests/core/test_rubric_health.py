"""Rubric health on hand-made data where every figure is known (alpha and Spearman's rho
against the reference implementations)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy.stats import spearmanr

from dpo_tui.core.models import Rubric
from dpo_tui.core.pairs import ProjectPair
from dpo_tui.core.rubric_health import HealthInput, rubric_health


def criterion(key: str, high: int, weight: float = 1.0, **extra: object) -> dict:
    return {
        "key": key,
        "label": key.title(),
        "question": f"{key}?",
        "weight": weight,
        "scale": {"min": 1, "max": high, "labels": {1: "bad", high: "good"}},
        **extra,
    }


RUBRIC = Rubric.model_validate(
    {
        "rubric": {"name": "r", "domain": "d", "description": "x", "success": "y"},
        "criteria": [
            criterion("a", 5),
            criterion("b", 5),
            criterion("c", 3, weight=2.0, veto_below=2),
        ],
    }
)
CARDS = {
    ("P1", "alice"): {"x1": {"a": 5, "b": 5, "c": 3}, "x2": {"a": 1, "b": 1, "c": 3}},
    ("P1", "bob"): {"x1": {"a": 4, "b": 4, "c": 3}, "x2": {"a": 2, "b": 2, "c": 3}},
    ("P2", "alice"): {"y1": {"a": 3, "b": 3, "c": 3}, "y2": {"a": 2, "b": 2, "c": 2}},
    ("P2", "bob"): {"y1": {"a": 3, "b": 3, "c": 3}, "y2": {"a": 2, "b": 2, "c": 3}},
}
LENGTHS = {"x1": 100, "x2": 10, "y1": 50, "y2": 20}


def pair(pid, chosen, rejected, cs, rs, status="agreed", by_veto=False) -> ProjectPair:
    return ProjectPair(pid, chosen, rejected, 0.5, by_veto, status, ("alice",), cs, rs, "")


PAIRS = [
    # a and b make the same difference (0.75): the first criterion counts as deciding
    pair("P1", "x1", "x2", {"a": 4.5, "b": 4.5, "c": 3}, {"a": 1.5, "b": 1.5, "c": 3}),
    # a 0.25, b 0.25, c 2 * 0.5 / 2 = 0.5: c decides
    pair("P2", "y1", "y2", {"a": 3, "b": 3, "c": 3}, {"a": 2, "b": 2, "c": 2.5}),
    # a veto: c decides whatever the others
    pair("P3", "z1", "z2", {"a": 1, "b": 1, "c": 3}, {"a": 5, "b": 5, "c": 1}, by_veto=True),
    pair("P2", "y2", "y1", {}, {}, status="disputed"),
]


@pytest.fixture(scope="module")
def health():
    return {c.key: c for c in rubric_health(RUBRIC, 3, HealthInput(CARDS, LENGTHS, PAIRS)).criteria}


def test_counts_shares_and_spread(health):
    assert [health[k].scores for k in "abc"] == [8, 8, 8]
    assert (health["a"].top_value, health["a"].top_share) == (2, 3 / 8)
    assert (health["c"].top_value, health["c"].top_share) == (3, 7 / 8)
    # per (prompt, annotator): a spreads 2.0, 1.0, 0.5, 0.5; c 0, 0, 0.5, 0
    assert health["a"].within_prompt_spread == pytest.approx(1.0)
    assert health["c"].within_prompt_spread == pytest.approx(0.125)
    assert health["a"].spread_items == 4


def test_alpha_is_krippendorffs_ordinal(health):
    for key in "abc":
        units = [
            [
                CARDS[(p, who)][cid][key]
                for (p, _), item in CARDS.items()
                if _ == "alice"
                for cid in item
            ]
            for who in ("alice", "bob")
        ]
        expected = krippendorff.alpha(np.array(units, dtype=float), level_of_measurement="ordinal")
        assert health[key].alpha == pytest.approx(expected)
        assert health[key].alpha_units == 4


def test_which_criterion_decides_each_pair(health):
    assert health["a"].decides_share == pytest.approx(1 / 3)
    assert health["b"].decides_share == 0
    assert health["c"].decides_share == pytest.approx(2 / 3)


def test_correlations_and_length(health):
    assert health["a"].correlations["b"] == pytest.approx(1.0)
    values = [card["a"] for item in CARDS.values() for card in item.values()]
    lengths = [LENGTHS[cid] for item in CARDS.values() for cid in item]
    assert health["a"].length_correlation == pytest.approx(spearmanr(values, lengths).statistic)
    assert health["a"].length_correlation == pytest.approx(0.956, abs=1e-3)


def test_gap_on_disputed_items(health):
    # P2 is disputed: y1 a 3/3, y2 a 2/2 -> 0; c: y1 3/3, y2 2/3 -> mean 0.5
    assert (health["a"].disputed_gap, health["c"].disputed_gap) == (0.0, 0.5)
    assert health["c"].disputed_units == 2


def test_advice_names_the_number():
    advice = [
        line
        for c in rubric_health(RUBRIC, 1, HealthInput(CARDS, LENGTHS, PAIRS)).criteria
        for line in c.advice
    ]
    assert "a and b: correlation 1.00: they measure the same thing" in " ".join(advice)
    assert any(line.startswith("a: correlation 0.96 with response length") for line in advice)


def test_a_flat_noisy_criterion_is_told_what_to_do():
    """30 candidates, c is 3 except where each annotator gives a 1 or 2 the other does not."""
    cards = {}
    for n in range(30):
        for who, odd in (("alice", {0: 1, 1: 2}), ("bob", {2: 1, 3: 2})):
            card = {"a": 1 + n % 5, "b": 1 + (n * 2) % 5, "c": odd.get(n, 3)}
            cards.setdefault((f"P{n // 2}", who), {})[f"k{n}"] = card
    [_, _, c] = rubric_health(RUBRIC, 1, HealthInput(cards, {}, [])).criteria
    assert c.top_share == pytest.approx(56 / 60) and c.alpha is not None and c.alpha < 0.667
    assert c.advice[0] == (
        f"c: alpha {c.alpha:.2f} and 93% of scores are 3: its scale does not separate "
        "responses; give its guidance examples of 1 and 2"
    )
