"""Printing for the CLI: user text literally (never Rich markup) with control characters
made visible, so nothing from a file can drive the terminal."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from dpo_tui.core.safe_text import visible
from dpo_tui.errors import DpoError

# markup=False: user text is printed literally, never as Rich markup; every dynamic value also
# goes through `visible` (via `say`) so escape sequences in it cannot reach the terminal.
out = Console(markup=False, highlight=False, emoji=False, soft_wrap=True)


err = Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)


def say(*parts: str, console: Console = out, style: str = "") -> None:
    """Print `parts` with control characters made visible; the first part takes `style`."""
    text = Text()
    for index, part in enumerate(parts):
        text.append(visible(part), style=style if index == 0 else "")
    console.print(text)


class DpoGroup(click.Group):
    """A click group that turns a `DpoError` into a clear message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DpoError as exc:
            say("error: ", str(exc), console=err, style="bold red")
            sys.exit(1)
