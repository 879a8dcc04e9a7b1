"""What the app's tests share: a merged team project with disputed items."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dpo_tui.services.merging import merge_files
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore


def score(path: Path, clarity_by_position: list[int]) -> None:
    with ProjectStore.open(path) as store:
        annotator = store.meta.annotator
        for prompt in store.prompts():
            for cand, value in zip(store.candidates(prompt.id), clarity_by_position, strict=False):
                store.set_score(cand.id, annotator, "clarity", value)
                store.set_score(cand.id, annotator, "safety", 3)


@pytest.fixture
def disputed(tmp_path: Path, app_project: Path) -> Path:
    """A team file where alice and bob rank every item's candidates in opposite orders."""
    team = tmp_path / "team.dpo"
    shutil.copyfile(app_project, team)
    with ProjectStore.open(team) as store:
        files = assign(store, ["alice", "bob"], 1.0, tmp_path / "out").files
    score(files["alice"], [5, 3, 1])
    score(files["bob"], [1, 3, 5])
    with ProjectStore.open(team) as store:
        merge_files(store, list(files.values()))
    return team
