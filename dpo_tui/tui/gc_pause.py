"""Garbage collection kept out of the time between an input and the frame that shows it."""

from __future__ import annotations

import gc


class GcPause:
    """Measured on the annotate screen (next item, 200 x 50): Python's full collections
    walked the ~150,000 objects alive since startup (modules, styles, widgets) in 80-140 ms,
    every fifth item or so, and young collections ran ~35 times per item, a quarter of its
    time; all of it before the item's frame was drawn.

    While started, the objects alive at start are frozen out of collections (`gc.freeze`;
    a full collection then walks only what the app made since: 10-25 ms), and `hold`, called
    on an input event, stops collections until `release`, called once that input's frame is
    drawn: they run after it, while the annotator reads. `stop` undoes both."""

    def __init__(self) -> None:
        self._started = False

    def start(self) -> None:
        if not self._started and gc.isenabled():
            gc.freeze()
            self._started = True

    def stop(self) -> None:
        if self._started:
            gc.enable()
            gc.unfreeze()
            self._started = False

    def hold(self) -> None:
        if self._started:
            gc.disable()

    def release(self) -> None:
        if self._started:
            gc.enable()
