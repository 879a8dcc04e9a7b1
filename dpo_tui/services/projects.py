"""Creating a project file, and the demo project of the bundled sample data."""

from __future__ import annotations

from pathlib import Path

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.paths import data_dir
from dpo_tui.services.importing import ImportResult, import_candidates, import_prompts
from dpo_tui.store.project import ProjectStore

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
