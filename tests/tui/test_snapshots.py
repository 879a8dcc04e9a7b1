"""SVG snapshots of the main screens at fixed sizes (pytest-textual-snapshot).

After an intended visual change: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

from dpo_tui.tui.app import make_app


def test_annotate_at_80x24(app_project: Path, snap_compare):
    assert snap_compare(make_app(app_project), terminal_size=(80, 24))


def test_annotate_scored_at_200x50(app_project: Path, snap_compare):
    assert snap_compare(make_app(app_project), press=list("535323"), terminal_size=(200, 50))


def test_help_screen(app_project: Path, snap_compare):
    assert snap_compare(make_app(app_project), press=["f1"], terminal_size=(100, 40))
