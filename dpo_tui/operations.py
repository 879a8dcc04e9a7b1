"""The Python API: what each CLI verb does, callable without the CLI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.core.importers import FORMATS, detect_format, read_prompts
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.importers.candidates import to_candidates
from dpo_tui.core.models import Prompt
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.paths import data_dir
from dpo_tui.store.project import CandidatesAdded, ImportRecord, ProjectStore, now

DEMO_RUBRIC = "general_assistant"
DEMO_CANDIDATES = "candidates_handwritten.jsonl"
DEMO_FILES = (
    ("support_tickets.jsonl", None),
    ("code_bug_reports.csv", "question"),
    ("summarization_requests.jsonl", None),
    ("writing_help.txt", None),
    ("conversations.jsonl", None),
)


def init_project(path: Path, rubric: str, annotator: str) -> ProjectStore:
    """Create a project file for `annotator`; `rubric` is a file path or a bundled name."""
    return ProjectStore.create(path, load_rubric(resolve_rubric(rubric)), annotator)


@dataclass(frozen=True)
class ImportResult:
    """What one file added to a project."""

    path: Path
    format: str
    read: int
    added: int
    skipped_duplicates: int


def import_prompts(
    store: ProjectStore,
    files: list[Path],
    options: ImportOptions,
    format_name: str | None = None,
) -> list[ImportResult]:
    """Import prompt files all or nothing: every file is read and validated before any write."""
    parsed: list[tuple[Path, str, list[Prompt], str]] = []
    for path in files:
        fmt = detect_format(path, format_name)
        prompts = read_prompts(path, fmt, options)
        parsed.append((path, fmt, prompts, _sha256(path)))
    results = []
    with store.db.atomic():
        for path, fmt, prompts, digest in parsed:
            record = ImportRecord(
                kind="prompts",
                path=str(path),
                sha256=digest,
                format=fmt,
                field=options.field,
                added=0,
                skipped_duplicates=0,
                imported_at=now(),
            )
            added, skipped = store.add_prompts(prompts, record)
            results.append(ImportResult(path, fmt, len(prompts), added, skipped))
    return results


def import_candidates(
    store: ProjectStore, path: Path, format_name: str | None = None, encoding: str = "utf-8"
) -> CandidatesAdded:
    """Import candidates made elsewhere, matched to the project's prompts; all or nothing."""
    fmt = detect_format(path, format_name)
    records = FORMATS[fmt](path, ImportOptions(encoding=encoding))
    unit = "row" if fmt == "parquet" else "line"
    candidates = to_candidates(path, records, store.prompt_ids(), unit=unit)
    record = ImportRecord(
        kind="candidates",
        path=str(path),
        sha256=_sha256(path),
        format=fmt,
        field=None,
        added=0,
        skipped_duplicates=0,
        imported_at=now(),
    )
    return store.add_candidates(candidates, record)


def demo_project(path: Path, annotator: str = "demo") -> tuple[ProjectStore, list[ImportResult]]:
    """Create (or reopen) a project holding every bundled sample prompt and the hand-written
    sample candidates."""
    store = ProjectStore.open(path) if path.exists() else init_project(path, DEMO_RUBRIC, annotator)
    samples = data_dir("sample_data")
    results = []
    for name, field in DEMO_FILES:
        results += import_prompts(store, [samples / name], ImportOptions(field=field))
    import_candidates(store, samples / DEMO_CANDIDATES)
    return store, results


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
