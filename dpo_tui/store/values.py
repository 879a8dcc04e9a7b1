"""JSON read back from a project file's rows, within `core.bounded`'s limits: a project file
may come from someone else, so what it holds is parsed as untrusted text."""

from __future__ import annotations

import json
from typing import Any

from dpo_tui.core.bounded import BoundsError, json_value
from dpo_tui.errors import ProjectError


class StoredValueError(ProjectError):
    """A value in a project file that dpo-tui cannot read back (damaged, or written by
    another program); the CLI names the file."""


def stored_json(text: str | bytes | None, what: str) -> Any:
    """The JSON value `text` stored as `what` (e.g. "a score card"); StoredValueError if it is
    not JSON, not text, or over the bounds."""
    try:
        if not isinstance(text, str | bytes):
            raise TypeError(f"{type(text).__name__} instead of JSON text")
        return json_value(text)
    except BoundsError as exc:
        raise StoredValueError(f"{what} is not accepted: {exc.problem}") from None
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise StoredValueError(f"{what} is not valid JSON: {exc}") from None
