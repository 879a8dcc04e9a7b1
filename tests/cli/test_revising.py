"""`rubric revise` and `rubric history` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import RUBRIC, run
from tests.conftest import snapshot
from tests.services.test_revising import GOOD, TONE, hand_made  # noqa: F401


@pytest.fixture
def files(hand_made, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    store, _ = hand_made
    store.close()
    revised = tmp_path / "v2.toml"
    revised.write_text(GOOD + TONE)
    return store.path, revised


def test_a_dry_run_prints_the_impact_and_writes_nothing(files):
    project, revised = files
    before = snapshot(project)
    result = run("rubric", "revise", project, revised, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "version 1 -> 2 (dry run: nothing written)" in result.output
    assert "tone: added, needs a score on every judged candidate" in result.output
    assert "pairs: 2 before, 0 after: 0 kept, 0 flipped, 2 lost, 0 new" in result.output
    assert "items to score again: alice 2" in result.output
    assert snapshot(project) == before


def test_revise_then_history(files):
    project, revised = files
    result = run("rubric", "revise", project, revised, "--note", "tone matters", "--json")
    assert result.exit_code == 0, result.output
    impact = json.loads(result.output)
    assert impact["dry_run"] is False and impact["rescore"] == {"alice": 2}
    assert [c["kind"] for c in impact["criteria"]] == ["kept", "kept", "added"]
    history = run("rubric", "history", project)
    assert "version 1: 'Test rubric'" in history.output
    assert "note: tone matters" in history.output
    assert "tone: added" in history.output
    versions = json.loads(run("rubric", "history", project, "--json").output)
    assert [v["number"] for v in versions] == [1, 2]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--map", "clarity"], "expected OLD=NEW"),
        (["--map", "charm=tone"], "has no criterion 'charm'"),
    ],
)
def test_a_refused_revision_says_why_and_leaves_the_file(files, extra, message):
    project, revised = files
    before = snapshot(project)
    result = run("rubric", "revise", project, revised, *extra)
    assert result.exit_code == 1
    assert message in result.output
    assert snapshot(project) == before


def test_the_current_rubric_again_is_refused(files):
    project, _ = files
    result = run("rubric", "revise", project, RUBRIC)
    assert result.exit_code == 1
    assert "already the project's current rubric" in result.output


def test_an_invalid_rubric_is_refused_and_the_project_left_as_it_was(files, tmp_path: Path):
    project, _ = files
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("max = 5", "max = 0"))
    before = snapshot(project)
    result = run("rubric", "revise", project, bad)
    assert result.exit_code == 1
    assert str(bad) in result.output and "max" in result.output
    assert snapshot(project) == before
