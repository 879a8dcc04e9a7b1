"""SVG snapshots of every screen at fixed sizes (pytest-textual-snapshot). The project is opened
by a relative path from its folder, so the home screen's path is the same on every machine.

After an intended visual change: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dpo_tui.tui.app import make_app


@pytest.fixture
def here(app_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test project, as a path relative to the working folder."""
    monkeypatch.chdir(app_project.parent)
    return Path(app_project.name)


def test_annotate_at_80x24(here: Path, snap_compare):
    assert snap_compare(make_app(here), terminal_size=(80, 24))


def test_annotate_at_160x45(here: Path, snap_compare):
    assert snap_compare(make_app(here), terminal_size=(160, 45))


def test_annotate_scored_at_200x50(here: Path, snap_compare):
    assert snap_compare(make_app(here), press=list("535323"), terminal_size=(200, 50))


def test_annotate_suggested_at_160x45(here: Path, snap_compare):
    """`--suggest`: the judge's values on the sliders (A's taken with J) and its reasons."""
    from dpo_tui.store.project import ProjectStore
    from tests.services.test_annotating_suggest import judge_first_prompt

    with ProjectStore.open(here) as store:
        judge_first_prompt(store)
    app = make_app(here, suggest=True)
    assert snap_compare(app, press=["J"], terminal_size=(160, 45))


def test_help_screen(here: Path, snap_compare):
    assert snap_compare(make_app(here), press=["f1"], terminal_size=(100, 40))


def test_home_screen(here: Path, snap_compare):
    assert snap_compare(make_app(here), press=[*"535323", "h"], terminal_size=(100, 30))


def test_go_to_screen(here: Path, snap_compare):
    assert snap_compare(make_app(here), press=["g", "r", "e", "s"], terminal_size=(100, 30))


def test_adjudicate_screen(disputed: Path, snap_compare, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(disputed.parent)
    app = make_app(Path(disputed.name), adjudicate=True)
    assert snap_compare(app, terminal_size=(160, 45))


def test_practice_screen(tmp_path: Path, snap_compare, monkeypatch: pytest.MonkeyPatch):
    """A finished practice item's reference (the first gold item scored as the reference)."""
    from dpo_tui.services.practising import practice_file
    from dpo_tui.store.project import ProjectStore
    from tests.services.test_annotator_quality import build_team

    lead = build_team(tmp_path)
    with ProjectStore.open(lead) as store:
        practice_file(store, tmp_path / "newcomer.dpo", "newcomer", items=1)
    monkeypatch.chdir(tmp_path)
    keys = [*"333333", "d", *"clear", "escape", "n"]
    assert snap_compare(
        make_app(Path("newcomer.dpo"), practice=True), press=keys, terminal_size=(100, 30)
    )
