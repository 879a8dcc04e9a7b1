"""Opening a project file's SQLite database: autocommit, a generous busy timeout, WAL;
read-only (immutable in a read-only folder); sealing a copy."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from dpo_tui.errors import ProjectError

SQLITE_MAGIC = b"SQLite format 3\x00"


BUSY_TIMEOUT_MS = 60_000
"""How long a write waits for another process's write lock (a merge or a large import can
hold it for seconds) before it gives up with "database is locked"."""


def connect(path: Path, *, read_only: bool = False, wal: bool = True) -> Database:
    """A connection in autocommit mode (transactions are explicit: `writing`), waiting for
    locks up to BUSY_TIMEOUT_MS; the file put in WAL mode when `wal` (and not read-only): a
    file not yet known to be a project is opened with `wal=False`, so that refusing it
    changes nothing, and `use_wal` follows the check."""
    try:
        conn = _read_only(path) if read_only else sqlite3.connect(str(path), isolation_level=None)
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot be opened ({exc})") from None
    db = Database(conn)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if wal and not read_only:
            db.enable_wal()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise open_error(path, exc) from None
    return db


def use_wal(db: Database, path: Path) -> None:
    """Put a checked project file in WAL mode (readers never wait for a writer); the caller
    closes `db` if this fails."""
    try:
        db.enable_wal()
    except sqlite3.DatabaseError as exc:
        raise open_error(path, exc) from None


def open_error(path: Path, exc: sqlite3.DatabaseError) -> ProjectError:
    if "readonly" in str(exc) or "unable to open" in str(exc):
        return ProjectError(
            f"{path}: cannot be written ({exc})",
            hint="make the file and its folder writable; commands that only read "
            "(status, report, rounds, export-annotations) work on it as it is",
        )
    return ProjectError(f"{path}: cannot be opened as a project file ({exc})")


def project_files(path: Path) -> set[Path]:
    """The project file at `path` and the files SQLite keeps beside it (-wal, -shm,
    -journal), resolved: what nothing dpo-tui writes may replace."""
    project = path.resolve()
    return {project, *(project.with_name(project.name + s) for s in ("-wal", "-shm", "-journal"))}


def seal_copy(path: Path) -> bool:
    """Switch a copied project file to journal mode DELETE (one file); whether it passes its
    integrity check."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        return bool(conn.execute("PRAGMA integrity_check").fetchone() == ("ok",))
    finally:
        conn.close()


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. A WAL-mode file needs its `-shm` index, which SQLite cannot
    create in a read-only folder; when no `-wal` file exists (every change is in the file
    itself, as dpo-tui leaves it on closing), the file is opened as immutable instead."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.path.lexists(f"{path}-wal"):
            raise
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return conn
