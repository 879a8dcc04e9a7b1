"""GoToScreen: jump to a prompt by number or by text it contains."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class GoToScreen(ModalScreen[str | None]):
    """Returns the query typed (a number or text), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="goto.cancel")
    ]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="goto"):
            yield Label(f"Go to prompt number (1-{self.count}) or search text:")
            yield Input(placeholder="e.g. 42 or refund", id="goto-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)
