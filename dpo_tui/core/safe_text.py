"""Untrusted text made safe to show: control characters and bidi overrides become visible."""

from __future__ import annotations

import json

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROL = [c for c in range(0x20) if chr(c) not in "\n\t"] + [0x7F, *range(0x80, 0xA0)]
_TABLE = {code: f"\\x{code:02x}" for code in _CONTROL} | {code: f"\\u{code:04x}" for code in _BIDI}
_JSON_TABLE = {code: f"\\u{code:04x}" for code in _CONTROL + _BIDI}


MAX_DIAGNOSIS_CHARS = 20_000
"""A diagnosis says why one response is better: a few sentences. A longer one is a paste."""


def storable(text: str) -> str | None:
    """Why `text` (a prompt, a response, a diagnosis) cannot be stored, or None: a NUL
    character, which C strings, SQLite's text functions and many tools cut the text at."""
    if "\x00" in text:
        return "contains a NUL character (\\x00), which would cut the text short in other tools"
    return None


MAX_NAME_CHARS = 80
"""An annotator's name: shown in columns and file names, so a name, not a paragraph."""


def name_problem(name: str) -> str | None:
    """Why a (non-empty) `name` cannot be an annotator's name, or None: too long, or holding
    a control character or a bidi override (a name is shown in terminals and reports)."""
    if len(name) > MAX_NAME_CHARS:
        return f"the annotator name is {len(name):,} characters, over {MAX_NAME_CHARS}"
    if visible(name) != name or "\t" in name or "\n" in name:
        return f"the annotator name {visible(name)!r} holds a control character"
    return None


def checked_name(name: str) -> str:
    """`name` stripped, or ValueError saying why it cannot be an annotator's name."""
    name = name.strip()
    problem = "the annotator name is empty" if not name else name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def diagnosis_problem(text: str) -> str | None:
    """Why `text` cannot be stored as a diagnosis, or None."""
    if len(text) > MAX_DIAGNOSIS_CHARS:
        return (
            f"the diagnosis is {len(text):,} characters, over the limit of {MAX_DIAGNOSIS_CHARS:,}"
        )
    return storable(text)


def visible(text: str) -> str:
    """`text` with every control character (ESC, CR, C1 ...) and bidi override shown as an
    escape such as `\\x1b` or `\\u202e`, so it can never drive the terminal; newlines and
    tabs are kept."""
    return text.translate(_TABLE)


def json_dumps(value: object) -> str:
    """JSON for a terminal: readable non-ASCII text, but every control character and bidi
    override written as a `\\uXXXX` escape, so the output stays valid JSON and inert."""
    return json.dumps(value, indent=2, ensure_ascii=False).translate(_JSON_TABLE)
