"""GcPause: no garbage collection between an input and its frame; settings restored after."""

from __future__ import annotations

import gc

from dpo_tui.tui.gc_pause import GcPause


def test_holds_collection_until_released_and_restores_on_stop():
    pause = GcPause()
    pause.hold()
    assert gc.isenabled()  # not started: does nothing
    pause.start()
    try:
        assert gc.get_freeze_count() > 0
        pause.hold()
        assert not gc.isenabled()
        pause.release()
        assert gc.isenabled()
        pause.hold()
    finally:
        pause.stop()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
