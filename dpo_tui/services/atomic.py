"""Files and folders written whole: built in a private folder beside the target, then renamed
into place, so a crash or a full disk leaves the target as it was and nothing is ever written
through a symbolic link."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.store.connection import project_files


def staging_folder(beside: Path) -> Path:
    """A new empty folder, private to this user, in `beside`'s folder and named after it
    (`.NAME.xxxxxxxx`): a rename from it to `beside` stays on one file system."""
    return Path(tempfile.mkdtemp(dir=beside.parent, prefix=f".{beside.name}."))


@contextlib.contextmanager
def staging(beside: Path) -> Iterator[Path]:
    """A staging folder (`staging_folder`), deleted on exit with whatever is left in it."""
    folder = staging_folder(beside)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_whole(
    target: Path, write: Callable[[Path], None], *, project: Path | None = None
) -> None:
    """Have `write` fill a temporary file beside `target`, then rename it onto `target`: a
    crash leaves the old file (or none), and a symbolic link at `target` is replaced itself,
    never written through. `target` is refused if it is the `project` file (or one SQLite
    keeps beside it)."""
    if project is not None and target.resolve() in project_files(project):
        raise DpoError(f"{target}: is the project file itself; it is never written over")
    if not target.parent.is_dir():  # named as opening the target itself would name it
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(target))
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    staged = Path(name)
    try:
        write(staged)
        staged.chmod(0o666 & ~_umask())
        os.replace(staged, target)
    except OSError as exc:
        if exc.filename is None or exc.filename == str(staged):  # name what the user named
            exc.filename = str(target)
        raise
    finally:
        staged.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_public(folder: Path) -> None:
    """Give a staging folder the permissions a plain mkdir gives (the umask's), not 0700."""
    probe = folder / ".mode-probe"
    probe.mkdir()
    mode = probe.stat().st_mode & 0o7777
    probe.rmdir()
    folder.chmod(mode)


@dataclass(frozen=True)
class Placement:
    """A finished folder moved onto its target; what was there waits aside until `finish`
    deletes it, or `undo` puts it back."""

    staged: Path
    target: Path
    aside: Path | None

    @classmethod
    def move(cls, staged: Path, target: Path, *, replace: bool = True) -> Placement:
        """Move `staged` to `target`, first moving whatever is at `target` (a folder, a file
        or a link, itself, not what it points to) into a new folder beside it. Without
        `replace`, only onto nothing or an empty folder: the rename itself fails on anything
        else (whatever another process put there meanwhile is never moved)."""
        aside = None
        if replace and os.path.lexists(target):
            aside = staging_folder(target)
            os.rename(target, aside / "old")
        try:
            os.rename(staged, target)
        except BaseException:
            if aside is not None:
                os.rename(aside / "old", target)
                aside.rmdir()
            raise
        return cls(staged, target, aside)

    def undo(self) -> None:
        """Move the new folder back to where it was staged, and the old one back in place."""
        os.rename(self.target, self.staged)
        if self.aside is not None:
            os.rename(self.aside / "old", self.target)
            self.aside.rmdir()

    def finish(self) -> None:
        """Delete what the new folder replaced (best effort: the export is already done)."""
        if self.aside is not None:
            shutil.rmtree(self.aside, ignore_errors=True)


def refuse_existing(paths: list[Path], hint: str) -> None:
    """Refuse a target that exists as anything, a dangling link included."""
    for path in paths:
        if os.path.lexists(path):
            raise ProjectError(f"{path}: already exists", hint=hint)


def move_all(moves: dict[Path, Path], hint: str) -> None:
    """Rename each finished file onto its target, none if any target exists by now; on a
    failure, remove those already moved."""
    refuse_existing(list(moves.values()), hint)
    moved: list[Path] = []
    try:
        for built, target in moves.items():
            os.replace(built, target)
            moved.append(target)
    except BaseException:
        for target in moved:
            target.unlink(missing_ok=True)
        raise
