"""Path helpers: where dpo-tui finds its bundled data (rubrics, sample data), file hashes.

An installed wheel carries them under `dpo_tui/_data/`; a source checkout (including an
editable install) has them at the top of the repository.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The bundled folder `name` (`rubrics` or `sample_data`)."""
    for candidate in (PACKAGE_DIR / "_data" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    return PACKAGE_DIR.parent / name


def bundled_rubrics() -> dict[str, Path]:
    """Bundled rubric files by name (file stem)."""
    folder = data_dir("rubrics")
    return {path.stem: path for path in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
