"""Shared fixtures: test data paths, a fresh project, a database snapshot for atomicity checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpo_tui.core.rubric import load_rubric
from dpo_tui.store.project import ProjectStore

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def rubric_path() -> Path:
    return DATA / "rubrics" / "good.toml"


@pytest.fixture
def project(tmp_path: Path, rubric_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "p.dpo", load_rubric(rubric_path), "alice")
    with store:
        yield store


def snapshot(path: Path) -> list[str]:
    """Every schema statement and row of a database, to compare before and after."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def scored_project(project: ProjectStore) -> ProjectStore:
    """The test rubric's project with 3 prompts: two with candidates (3 and 2), one without."""
    from dpo_tui.core.importers.base import ImportOptions
    from dpo_tui.operations import import_candidates, import_prompts

    import_prompts(project, [DATA / "inputs" / "good.jsonl"], ImportOptions())
    import_prompts(project, [DATA / "inputs" / "three.txt"], ImportOptions())
    import_candidates(project, DATA / "candidates" / "good.jsonl")
    import_candidates(project, DATA / "candidates" / "more.jsonl")
    return project
