"""JSON Lines: one JSON object (or string) per line; blank lines are ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dpo_tui.core.bounded import BoundsError, json_value
from dpo_tui.core.importers.base import ImportOptions, RawRecord, read_text
from dpo_tui.errors import InputFileError


def read(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    for number, line in enumerate(read_text(path, options.encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json_value(line)
        except BoundsError as exc:
            raise InputFileError(path, f"not accepted: {exc.problem}", line=number) from None
        except json.JSONDecodeError as exc:
            raise InputFileError(
                path,
                f"not valid JSON: {exc.msg} at column {exc.colno}",
                line=number,
                hint='each line must be one JSON object, e.g. {"prompt": "..."}',
            ) from None
        yield RawRecord(number, value)
