"""The screens' typed way to the app: Textual types `self.app` as any App, so what only
dpo-tui's app has (its model for regenerating, switching screens) goes through `dpo_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from dpo_tui.tui.app import DpoApp


def dpo_app(node: DOMNode) -> DpoApp:
    """The DpoApp `node` belongs to."""
    from dpo_tui.tui.app import DpoApp  # the app imports the screens

    app = node.app
    if not isinstance(app, DpoApp):
        raise TypeError(f"{type(node).__name__} runs in {type(app).__name__}, not dpo-tui's app")
    return app
