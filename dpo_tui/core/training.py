"""What to do after training on a round: the guides' decision, from the paired bootstrap
interval of the trained model's accuracy minus the base model's on the round's held-out pairs.

- a clear gain (the interval's low end above 0): scale to the next round;
- a loss (the interval's high end below 0): the data teaches the wrong preference;
- otherwise no measurable gain: revise the rubric or check agreement before adding pairs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Verdict = Literal["gain", "no measurable gain", "loss"]
Device = Literal["auto", "cpu", "cuda"]
GgufType = Literal["q8_0", "f16"]
GGUF_TYPES: tuple[GgufType, ...] = ("q8_0", "f16")
"""The tensor types a trained model's GGUF file has its matrices in (vectors stay float32)."""

LORA_LEARNING_RATE = 5e-5
FULL_LEARNING_RATE = 5e-6


class TrainSettings(BaseModel):
    """Every hyperparameter of a run (what the run record stores)."""

    epochs: float = 1.0
    beta: float = 0.1
    learning_rate: float | None = None
    """None: LORA_LEARNING_RATE, or FULL_LEARNING_RATE with `full`."""
    batch_size: int = 2
    full: bool = False
    """Full fine-tuning instead of LoRA."""
    device: Device = "auto"
    seed: int = 0
    max_length: int = 1024
    """Most tokens of a prompt and a response together (longer pairs are truncated)."""
    save_steps: int = 25
    """A resumable checkpoint every this many steps (and at an interruption)."""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: str = "all-linear"

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return FULL_LEARNING_RATE if self.full else LORA_LEARNING_RATE

    @property
    def method(self) -> str:
        return "full" if self.full else "lora"

    def record(self) -> dict[str, object]:
        """The settings as stored, the learning rate resolved."""
        return self.model_dump() | {"learning_rate": self.lr, "method": self.method}


ADVICE: dict[Verdict, str] = {
    "gain": "scale to the next round",
    "no measurable gain": "revise the rubric or check agreement before adding pairs",
    "loss": "the trained model prefers the chosen responses less often than the base: check "
    "the round's pairs (agreement, disputed items, a reversed criterion) and the training "
    "settings before adding pairs",
}


class Decision(BaseModel):
    """The decision, with the numbers it rests on (accuracies as shares of pairs)."""

    verdict: Verdict
    difference: float
    """Trained model's accuracy minus the base's."""
    ci_low: float
    ci_high: float
    pairs: int
    base_accuracy: float
    trained_accuracy: float
    text: str


def points(value: float) -> str:
    """A share as signed percentage points, rounded: 0.09 -> '+9'."""
    rounded = round(100 * value)
    return f"{rounded:+d}" if rounded else "0"


def decide(
    base_accuracy: float, trained_accuracy: float, ci: tuple[float, float], pairs: int
) -> Decision:
    """The decision from the two accuracies and the paired bootstrap interval `ci` of their
    difference (trained minus base)."""
    low, high = ci
    difference = trained_accuracy - base_accuracy
    verdict: Verdict = "gain" if low > 0 else "loss" if high < 0 else "no measurable gain"
    unit = "point" if abs(round(100 * difference)) == 1 else "points"
    text = (
        f"{points(difference)} {unit} [{round(100 * low)}, {round(100 * high)}]: {ADVICE[verdict]} "
        f"({verdict}: accuracy {100 * base_accuracy:.0f}% -> {100 * trained_accuracy:.0f}% "
        f"on {pairs} held-out pairs, 95% paired bootstrap interval)"
    )
    return Decision(
        verdict=verdict,
        difference=difference,
        ci_low=low,
        ci_high=high,
        pairs=pairs,
        base_accuracy=base_accuracy,
        trained_accuracy=trained_accuracy,
        text=text,
    )
