"""The order `assign --order` wrote an annotator's file's items in, kept in its meta table
(a key older dpo-tui versions ignore), so that judgements made walking the file in that order
record the order that was really in force."""

from __future__ import annotations

from dpo_tui.store.base import StoreBase

KEY = "item_order"
WRITTEN_ORDERS = ("random", "uncertain")
"""The orders `assign` records; a file in the project's order records none."""


def assigned_order(store: StoreBase) -> str:
    """`random` or `uncertain` when `assign --order` wrote the file's items so, else `file`."""
    value = store._meta_value(KEY)
    return value if value in WRITTEN_ORDERS else "file"


def record_assigned_order(store: StoreBase, order: str) -> None:
    """Record that the file's items were written in `order` (`random` or `uncertain`)."""
    if order not in WRITTEN_ORDERS:
        raise ValueError(f"not an order assign records: {order!r}")
    with store.writing():
        store._table("meta").upsert({"key": KEY, "value": order}, pk="key")
