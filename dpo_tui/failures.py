"""The edge of the CLI and the app: failures of the machine or of a file (a full disk, a
read-only file, another process's write lock, a damaged project) become a message that says
what happened, to which file, and what to do (the CLI exits with status 1, the app shows it and
goes on), instead of a traceback. Failures not listed here are bugs and keep their traceback."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from pydantic import ValidationError

from dpo_tui.errors import DpoError
from dpo_tui.store.connection import BUSY_TIMEOUT_MS
from dpo_tui.store.values import StoredValueError

HANDLED = (sqlite3.Error, OSError, RecursionError, MemoryError, ValidationError)
"""What `explain` turns into a message (when it recognises it)."""


def explain(exc: BaseException, project: Path | None) -> DpoError | None:
    """The message for `exc` raised while a command worked on `project`; None if it is not a
    failure of the machine or of a file (then it is a bug, shown as such)."""
    where = str(project) if project is not None else "the file it worked on"
    if isinstance(exc, StoredValueError):
        return _damaged(where, exc.message)
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc)}
        return _damaged(where, f"a stored value is not accepted ({first['msg']})")
    if isinstance(exc, sqlite3.Error):
        return _sqlite(exc, where, project)
    if isinstance(exc, OSError):
        return _os(exc, where)
    if isinstance(exc, RecursionError):
        return DpoError(
            f"{where}: a value is nested too deeply to process",
            hint="the input was made to exhaust the parser; check where it came from",
        )
    if isinstance(exc, MemoryError):
        return DpoError(
            f"{where}: out of memory", hint="close other programs or use a larger machine"
        )
    return None


def _damaged(where: str, problem: str) -> DpoError:
    return DpoError(
        f"{where}: holds something dpo-tui cannot read back: {problem}",
        hint="the file is damaged or was written by another program; if it came from someone "
        "else, ask for a new copy (`dpo-tui merge` checks a received file row by row)",
    )


def _sqlite(exc: sqlite3.Error, where: str, project: Path | None) -> DpoError | None:
    text = str(exc)
    if "database or disk is full" in text:
        return DpoError(
            f"{where}: the disk is full: the change could not be written and was rolled back",
            hint="free some space on that disk and run the command again",
        )
    if "readonly database" in text:
        return DpoError(
            f"{where}: the file (or its folder) is read-only: nothing was written",
            hint="make the file and its folder writable, or copy them somewhere writable; "
            "commands that only read (status, report, rounds, export-annotations) work as is",
        )
    if "database is locked" in text or "database table is locked" in text:
        holders = processes_holding(project) if project is not None else []
        held = f" (open in: {'; '.join(holders)})" if holders else ""
        return DpoError(
            f"{where}: another process held the project's write lock for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s{held}: nothing was written",
            hint="let the other command (a merge, an import, an annotator) finish, then run "
            "this one again",
        )
    if "unable to open database file" in text:
        return DpoError(
            f"{where}: cannot be opened (its folder may be read-only or gone)",
            hint="check the path and that its folder is readable and writable",
        )
    if "disk I/O error" in text:
        return DpoError(f"{where}: the disk failed to read or write ({text})")
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return _damaged(where, text)
    return None


def _os(exc: OSError, where: str) -> DpoError:
    name = exc.filename if exc.filename is not None else where
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        return DpoError(
            f"{name}: no space left on the disk", hint="free some space and run it again"
        )
    if exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS}:
        return DpoError(
            f"{name}: {reason}: not allowed to write (or read) here",
            hint="check the permissions of the file and its folder, or choose another place",
        )
    return DpoError(f"{name}: {reason}")


def processes_holding(path: Path) -> list[str]:
    """Other processes that have `path` (or its -wal/-shm files) open, as `pid N: command`;
    read from /proc, so empty where there is none (macOS, Windows) or it cannot be read."""
    try:
        targets = {str(path.resolve()) + suffix for suffix in ("", "-wal", "-shm")}
        pids = [entry for entry in os.listdir("/proc") if entry.isdecimal()]
    except OSError:
        return []
    found = []
    for pid in pids:
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") in targets for fd in fds):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        found.append(f"pid {pid}: {command.strip()[:80]}")
    return found
