"""Open a project file received from someone else: read-only, checked, hardened.

The file is untrusted. It is opened on its own read-only connection (never ATTACHed to the
target), as immutable so nothing is written beside it, with `trusted_schema` off and an
authorizer that allows reading and nothing else (no writes, no functions hidden in views or
triggers). It must pass `PRAGMA quick_check`, and its schema must match, exactly, the schema
dpo-tui itself creates for that version: an extra table, view, trigger or index is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlite_utils import Database

from dpo_tui.errors import ProjectError, SchemaTooNewError
from dpo_tui.store.connection import SQLITE_MAGIC
from dpo_tui.store.migrations import KNOWN, SCHEMA_VERSION, migrations, version_number

DEFAULT_MAX_BYTES = 2 * 1024**3
_ALLOWED_FUNCTIONS = {
    "count",
    "max",
    "min",
    "length",
    "coalesce",
    "json_each",
    "json_group_object",
    "typeof",
}
_OK = sqlite3.SQLITE_OK
_DENY = sqlite3.SQLITE_DENY


class UntrustedProjectError(ProjectError):
    """A received project file that is refused; the target was not touched."""


def _authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ):
        return _OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _ALLOWED_FUNCTIONS:
        return _OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in (
        "quick_check",
        "table_info",
    ):
        return _OK
    return _DENY


def expected_schema(version: int) -> list[tuple[str, str, str, str | None]]:
    """(type, name, table, sql) of every schema object dpo-tui creates at `version`."""
    db = Database(memory=True)
    try:
        migrations.apply(db, stop_before=KNOWN[version:])
        return _schema(db.conn)
    finally:
        db.close()


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    rows = conn.execute(
        "select type, name, tbl_name, sql from sqlite_master order by type, name"
    ).fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def _refuse(path: Path, problem: str, hint: str | None = None) -> UntrustedProjectError:
    return UntrustedProjectError(f"{path}: {problem}", hint=hint)


def open_untrusted(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> sqlite3.Connection:
    """A read-only, checked connection to the project file at `path`, or a clear refusal."""

    def refuse(problem: str, hint: str | None = None) -> UntrustedProjectError:
        return _refuse(path, problem, hint)

    if not path.is_file():
        if path.is_dir():
            raise refuse("is a folder, not a project file")
        raise refuse("not a regular file" if path.exists() else "no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise refuse(
            f"{size:,} bytes is over the limit of {max_bytes:,}",
            hint="raise it with --max-size if you trust the file",
        )
    with path.open("rb") as handle:
        if handle.read(16) != SQLITE_MAGIC:
            raise refuse("not a dpo-tui project file (not an SQLite database)")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_authorizer)
        try:
            check = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise refuse(f"corrupt or truncated ({exc})") from None
        if check != [("ok",)]:
            raise refuse(f"corrupt: quick_check says {check[0][0]!r}")
        _check_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    def refuse(problem: str) -> UntrustedProjectError:
        return _refuse(path, problem)

    try:
        names = {row[0] for row in conn.execute("select name from sqlite_master")}
        if "meta" not in names or "_sqlite_migrations" not in names:
            raise refuse("an SQLite file, but not a dpo-tui project")
        applied = [
            row[0]
            for row in conn.execute(
                "select name from _sqlite_migrations where migration_set = 'dpo_tui' order by rowid"
            )
        ]
        stored = conn.execute("select value from meta where key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise refuse(f"cannot be read as a project file ({exc})") from None
    version = version_number(stored[0] if stored else None)
    if any(name not in KNOWN for name in applied) or version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path}: written by a newer dpo-tui (schema version {version}; "
            f"this one knows up to {SCHEMA_VERSION})",
            hint="upgrade dpo-tui to merge this file",
        )
    if applied != KNOWN[: len(applied)] or version != len(applied):
        raise refuse("its migration history does not match its schema version")
    actual = _schema(conn)
    expected = expected_schema(version)
    if actual != expected:
        extra = sorted({row[:2] for row in actual} - {row[:2] for row in expected})
        missing = sorted({row[:2] for row in expected} - {row[:2] for row in actual})
        detail = (
            f"unexpected {', '.join(f'{t} {n!r}' for t, n in extra)}"
            if extra
            else f"missing {', '.join(f'{t} {n!r}' for t, n in missing)}"
            if missing
            else "a table or index is defined differently"
        )
        raise refuse(f"its schema differs from a dpo-tui project's: {detail}")
