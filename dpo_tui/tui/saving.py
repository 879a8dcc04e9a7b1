"""What the app does when a change cannot be written (another process held the write lock
past the wait, a full disk, a read-only file): it says so and goes on, the change not made,
instead of closing with a traceback. Failures `dpo_tui.failures` does not recognise are bugs
and still raise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual.dom import DOMNode

from dpo_tui.core.safe_text import visible
from dpo_tui.errors import DpoError
from dpo_tui.failures import HANDLED, explain

T = TypeVar("T")


def saved(node: DOMNode, project: Path, change: Callable[[], T]) -> T | None:
    """`change()`, or None when it could not be written: then a notification says why."""
    try:
        return change()
    except DpoError as exc:
        problem: DpoError = exc
    except HANDLED as exc:
        explained = explain(exc, project)
        if explained is None:
            raise
        problem = explained
    hint = f" ({problem.hint})" if problem.hint else ""
    node.app.notify(visible(f"Not saved: {problem.message}{hint}"), severity="error", timeout=10)
    return None
