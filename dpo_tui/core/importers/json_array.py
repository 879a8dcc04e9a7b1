"""A JSON file whose top level is an array of objects or strings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dpo_tui.core.bounded import MAX_DEPTH, BoundsError, check_depth
from dpo_tui.core.importers.base import ImportOptions, RawRecord, read_text
from dpo_tui.errors import InputFileError

_decoder = json.JSONDecoder()
_SPACE = " \t\r\n"


def read(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    """Decode element by element so each record knows the line it starts on."""
    text = read_text(path, options.encoding)

    counted = [0, 1]  # an index, and the line it is on: counted on from there, not from 0

    def line_of(index: int) -> int:
        at, line = counted
        line += text.count("\n", at, index) if index >= at else -text.count("\n", index, at)
        counted[:] = [index, line]
        return line

    def fail(index: int, problem: str) -> InputFileError:
        return InputFileError(path, problem, line=line_of(index))

    index = _skip(text, 0)
    if index == len(text):
        raise InputFileError(path, "no prompts found: the file is empty")
    if text[index] != "[":
        raise fail(index, "expected a JSON array ([...]) of objects or strings at the top level")
    index = _skip(text, index + 1)
    if index < len(text) and text[index] == "]":
        return
    while True:
        try:
            value, end = _decoder.raw_decode(text, index)
            check_depth(value)
        except RecursionError:
            raise fail(index, f"not accepted: nested deeper than {MAX_DEPTH} levels") from None
        except BoundsError as exc:
            raise fail(index, f"not accepted: {exc.problem}") from None
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, f"not valid JSON: {exc.msg}") from None
        yield RawRecord(line_of(index), value)
        index = _skip(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip(text, index + 1)
        elif index < len(text) and text[index] == "]":
            if _skip(text, index + 1) != len(text):
                raise fail(index + 1, "unexpected text after the closing ]")
            return
        else:
            raise fail(index, "expected , or ] between array elements")


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _SPACE:
        index += 1
    return index
