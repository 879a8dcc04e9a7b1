"""`annotate --order` and `assign --order / --judge / --with-judge` from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

from dpo_tui.store.project import ProjectStore
from tests.cli.test_cli import run
from tests.judged import JUDGE, judge_by_position


def judged(tmp_path: Path, app_project: Path) -> Path:
    path = tmp_path / "team.dpo"
    shutil.copyfile(app_project, path)
    with ProjectStore.open(path) as store:
        first = store.prompt_ids_in_order()[0]
        judge_by_position(store, first, [[{"clarity": c, "safety": 3}] for c in (5, 4, 1)])
    return path


def test_annotate_uncertain_without_a_judge_says_what_to_run(app_project: Path):
    result = run("annotate", app_project, "--order", "uncertain")
    assert result.exit_code == 1
    assert "no judge model has scored its items" in result.output
    assert f"dpo-tui judge {app_project}" in result.output


def test_judge_goes_only_with_order_uncertain(app_project: Path, tmp_path: Path):
    result = run("annotate", app_project, "--judge", JUDGE)
    assert result.exit_code == 2 and "--judge chooses the judge of --order uncertain" in (
        result.output
    )
    result = run(
        "assign", app_project, "--annotators", "a,b", "--out", tmp_path / "o", "--judge", JUDGE
    )
    assert result.exit_code == 2 and not (tmp_path / "o").exists()


def test_assign_says_the_order_and_what_it_copied(app_project: Path, tmp_path: Path):
    path = judged(tmp_path, app_project)
    result = run(
        "assign",
        path,
        "--annotators",
        "alice,bob",
        "--overlap",
        "1",
        "--out",
        tmp_path / "out",
        "--order",
        "uncertain",
        "--with-judge",
    )
    assert result.exit_code == 0, result.output
    assert "3 prompts for alice, with 8 judge rows" in result.output  # 3 cards, 3 samples,
    assert f"each in the order {JUDGE} is least sure of first" in result.output  # 1, 1
    result = run(
        "assign", path, "--annotators", "alice,bob", "--out", tmp_path / "r", "--order", "random"
    )
    assert result.exit_code == 0, result.output
    assert "shuffled with seed 0" in result.output
    result = run("assign", app_project, "--annotators", "a,b", "--out", tmp_path / "x")
    assert "judge" not in result.output.replace(str(tmp_path), "")
