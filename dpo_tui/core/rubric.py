"""Load and validate rubric TOML files; every error names the file, the key and the problem."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from dpo_tui.core.bounded import MAX_TOML_BYTES, BoundsError, toml_document
from dpo_tui.core.models import Rubric
from dpo_tui.errors import RubricError
from dpo_tui.paths import bundled_rubrics


@dataclass(frozen=True)
class LoadedRubric:
    """A validated rubric with the exact text it was read from and that text's sha256."""

    rubric: Rubric
    text: str
    sha256: str
    origin: str


def parse_rubric(text: str, origin: str) -> LoadedRubric:
    """Validate rubric TOML `text`; `origin` names where it came from in errors."""
    try:
        data = toml_document(text)
    except BoundsError as exc:
        raise RubricError(
            origin, f"not accepted as a rubric: {exc.problem}", line=exc.line
        ) from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        problem = f"not valid TOML: {getattr(exc, 'msg', str(exc))}"
        raise RubricError(origin, problem, line=line) from None
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(origin, _describe(exc, data)) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedRubric(rubric=rubric, text=text, sha256=digest, origin=origin)


def load_rubric(path: Path) -> LoadedRubric:
    """Read and validate the rubric file at `path`."""
    try:
        if not path.is_file():  # a FIFO or a device would block or never end
            raise RubricError(path, "cannot read the file (not a regular file)")
        if path.stat().st_size > MAX_TOML_BYTES:
            raise RubricError(path, f"larger than the {MAX_TOML_BYTES:,} bytes a rubric may be")
        raw = path.read_bytes()
    except OSError as exc:
        raise RubricError(path, f"cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RubricError(path, "not valid UTF-8", line=line) from None
    return parse_rubric(text, str(path))


def resolve_rubric(name_or_path: str) -> Path:
    """A rubric file path, or the name of a bundled rubric (`customer_support`)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    bundled = bundled_rubrics()
    stem = path.stem if path.suffix == ".toml" else name_or_path
    if stem in bundled:
        return bundled[stem]
    names = ", ".join(sorted(bundled)) or "(none found)"
    raise RubricError(
        name_or_path,
        "no such file, and no bundled rubric has that name",
        hint=f"bundled rubrics: {names}",
    )


def _describe(exc: ValidationError, data: object) -> str:
    """One line per problem: `key path: problem`, criteria named by their key."""
    lines = []
    for error in exc.errors():
        where = _location(error["loc"], data)
        kind = error["type"]
        if kind == "extra_forbidden":
            problem = "unknown key (check its spelling against the format in rubrics/README.md)"
        elif kind == "missing":
            problem = "missing required key"
        else:
            problem = error["msg"].removeprefix("Value error, ")
            if "input" in error and kind not in ("value_error", "model_type"):
                problem += f" (got {error['input']!r})"
        lines.append(f"{where}: {problem}" if where else problem)
    return "; ".join(lines)


def _location(loc: tuple[int | str, ...], data: object) -> str:
    """`criteria[2] ('safety').scale.max` for pydantic's ('criteria', 1, 'scale', 'max')."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            key = node.get("key") if isinstance(node, dict) else None
            parts[-1] += f"[{item + 1}]" + (f" ({key!r})" if isinstance(key, str) else "")
        else:
            parts.append(str(item))
            node = node.get(str(item)) if isinstance(node, dict) else None
    return ".".join(parts)
