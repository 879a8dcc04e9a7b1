"""pack and assign build under temporary names and rename into place: a failure leaves no file,
a retry works, and nothing is ever created through a link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dpo_tui.errors import ProjectError
from dpo_tui.services.team import assign, pack
from dpo_tui.store.project import ProjectStore
from tests.conftest import REPO

FULL = OSError(28, "No space left on device")


def disk_full(*args: object, **kwargs: object) -> None:
    raise FULL


def test_pack_that_fails_midway_leaves_nothing_and_a_retry_works(
    app_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "out" / "packed.dpo"
    target.parent.mkdir()
    monkeypatch.setattr("dpo_tui.store.connection.seal_copy", disk_full)  # after VACUUM INTO wrote
    with pytest.raises(ProjectError, match="No space left on device") as caught:
        pack(app_project, target)
    assert str(caught.value).startswith(str(target))
    assert list(target.parent.iterdir()) == []
    monkeypatch.undo()
    packed = pack(app_project, target)
    assert packed.path == target and target.is_file()
    assert list(target.parent.iterdir()) == [target]


FILE_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
from dpo_tui.errors import ProjectError
from dpo_tui.services.team import pack
try:
    pack(Path(sys.argv[1]), Path(sys.argv[2]))
except ProjectError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_pack_on_a_full_disk_leaves_no_empty_file(app_project: Path, tmp_path: Path):
    """A real write failure inside SQLite's copy: the process may write no file past 40 kB."""
    source = tmp_path / "big.dpo"
    with ProjectStore.open(app_project) as store:
        store.db.execute("VACUUM INTO ?", [str(source)])
    with ProjectStore.open(source) as store:
        store.db.execute("create table ballast (x)")  # a copy far over the limit
        store.db.execute("insert into ballast select randomblob(100000)")
    assert source.stat().st_size > 100_000
    target = tmp_path / "out" / "packed.dpo"
    target.parent.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMIT, str(source), str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 3, child.stdout + child.stderr
    assert "cannot be written" in child.stdout
    assert list(target.parent.iterdir()) == []


def test_pack_refuses_a_dangling_link_and_creates_nothing_through_it(
    app_project: Path, tmp_path: Path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "packed.dpo"
    target.symlink_to(elsewhere / "victim.dpo")
    with pytest.raises(ProjectError, match=r"packed\.dpo: already exists"):
        pack(app_project, target)
    assert list(elsewhere.iterdir()) == []
    assert target.is_symlink()


def test_assign_that_fails_midway_leaves_no_annotator_file(
    app_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out"
    real = ProjectStore.add_candidates

    def full_at_bob(self: ProjectStore, *args: object, **kwargs: object) -> object:
        if self.meta.annotator == "bob":  # alice's file is complete by now
            raise FULL
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ProjectStore, "add_candidates", full_at_bob)
    with ProjectStore.open(app_project) as store:
        with pytest.raises(ProjectError, match="No space left on device") as caught:
            assign(store, ["alice", "bob", "carol"], 0.5, out)
        assert "none was left behind" in str(caught.value)
        assert list(out.iterdir()) == []
        monkeypatch.undo()
        result = assign(store, ["alice", "bob", "carol"], 0.5, out)
    assert sorted(p.name for p in out.iterdir()) == ["alice.dpo", "bob.dpo", "carol.dpo"]
    assert set(result.files) == {"alice", "bob", "carol"}


def test_assign_that_fails_while_renaming_removes_the_files_already_moved(
    app_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out"
    real = os.replace

    def full_at_bob(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "bob.dpo":
            raise FULL
        real(src, dst)

    monkeypatch.setattr("dpo_tui.services.atomic.os.replace", full_at_bob)
    with (
        ProjectStore.open(app_project) as store,
        pytest.raises(ProjectError, match="No space left on device"),
    ):
        assign(store, ["alice", "bob"], 0.5, out)
    assert list(out.iterdir()) == []


def test_assign_refuses_a_dangling_link_and_creates_nothing_through_it(
    app_project: Path, tmp_path: Path
):
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "bob.dpo").symlink_to(elsewhere / "bob.dpo")
    with (
        ProjectStore.open(app_project) as store,
        pytest.raises(ProjectError, match=r"bob\.dpo: already exists"),
    ):
        assign(store, ["alice", "bob"], 0.5, out)
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in out.iterdir()] == ["bob.dpo"]


def test_assign_refuses_a_name_that_is_a_path(app_project: Path, tmp_path: Path):
    out = tmp_path / "out"
    with (
        ProjectStore.open(app_project) as store,
        pytest.raises(ProjectError, match=r"annotator '\.\./evil': not usable as a file name"),
    ):
        assign(store, ["alice", "../evil"], 0.5, out)
    assert not (tmp_path / "evil.dpo").exists() and not out.exists()
