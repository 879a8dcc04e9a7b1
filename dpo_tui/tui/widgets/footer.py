"""KeyFooter: Textual's Footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Moving focus between sliders changes the active bindings (the slider's, all hidden)
    but not the keys shown; Textual's Footer would rebuild its ~15 key widgets on every such
    keystroke (measured: half the time from a digit key to its frame)."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled)
            for _, binding, enabled, _ in screen.active_bindings.values()
            if isinstance(binding, Binding) and binding.show
        )
        if shown != self._shown:
            self._shown = shown
            super().bindings_changed(screen)
