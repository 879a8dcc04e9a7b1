"""Gold items: the lead's reference pairs, added from a file (all or nothing), kept in the
lead's project and never copied into an annotator's file (`assign --gold` copies the items,
not the reference)."""

from __future__ import annotations

from pathlib import Path

from dpo_tui.core.importers import FORMATS, detect_format
from dpo_tui.core.importers.annotations import restore_text_cells
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.importers.gold import TEXT_FIELDS, to_gold
from dpo_tui.errors import ProjectError
from dpo_tui.store.project import ProjectStore


def add_gold(
    store: ProjectStore,
    path: Path,
    format_name: str | None = None,
    encoding: str = "utf-8",
    author: str | None = None,
) -> int:
    """Add the gold items of the file at `path`, validated against the rubric and the
    project; all or nothing. Returns how many were added. Refused in an annotator's file."""
    if store.meta.assignment_id:
        raise ProjectError(
            f"{store.path}: an annotator's file (from `assign`): gold items belong in the "
            "lead's project",
            hint="add them to the team project, then `assign --gold N`",
        )
    fmt = detect_format(path, format_name)
    if fmt in ("text", "parquet"):
        raise ProjectError(f"{path}: gold items are read from JSONL, JSON, CSV or TSV")
    records = FORMATS[fmt](path, ImportOptions(encoding=encoding))
    items = to_gold(
        path,
        restore_text_cells(records, TEXT_FIELDS) if fmt in ("csv", "tsv") else records,
        store.rubric,
        store.prompt_ids(),
        store.candidate_prompt_ids(),
    )
    return store.add_gold(items, author or store.meta.annotator)
