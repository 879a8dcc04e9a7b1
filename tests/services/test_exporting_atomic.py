"""Export is all or nothing: written beside the target and renamed into place, never through a
link, never over a folder that holds something unless --force, and recorded only once done."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from dpo_tui.errors import DpoError
from dpo_tui.services.exporting import export_dataset
from dpo_tui.store.project import ProjectStore
from tests.conftest import REPO
from tests.services.test_exporting import build


@pytest.fixture
def store(project: ProjectStore) -> ProjectStore:
    build(project, 12)
    return project


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder`: a file's bytes, a link's target, a folder as "dir"."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[name] = "dir"
        else:
            found[name] = path.read_bytes()
    return found


def hidden(folder: Path) -> list[str]:
    """Temporary folders left beside an export (`.NAME.xxxxxxxx`)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def assert_manifest_lists_exactly_the_files(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    present = {name for name, kind in tree(out).items() if kind != "dir"}
    assert present == set(manifest["files"]) | {"manifest.json"}
    assert not any(path.is_symlink() for path in out.rglob("*"))


def test_a_link_planted_in_the_target_is_never_followed(store: ProjectStore, tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    trap = tmp_path / "trap"
    trap.mkdir()
    (trap / "train.jsonl").symlink_to("../victim.txt")
    with pytest.raises(DpoError, match="trap: already exists and is a folder that is not empty"):
        export_dataset(store, "trl", trap)
    assert victim.read_text() == "precious"
    assert store.rounds() == []
    export_dataset(store, "trl", trap, force=True)
    assert victim.read_text() == "precious"
    assert not (trap / "train.jsonl").is_symlink()
    assert_manifest_lists_exactly_the_files(trap)
    assert [r.number for r in store.rounds()] == [1]


@pytest.mark.parametrize("holding", [{}, {"keep.txt": b"theirs"}])
def test_a_target_that_is_a_link_is_replaced_never_written_through(
    store: ProjectStore, tmp_path: Path, holding: dict[str, bytes]
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name, content in holding.items():
        (elsewhere / name).write_bytes(content)
    link = tmp_path / "link"
    link.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DpoError, match="link: already exists and is a symbolic link") as caught:
        export_dataset(store, "trl", link)
    assert "--force" in str(caught.value)
    assert tree(elsewhere) == holding
    export_dataset(store, "trl", link, force=True)
    assert not link.is_symlink() and (link / "manifest.json").is_file()
    assert tree(elsewhere) == holding
    assert_manifest_lists_exactly_the_files(link)


def test_a_file_at_the_target_is_refused_unless_forced(store: ProjectStore, tmp_path: Path):
    out = tmp_path / "out"
    out.write_text("a file of mine")
    with pytest.raises(DpoError, match="out: already exists and is a file"):
        export_dataset(store, "jsonl", out)
    assert out.read_text() == "a file of mine"
    export_dataset(store, "jsonl", out, force=True)
    assert_manifest_lists_exactly_the_files(out)


def test_a_folder_with_files_is_refused_then_replaced_whole_with_force(
    store: ProjectStore, tmp_path: Path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(DpoError, match="out: already exists and is a folder that is not empty"):
        export_dataset(store, "trl", out)
    assert tree(out) == {"notes.txt": b"my notes"}
    assert store.rounds() == []
    export_dataset(store, "trl", out, force=True)
    assert not (out / "notes.txt").exists()
    assert_manifest_lists_exactly_the_files(out)
    assert hidden(tmp_path) == []  # nothing left aside


def test_an_empty_folder_is_fine(store: ProjectStore, tmp_path: Path):
    out = tmp_path / "empty"
    out.mkdir()
    export_dataset(store, "trl", out)
    assert_manifest_lists_exactly_the_files(out)


def test_re_export_leaves_no_stale_split_or_shard(store: ProjectStore, tmp_path: Path):
    out = tmp_path / "hf"
    first = export_dataset(store, "hf", out, val_fraction=0.5)
    assert first.validation_pairs and (out / "data" / "validation-00000-of-00001.parquet").exists()
    with pytest.raises(DpoError, match="not empty"):
        export_dataset(store, "hf", out, val_fraction=0)
    second = export_dataset(store, "hf", out, val_fraction=0, force=True)
    assert second.validation_pairs == 0
    assert not (out / "data" / "validation-00000-of-00001.parquet").exists()
    assert_manifest_lists_exactly_the_files(out)
    assert "# hf" in (out / "README.md").read_text()  # the card is titled with the folder's name
    out = tmp_path / "jsonl"
    export_dataset(store, "jsonl", out, val_fraction=0.5)
    export_dataset(store, "jsonl", out, val_fraction=0, force=True)
    assert not (out / "validation.jsonl").exists()
    assert_manifest_lists_exactly_the_files(out)


def test_the_folder_holding_the_project_is_never_replaced(store: ProjectStore, tmp_path: Path):
    with pytest.raises(DpoError, match="holds the project file"):
        export_dataset(store, "trl", tmp_path, force=True)
    assert store.path.is_file() and store.rounds() == []


def half_written(*args: object, **kwargs: object) -> list[Path]:
    """A writer that stops midway, as on a full disk."""
    folder = args[2]
    assert isinstance(folder, Path)
    (folder / "train.jsonl").write_text('{"prompt": "half')
    raise OSError(28, "No space left on device")


def failing_record(self: ProjectStore, entry: object) -> None:
    raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("where", ["writing", "recording"])
def test_a_failure_leaves_the_old_export_byte_identical_and_records_nothing(
    store: ProjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
):
    out = tmp_path / "out"
    export_dataset(store, "trl", out, val_fraction=0.5, seed=1)
    before = tree(out)
    if where == "writing":
        monkeypatch.setattr("dpo_tui.services.exporting.write_split_files", half_written)
        expected: type[Exception] = DpoError
    else:  # after the new folder is in place: it is moved back out
        monkeypatch.setattr(ProjectStore, "record_round", failing_record)
        expected = sqlite3.OperationalError
    with pytest.raises(expected) as caught:
        export_dataset(store, "jsonl", out, val_fraction=0, force=True)
    if where == "writing":
        assert "No space left on device" in str(caught.value)
        assert "no round was recorded" in str(caught.value)
    assert tree(out) == before
    assert [r.number for r in store.rounds()] == [1]
    assert hidden(tmp_path) == []
    monkeypatch.undo()
    assert export_dataset(store, "jsonl", out, force=True).number == 2


KILLED_MIDWAY = """
import os, signal, sys
import dpo_tui.services.exporting as operations

real = operations.write_split_files

def write_then_die(*args, **kwargs):
    real(*args, **kwargs)
    (args[2] / "train.jsonl").write_text("torn")
    os.kill(os.getpid(), signal.SIGKILL)

operations.write_split_files = write_then_die
from dpo_tui.cli import main
sys.argv = ["dpo-tui", *sys.argv[1:]]
main()
"""


def test_kill_9_mid_export_leaves_the_old_export_and_the_rounds(
    store: ProjectStore, tmp_path: Path
):
    out = tmp_path / "out"
    export_dataset(store, "trl", out, seed=1)
    before = tree(out)
    args = ["export", str(store.path), "--format", "jsonl", "--out", str(out), "--force"]
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MIDWAY, *args], cwd=REPO, capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert tree(out) == before
    with ProjectStore.open(store.path) as reopened:
        assert [r.number for r in reopened.rounds()] == [1]
    [left] = hidden(tmp_path)  # what a killed export leaves: its staging folder, beside
    assert left.startswith(".out.")


def test_cli_export_refuses_a_full_folder_and_replaces_it_with_force(
    store: ProjectStore, tmp_path: Path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["export", str(store.path), "--format", "trl", "--out", str(out)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1
    assert "already exists and is a folder that is not empty" in refused.output
    assert "--force" in refused.output
    assert (out / "notes.txt").read_text() == "mine"
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Round 1" in forced.output
    assert not (out / "notes.txt").exists()
    assert_manifest_lists_exactly_the_files(out)
