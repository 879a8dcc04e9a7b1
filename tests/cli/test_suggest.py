"""`annotate --suggest [--judge NAME]` from the command line (the app itself: tests/tui)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import DpoApp
from tests.cli.test_cli import run
from tests.cli.test_order import judged
from tests.judged import JUDGE


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[DpoApp]:
    """The apps `annotate` would run, without running them."""
    apps: list[DpoApp] = []
    monkeypatch.setattr(DpoApp, "run", lambda self, *args, **kwargs: apps.append(self))
    return apps


def test_suggest_shows_the_judge_with_any_order_and_filter(
    app_project: Path, tmp_path: Path, opened: list[DpoApp]
):
    path = judged(tmp_path, app_project)
    for extra in ([], ["--judge", JUDGE], ["--order", "uncertain"], ["--order", "random"]):
        result = run("annotate", path, "--suggest", "--filter", "unfinished", *extra)
        assert result.exit_code == 0, result.output
    assert [app.session.suggesting for app in opened] == [JUDGE] * 4
    assert [app.session.filter for app in opened] == ["unfinished"] * 4
    first = opened[2].session.prompt_ids[0]
    with ProjectStore.open(path) as store:
        assert store.scores(first, JUDGE)  # uncertain: a judged item first
    result = run("annotate", path)
    assert result.exit_code == 0 and opened[-1].session.suggesting is None


def test_suggest_without_a_judge_says_what_to_run(app_project: Path, opened: list[DpoApp]):
    result = run("annotate", app_project, "--suggest")
    assert result.exit_code == 1, result.output
    assert "no judge model has scored its items" in result.output
    assert "--suggest" in result.output and f"dpo-tui judge {app_project}" in result.output
    assert opened == []


def test_judge_needs_suggest_or_uncertain_and_suggest_is_no_practice(
    app_project: Path, tmp_path: Path, opened: list[DpoApp]
):
    path = judged(tmp_path, app_project)
    result = run("annotate", path, "--judge", JUDGE)
    assert result.exit_code == 2 and "--judge chooses the judge" in result.output
    result = run("annotate", path, "--suggest", "--judge", "judge:nobody@0")
    assert result.exit_code == 1 and "no judge named 'judge:nobody@0'" in result.output
    result = run("annotate", path, "--suggest", "--practice")
    assert result.exit_code == 2 and "practice" in result.output
    assert opened == []
