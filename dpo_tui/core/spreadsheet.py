"""Text cells a spreadsheet would run as formulas: neutralised in CSV output, restored on import.

The OWASP "CSV Injection" rule (https://owasp.org/www-community/attacks/CSV_Injection): a
cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a single
quote, so a spreadsheet shows it as text. A cell that already begins with quotes before such a
character gets one more quote too (`'=x` is written `''=x`), so `restore` undoes `neutralise`
exactly, for any text. Only CSV output does this; JSONL, JSON and Parquet stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _quoted_by_us(text: str) -> bool:
    """Whether `text` is a run of quotes (maybe none) then a trigger character."""
    return text.lstrip("'").startswith(TRIGGERS)


def neutralise(text: str) -> str:
    """The cell as CSV output writes it: one more leading quote if a spreadsheet could run it."""
    return f"'{text}" if _quoted_by_us(text) else text


def restore(text: str) -> str:
    """The text a neutralised cell stood for: the inverse of `neutralise`."""
    return text[1:] if text.startswith("'") and _quoted_by_us(text[1:]) else text


def neutralise_cells(record: Mapping[str, object]) -> dict[str, object]:
    """A CSV row with every text cell neutralised; numbers and other values as they are."""
    return {k: neutralise(v) if isinstance(v, str) else v for k, v in record.items()}
