"""Failures of the machine or of a file are messages, not tracebacks (#14, class 5): a full
disk, a read-only file or folder, a damaged schema version or migration record; read-only
commands work on a read-only file and folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpo_tui.store import connection
from tests.conftest import DATA, snapshot
from tests.hardening.conftest import invoke


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders read-only for this process. As root (CI), permission bits do not
    bind, so the immutable attribute does (chattr +i); otherwise chmod."""
    root = os.geteuid() == 0
    if root and shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    try:
        for path in paths:
            if root:
                done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
                if done.returncode:
                    pytest.skip(f"chattr +i failed here: {done.stderr.decode().strip()}")
            else:
                path.chmod(0o555 if path.is_dir() else 0o444)
        yield
    finally:
        for path in paths:
            if root:
                subprocess.run(["chattr", "-i", str(path)], capture_output=True)
            else:
                path.chmod(0o755 if path.is_dir() else 0o644)


def test_read_only_commands_work_on_a_read_only_file_in_a_read_only_folder(
    project: Path, tmp_path: Path
):
    before = snapshot(project)
    with read_only(project, project.parent):
        assert invoke("status", project)[0] == 0
        assert invoke("status", project, "--json")[0] == 0
        assert invoke("report", project)[0] == 0
        assert invoke("rounds", project)[0] == 0
        assert invoke("export-annotations", project, tmp_path / "a.jsonl")[0] == 0
        code, output = invoke("import", project, DATA / "inputs" / "three.txt")
        assert code == 1
        assert f"error: {project}: cannot be written" in output
        assert "commands that only read (status, report, rounds, export-annotations)" in output
    assert snapshot(project) == before


def test_a_write_to_a_read_only_file_is_a_message_and_changes_nothing(project: Path):
    before = snapshot(project)
    with read_only(project):
        code, output = invoke("import", project, DATA / "inputs" / "three.txt")
    assert code == 1
    assert f"error: {project}: the file (or its folder) is read-only: nothing was written" in output
    assert snapshot(project) == before


def test_a_full_disk_is_a_message_and_the_change_is_rolled_back(
    project: Path, monkeypatch: pytest.MonkeyPatch
):
    """SQLite's own "database or disk is full" (SQLITE_FULL), made real by capping the file's
    pages at what it holds now, as a full disk caps it."""
    connect = connection.connect

    def capped(path: Path, **options: bool):
        db = connect(path, **options)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    before = snapshot(project)
    monkeypatch.setattr(connection, "connect", capped)
    big = project.parent.parent / "big.txt"
    big.write_text("\n".join(f"Prompt number {n} about a topic" * 20 for n in range(3000)))
    code, output = invoke("import", project, big)
    assert code == 1
    assert f"error: {project}: the disk is full: the change could not be written" in output
    monkeypatch.undo()
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("value", "shown"),
    [("abc", "'abc'"), ("", "''"), ("-3", "'-3'"), ("0", "'0'"), (None, "missing")],
    ids=["letters", "empty", "negative", "zero", "missing"],
)
def test_a_damaged_schema_version_is_refused(project: Path, value: str | None, shown: str):
    conn = sqlite3.connect(project)
    with conn:
        if value is None:
            conn.execute("delete from meta where key = 'schema_version'")
        else:
            conn.execute("update meta set value = ? where key = 'schema_version'", [value])
    conn.close()
    before = snapshot(project)
    code, output = invoke("status", project)
    assert code == 1
    assert f"error: {project}: damaged: its schema version ({shown})" in output
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "damage",
    [
        "delete from rubric_versions",
        "update rubric_versions set sha256 = 'f00d' || substr(sha256, 5)",
    ],
    ids=["no-versions", "other-rubric"],
)
def test_a_damaged_rubric_history_is_refused_with_a_message(project: Path, damage: str):
    conn = sqlite3.connect(project)
    with conn:
        conn.execute(damage)
    conn.close()
    before = snapshot(project)
    code, output = invoke("status", project)
    assert code == 1
    assert f"error: {project}: damaged: its rubric history does not end with its rubric" in output
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "damage",
    ["drop table _sqlite_migrations", "delete from _sqlite_migrations where rowid = 2"],
    ids=["dropped", "row-missing"],
)
def test_a_damaged_migration_record_is_refused(project: Path, damage: str):
    conn = sqlite3.connect(project)
    with conn:
        conn.execute(damage)
    conn.close()
    code, output = invoke("import", project, DATA / "inputs" / "three.txt")
    assert code == 1
    assert "damaged: its schema version" in output and "record of migrations" in output


def test_an_os_error_names_the_file(project: Path, tmp_path: Path):
    missing = tmp_path / "no" / "such" / "folder" / "a.csv"
    code, output = invoke("export-annotations", project, missing)
    assert code == 1
    assert f"error: {missing}: No such file or directory" in output
