"""Score cards: how one annotator's scores of one candidate are stored (one row, every
criterion's value in a JSON object)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from dpo_tui.store.values import stored_json


def card_json(values: Mapping[str, int]) -> str:
    """The stored form of a card: compact JSON, keys sorted, so equal cards are equal text."""
    return json.dumps(dict(sorted(values.items())), separators=(",", ":"))


class CardReader:
    """Parses stored cards, each distinct text once: a project's cards repeat (5 criteria on
    a 1-5 scale make 3,125 possible cards), so a merged project's 400,000 cards parse as a few
    thousand. Cards it returns are shared: read them, never change them."""

    def __init__(self) -> None:
        self._parsed: dict[str, dict[str, int]] = {}

    def __call__(self, text: str) -> dict[str, int]:
        values = self._parsed.get(text)
        if values is None:
            values = self._parsed[text] = stored_json(text, "a score card")
        return values
