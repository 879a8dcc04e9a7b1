"""Decoding presets: one per candidate slot, so the candidates for a prompt differ on purpose."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

from pydantic import Field, ValidationError

from dpo_tui.core.models import Strict


class DecodingPreset(Strict):
    """Every sampling parameter of one candidate; stored with it so a run can be reproduced."""

    name: str = Field(min_length=1, max_length=40)
    temperature: float = Field(ge=0, le=5)
    top_p: float = Field(default=1.0, gt=0, le=1)
    min_p: float = Field(default=0.0, ge=0, lt=1)
    top_k: int = Field(default=0, ge=0)
    repeat_penalty: float = Field(default=1.0, gt=0, le=3)
    max_tokens: int = Field(default=256, ge=1, le=32_768)
    seed: int = Field(default=0, ge=0, lt=2**31)
    stop: tuple[str, ...] = ()


DEFAULT_PRESETS: tuple[DecodingPreset, ...] = (
    DecodingPreset(name="precise", temperature=0.3, top_p=0.95, top_k=40),
    DecodingPreset(name="balanced", temperature=0.7, top_p=0.9),
    DecodingPreset(name="creative", temperature=1.0, min_p=0.05),
    DecodingPreset(name="wild", temperature=1.3, min_p=0.02),
    DecodingPreset(name="greedy", temperature=0.0),
)


def presets_for(
    count: int,
    prompt_id: str,
    base_seed: int = 0,
    max_tokens: int | None = None,
    presets: tuple[DecodingPreset, ...] = DEFAULT_PRESETS,
) -> list[DecodingPreset]:
    """`count` presets for one prompt, cycling through `presets`, each with its own seed.

    The seed is derived from (base seed, prompt id, slot): the same run reproduces exactly,
    and different prompts and slots never share a random stream.
    """
    if not 1 <= count <= 16:
        raise ValueError(f"the number of candidates must be between 1 and 16, got {count}")
    chosen = []
    for slot in range(count):
        preset = presets[slot % len(presets)]
        material = f"{base_seed}:{prompt_id}:{slot}".encode()
        seed = int.from_bytes(hashlib.sha256(material).digest()[:4], "big") % 2**31
        update: dict[str, object] = {"seed": seed}
        if max_tokens is not None:
            update["max_tokens"] = max_tokens
        chosen.append(preset.model_copy(update=update))
    return chosen


def regeneration_preset(
    params: Mapping[str, object], rng: random.Random | None = None
) -> DecodingPreset:
    """The preset a candidate was generated with, read back from its stored parameters (or
    `balanced` for an imported one), with a fresh seed: a new draw, recorded with it."""
    fields = {k: v for k, v in params.items() if k in DecodingPreset.model_fields}
    try:
        preset = DecodingPreset.model_validate(fields) if "name" in fields else DEFAULT_PRESETS[1]
    except ValidationError:
        preset = DEFAULT_PRESETS[1]
    return preset.model_copy(update={"seed": (rng or random.SystemRandom()).randrange(2**31)})
