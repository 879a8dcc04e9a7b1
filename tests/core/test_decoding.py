import pytest

from dpo_tui.core.decoding import DEFAULT_PRESETS, presets_for


def test_presets_cycle_with_distinct_reproducible_seeds():
    four = presets_for(4, "abc", base_seed=1)
    assert [p.name for p in four] == ["precise", "balanced", "creative", "wild"]
    assert len({p.seed for p in four}) == 4
    assert presets_for(4, "abc", base_seed=1) == four
    assert [p.seed for p in presets_for(4, "abd", base_seed=1)] != [p.seed for p in four]
    assert [p.seed for p in presets_for(4, "abc", base_seed=2)] != [p.seed for p in four]
    seven = presets_for(7, "abc")
    assert seven[5].name == DEFAULT_PRESETS[0].name
    assert seven[5].seed != seven[0].seed


def test_max_tokens_override_and_bounds():
    assert {p.max_tokens for p in presets_for(3, "x", max_tokens=32)} == {32}
    with pytest.raises(ValueError, match="between 1 and 16"):
        presets_for(0, "x")


def test_regeneration_keeps_the_preset_with_a_fresh_seed():
    import random

    from dpo_tui.core.decoding import regeneration_preset

    stored = {**presets_for(4, "p")[3].model_dump(), "slot": 3, "finish_reason": "length"}
    again = regeneration_preset(stored, random.Random(1))
    assert again.name == "wild" and again.temperature == 1.3
    assert again.seed != stored["seed"]
    assert regeneration_preset({}, random.Random(1)).name == "balanced"
