"""The decision after training, from constructed figures: a gain, no measurable gain, a loss;
and the settings a run records."""

from __future__ import annotations

import pytest

from dpo_tui.core.training import (
    FULL_LEARNING_RATE,
    LORA_LEARNING_RATE,
    TrainSettings,
    decide,
    points,
)


def test_a_clear_gain_says_scale():
    decision = decide(0.60, 0.69, (0.03, 0.15), 100)
    assert decision.verdict == "gain"
    assert decision.text.startswith("+9 points [3, 15]: scale to the next round")
    assert "60% -> 69% on 100 held-out pairs" in decision.text
    assert decision.difference == pytest.approx(0.09)


def test_no_measurable_gain_says_revise_the_rubric():
    decision = decide(0.60, 0.61, (-0.06, 0.08), 100)
    assert decision.verdict == "no measurable gain"
    assert decision.text.startswith(
        "+1 point [-6, 8]: revise the rubric or check agreement before adding pairs"
    )


def test_a_loss_says_check_the_pairs():
    decision = decide(0.70, 0.58, (-0.20, -0.04), 50)
    assert decision.verdict == "loss"
    assert decision.text.startswith("-12 points [-20, -4]: the trained model prefers")
    assert "check the round's pairs" in decision.text


@pytest.mark.parametrize(
    ("ci", "verdict"),
    [
        ((0.0, 0.1), "no measurable gain"),  # an interval touching 0 is not a gain
        ((-0.1, 0.0), "no measurable gain"),
        ((0.001, 0.1), "gain"),
        ((-0.1, -0.001), "loss"),
    ],
)
def test_the_thresholds_are_the_interval_ends(ci: tuple[float, float], verdict: str):
    assert decide(0.5, 0.5 + sum(ci) / 2, ci, 10).verdict == verdict


def test_points_are_signed_and_rounded():
    assert (points(0.09), points(-0.061), points(0.004), points(0.0)) == ("+9", "-6", "0", "0")


def test_settings_resolve_the_learning_rate_by_method():
    assert TrainSettings().lr == LORA_LEARNING_RATE
    assert TrainSettings(full=True).lr == FULL_LEARNING_RATE
    assert TrainSettings(learning_rate=1e-3, full=True).lr == 1e-3
    record = TrainSettings().record()
    assert record["method"] == "lora" and record["learning_rate"] == LORA_LEARNING_RATE
    assert (record["lora_r"], record["lora_alpha"], record["lora_dropout"]) == (16, 32, 0.05)
