"""A candidate's text as the bytes of its tokens arrive: whole characters, stop strings, and
pieces emitted that always add up to the final text."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence


class TextStream:
    """A candidate's text as the bytes of its tokens arrive.

    Only whole UTF-8 characters are decoded (bytes of a character split across tokens wait
    for the rest); leading and trailing whitespace is dropped; the text is cut before the first
    stop string. `emit` gets the new text as soon as it is sure to stay: never trailing
    whitespace, never what may be the start of a stop string. So the pieces emitted, joined,
    are always exactly the final text.
    """

    def __init__(self, stop: Sequence[str] = (), emit: Callable[[str], None] | None = None) -> None:
        self.stop = tuple(s for s in stop if s)
        self._emit_to = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._emitted = 0
        self.stopped = False

    @property
    def text(self) -> str:
        """The text so far, without trailing whitespace."""
        return self._text.rstrip()

    def feed(self, data: bytes) -> bool:
        """Add the bytes of one token; True once a stop string has ended the text."""
        if self._add(self._decoder.decode(data)):
            self.stopped = True
            return True
        held = max(
            (k for s in self.stop for k in range(1, len(s)) if self._text.endswith(s[:k])),
            default=0,
        )
        self._emit(len(self._text) - held)
        return False

    def close(self) -> str:
        """Emit the rest (an unfinished character becomes U+FFFD) and return the final text."""
        if not self.stopped:
            self._add(self._decoder.decode(b"", final=True))
        self._emit(len(self._text))
        return self.text

    def _add(self, piece: str) -> bool:
        self._text += piece if self._text else piece.lstrip()
        cuts = [at for s in self.stop if (at := self._text.find(s, self._emitted)) >= 0]
        if cuts:
            self._text = self._text[: min(cuts)]
        return bool(cuts)

    def _emit(self, end: int) -> None:
        end = len(self._text[:end].rstrip())
        if end > self._emitted:
            if self._emit_to is not None:
                self._emit_to(self._text[self._emitted : end])
            self._emitted = end
