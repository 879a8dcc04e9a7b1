"""The rows of a received project file (opened by `safe_open.open_untrusted`), table by table,
in file order: the queries merge reads with. What the rows hold is checked by
`services.merging`, row by row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from dpo_tui.core.models import Scale
from dpo_tui.store.migrations import (
    CARDS_SINCE,
    STEPS,
    VERSIONS_SINCE,
    m011_judge,
    version_number,
)

Row = tuple[Any, ...]

ORDERS_SINCE = STEPS.index(m011_judge) + 1
"""The first schema version whose judgements record the item order and whether a judge's
scores were shown (`item_order`, `suggested`)."""


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("select key, value from meta").fetchall())


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's schema version (-1 if damaged; `safe_open` has refused such a file)."""
    row = conn.execute("select value from meta where key = 'schema_version'").fetchone()
    return version_number(row[0] if row else None)


def prompt_rows(conn: sqlite3.Connection) -> Iterator[Row]:
    """(id, text, messages, source, tags) per prompt."""
    return conn.execute("select id, text, messages, source, tags from prompts order by rowid")


def candidate_rows(conn: sqlite3.Connection) -> Iterator[Row]:
    """(id, prompt_id, text, origin, model, preset, params, token_count, gen_seconds)."""
    return conn.execute(
        "select id, prompt_id, text, origin, model, preset, params, token_count, "
        "gen_seconds from candidates order by rowid"
    )


def rubric_shas(conn: sqlite3.Connection, version: int) -> dict[int, object]:
    """Rubric version number -> its sha256 as the file records it; a file from before
    rubric versions (schema 8 and older) has one, its meta's, numbered 1."""
    if version >= VERSIONS_SINCE:
        rows = conn.execute("select number, sha256 from rubric_versions")
        return {number: sha for number, sha in rows if type(number) is int}
    return {1: meta(conn).get("rubric_sha256")}


def card_rows(conn: sqlite3.Connection, version: int) -> Iterator[Row]:
    """(candidate_id, annotator, card JSON, updated_at, first rowid, rubric version) per
    score card. A file from before cards (schema 7 and older) holds a row per criterion: read
    as cards (the latest time of their rows, the first rowid); one from before rubric
    versions, every card under version 1."""
    if version >= VERSIONS_SINCE:
        query = (
            "select candidate_id, annotator, criteria, updated_at, rowid, rubric_version "
            "from scores"
        )
    elif version >= CARDS_SINCE:
        query = "select candidate_id, annotator, criteria, updated_at, rowid, 1 from scores"
    else:
        query = (
            "select candidate_id, annotator, json_group_object(criterion, value), "
            "max(updated_at), min(rowid), 1 from scores group by candidate_id, annotator"
        )
    return conn.execute(f"{query} order by 5")


def first_bad_criterion_row(conn: sqlite3.Connection, scales: Mapping[str, Scale]) -> Row | None:
    """In a file from before cards: (rowid, criterion, value) of the first row whose
    criterion is not one of `scales` or whose value is not an integer on its scale."""
    known = " or ".join("(criterion = ? and value between ? and ?)" for _ in scales)
    row: Row | None = conn.execute(
        "select rowid, criterion, value from scores where typeof(criterion) != 'text' "
        f"or typeof(value) != 'integer' or not ({known}) order by rowid limit 1",
        [item for key, s in scales.items() for item in (key, s.min, s.max)],
    ).fetchone()
    return row


def scores_row_number(conn: sqlite3.Connection, rowid: int) -> int:
    """The place of a scores row in the file, counted as the other readers count them."""
    return int(conn.execute("select count(*) from scores where rowid <= ?", [rowid]).fetchone()[0])


def judgement_rows(conn: sqlite3.Connection, version: int) -> Iterator[Row]:
    """(prompt_id, annotator, diagnosis, flags, display_order, seconds_spent, item_order,
    suggested, updated_at, rubric version); a file from before schema 11 gives '' and 0 for
    the order and suggestion, one from before rubric versions version 1."""
    made_under = "rubric_version" if version >= VERSIONS_SINCE else "1"
    recorded = "item_order, suggested" if version >= ORDERS_SINCE else "'', 0"
    return conn.execute(
        "select prompt_id, annotator, diagnosis, flags, display_order, seconds_spent, "
        f"{recorded}, updated_at, {made_under} from judgements order by rowid"
    )
