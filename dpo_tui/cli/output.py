"""Printing for the CLI: user text literally (never Rich markup) with control characters
made visible, so nothing from a file can drive the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

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


def fail(exc: DpoError) -> NoReturn:
    """Print `exc` as an error and exit with status 1."""
    say("error: ", str(exc), console=err, style="bold red")
    sys.exit(1)


class DpoCommand(click.Command):
    """A command whose failures are messages: a `DpoError` as it is, and a failure of the
    machine or of a file explained (`failures.explain`) with the file the command works on."""

    def invoke(self, ctx: click.Context) -> Any:
        from dpo_tui.failures import HANDLED, explain

        try:
            return super().invoke(ctx)
        except DpoError as exc:
            fail(explain(exc, _project_of(ctx)) or exc)
        except HANDLED as exc:
            explained = explain(exc, _project_of(ctx))
            if explained is None:
                raise
            fail(explained)


class DpoGroup(click.Group):
    """A click group whose commands (and subgroups) are `DpoCommand`s."""

    command_class = DpoCommand
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DpoError as exc:
            fail(exc)


def _project_of(ctx: click.Context) -> Path | None:
    """The project file a command works on: its `project` argument, else its first path."""
    project = ctx.params.get("project")
    if isinstance(project, Path):
        return project
    return next((value for value in ctx.params.values() if isinstance(value, Path)), None)
