"""collector_paused: the garbage collector is off inside, restored after, even on errors."""

from __future__ import annotations

import gc

import pytest

from dpo_tui.bulk import collector_paused


def test_paused_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer pause still holds after the inner one
            pass
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_an_already_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_works_as_a_decorator():
    @collector_paused()
    def state() -> bool:
        return gc.isenabled()

    assert state() is False
    assert state() is False  # a fresh pause on each call
    assert gc.isenabled()
