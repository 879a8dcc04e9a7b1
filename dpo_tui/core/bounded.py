"""Bounded parsing of text other people made: rubric TOML (on disk or stored in a received
project), JSON records in imported files, JSON stored in a project's rows.

Python's parsers have no limits of their own that fail politely: a dotted TOML key of 100,000
parts makes `tomllib` grow without bound (it records every prefix of every key: quadratic
memory), and JSON or TOML nested some thousands deep ends in a RecursionError. So a document
is checked before parsing (size; nesting depth and dotted-key length, by a scan outside
strings and comments), and a parsed JSON value after (depth), and every failure is a
`BoundsError` with a message that says what the limit is. The scan is written here because no
TOML library offers such limits.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

MAX_TOML_BYTES = 256 * 1024
"""A rubric or config file is a few KB (the bundled rubrics are under 9 KB)."""

MAX_DEPTH = 32
"""The deepest nesting of arrays, objects and tables accepted (a rubric needs 3, a record 2)."""

MAX_KEY_PARTS = 32
"""The most parts a dotted TOML key may have (`a.b.c` has 3)."""


class BoundsError(ValueError):
    """A document over a limit; `line` is where it was found, when known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def toml_document(text: str) -> dict[str, Any]:
    """`tomllib.loads(text)` after checking its size, nesting and dotted keys; raises
    BoundsError for a document over a limit, `tomllib.TOMLDecodeError` for invalid TOML."""
    size = len(text.encode("utf-8"))
    if size > MAX_TOML_BYTES:
        raise BoundsError(f"{size:,} bytes: larger than the {MAX_TOML_BYTES:,} bytes accepted")
    _scan_toml(text)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise BoundsError(f"nested deeper than {MAX_DEPTH} levels") from None
    except tomllib.TOMLDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise BoundsError(f"a value is not accepted ({exc})") from None


def _scan_toml(text: str) -> None:
    """Raise BoundsError where brackets nest deeper than MAX_DEPTH or a line holds a key of
    more than MAX_KEY_PARTS parts (dots outside strings and comments, floats included)."""
    depth = 0
    line = 1
    dots = 0
    index = 0
    end = len(text)
    while index < end:
        char = text[index]
        if char == "\n":
            line += 1
            dots = 0
        elif char == "#":
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        elif char in "\"'":
            triple = text.startswith(char * 3, index)
            closing = char * 3 if triple else char
            position = index + len(closing)
            while True:
                found = text.find(closing, position)
                if found < 0 or (not triple and text.find("\n", position, found) >= 0):
                    # unclosed (tomllib will say so): scan on from the next line regardless
                    found = text.find("\n", index)
                    found, closing = (end, "") if found < 0 else (found, "")
                    break
                backslashes = 0
                while char == '"' and text[found - 1 - backslashes] == "\\":
                    backslashes += 1
                if backslashes % 2 == 0:
                    break
                position = found + 1
            line += text.count("\n", index, found)
            index = found + len(closing)
            while triple and index < end and text[index] == char:  # `""""`: a quote, closed
                index += 1
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BoundsError(f"nested deeper than {MAX_DEPTH} levels", line)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                raise BoundsError(
                    f"a key of more than {MAX_KEY_PARTS} dotted parts (or as many dots on "
                    "one line)",
                    line,
                )
        index += 1


def json_value(text: str | bytes) -> Any:
    """`json.loads(text)` refused past MAX_DEPTH levels of nesting (BoundsError); invalid
    JSON raises `json.JSONDecodeError` as usual."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise BoundsError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise BoundsError(f"a value is not accepted ({exc})") from None
    check_depth(value)
    return value


def check_depth(value: object) -> None:
    """Raise BoundsError if a parsed JSON value nests deeper than MAX_DEPTH (iteratively: a
    deep value must not exhaust the stack here either)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise BoundsError(f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)
