"""What every part of `ProjectStore` stands on: the connection, write transactions, closing,
the meta table and the rubric it stores."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlite_utils import Database
from sqlite_utils.db import Table

from dpo_tui.core.models import Rubric
from dpo_tui.core.rubric import LoadedRubric, parse_rubric
from dpo_tui.core.safe_text import storable, visible
from dpo_tui.errors import ProjectError
from dpo_tui.store.records import (
    ImportRecord,
    ProjectMeta,
)


class StoreBase:
    """The connection to a project file and what every table group needs."""

    def __init__(self, path: Path, db: Database, *, read_only: bool = False) -> None:
        self.path = path
        self.db = db
        self.read_only = read_only
        self._rubric: LoadedRubric | None = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction: it takes the write lock first (`BEGIN IMMEDIATE`, waiting as
        the busy timeout allows), so what it reads stays true until it commits. A deferred
        transaction whose snapshot another process wrote past fails at its first write with
        "database is locked" at once, whatever the timeout: every write goes through here.
        Inside a transaction already open: a savepoint."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Copy what the WAL holds into the file, without waiting on other connections, and
        close; the last connection to close also removes the WAL, leaving one file."""
        # PASSIVE never blocks: TRUNCATE would wait (up to the busy timeout) for a writer in
        # another process, e.g. `status` while `generate` runs. A file that failed to open
        # must still be closed.
        with contextlib.suppress(sqlite3.DatabaseError):
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- meta and rubric -----------------------------------------------------

    def _table(self, name: str) -> Table:
        table = self.db[name]
        assert isinstance(table, Table)
        return table

    def _meta_value(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    @property
    def meta(self) -> ProjectMeta:
        values = dict(self.db.execute("select key, value from meta").fetchall())
        return ProjectMeta.model_validate(values)

    @property
    def loaded_rubric(self) -> LoadedRubric:
        if self._rubric is None:
            meta = self.meta
            self._rubric = parse_rubric(meta.rubric_text, f"{self.path} (stored rubric)")
        return self._rubric

    @property
    def rubric(self) -> Rubric:
        return self.loaded_rubric.rubric

    def log_import(self, record: ImportRecord) -> None:
        """Add an entry to the log of imports and merges."""
        self._table("imports").insert(record.model_dump())


def _check_storable(texts: Iterable[Iterable[str]]) -> None:
    """The store's own check that no text written holds what `safe_text.storable` refuses
    (importers check first, naming the file and line: this catches every other path)."""
    for group in texts:
        for text in group:
            problem = storable(text)
            if problem:
                raise ProjectError(f"not stored: a text {problem}: {visible(text[:60])!r}")
