"""HelpScreen: every key binding, as currently mapped (remapped keys included)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from dpo_tui.tui.screens.annotate import AnnotateScreen

SLIDER_KEYS = [
    ("1-9, 0 (=10)", "set the focused score and move to the next slider"),
    ("left / right, - / +", "step the focused score down / up"),
    ("backspace", "clear the focused score"),
    ("tab / shift+tab", "next / previous slider"),
    ("click", "set the score under the pointer"),
]


class HelpScreen(ModalScreen[None]):
    """Lists the keys of the screen below it and of the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close", id="help.close")
    ]

    def __init__(self, below: Screen[object]) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys  (remap any of them by id in the keymap file; see README)")
            yield DataTable(id="help-keys", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "id")
        keymap = getattr(self.app, "keymap", {})
        for binding in [*self.below.BINDINGS, *self.app.BINDINGS]:
            if not isinstance(binding, Binding) or binding.id is None:
                continue
            if isinstance(self.below, AnnotateScreen) and not self.below.offers(binding):
                continue  # the judge's key, without --suggest
            keys = keymap.get(binding.id, binding.key)
            table.add_row(keys, binding.description or binding.action, binding.id)
        for keys, description in SLIDER_KEYS:
            table.add_row(keys, description, "")
