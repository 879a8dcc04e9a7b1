"""`report --judge` in the terminal, as JSON and as HTML (a judge's name shown literally), the
plain report's pointer to it, and `export --judge-pairs` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpo_tui.core.rubric import load_rubric
from dpo_tui.store.project import ProjectStore
from tests.cli.test_cli import run
from tests.conftest import DATA, snapshot
from tests.services.test_exporting_judge import GOOD, JUDGE_ONLY, build_judged

HOSTILE = "judge:<b>evil</b>\x1b[31m@0123456789ab"


@pytest.fixture
def judged(tmp_path: Path) -> Path:
    path = tmp_path / "judged.dpo"
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        build_judged(store, judges=(GOOD, HOSTILE))
    return path


def test_no_judge_says_to_run_judge_first(tmp_path: Path):
    path = tmp_path / "plain.dpo"
    ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice").close()
    result = run("report", path, "--judge")
    assert result.exit_code == 1
    assert "no judge model has scored this project yet" in result.output
    assert f"dpo-tui judge {path}" in result.output
    assert "--judge" not in run("report", path).output  # no pointer without a judge


def test_judge_report_in_the_terminal_json_and_html(judged: Path, tmp_path: Path):
    result = run("report", judged, "--judge")
    assert result.exit_code == 0, result.output
    squeezed = "".join(result.output.replace("│", "").split())  # wrapped in a panel
    assert "Judgecalibration" in squeezed
    assert "thejudgeagreeswithhumanson90%ofpairdirections" in squeezed
    assert "humansagreewitheachotheron80%(on60shareditems)" in squeezed
    assert "\x1b[31m" not in result.output and "\\x1b[31m" in result.output
    assert "per criterion: judge:<b>evil</b>\\x1b[31m@0123456789ab" in result.output
    data = json.loads(run("report", judged, "--judge", "--json").output)
    assert [j["judge"] for j in data["judges"]] == sorted([GOOD, HOSTILE])
    assert data["humans"] == ["alice", "bob"]
    assert data["references"][0]["judge_human"] == 0.66
    page = tmp_path / "judge.html"
    result = run("report", judged, "--judge", "--html", page)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<h1>Judge calibration</h1>" in text
    assert "&lt;b&gt;evil&lt;/b&gt;\\x1b[31m@0123456789ab" in text
    assert "<b>evil" not in text and "<script" not in text
    assert "Per criterion: judge:good-model@0123456789ab" in text


def test_the_plain_report_points_at_the_judge_report(judged: Path):
    result = run("report", judged)
    assert result.exit_code == 0, result.output
    squeezed = "".join(result.output.split())
    assert f"dpo-tuireport{judged}--judge" in squeezed


def test_one_report_at_a_time(judged: Path):
    result = run("report", judged, "--judge", "--rubric-health")
    assert result.exit_code == 1
    assert "--rubric-health and --judge are separate reports" in result.output


def test_export_judge_pairs_from_the_command_line(judged: Path, tmp_path: Path):
    before = snapshot(judged)
    result = run("export", judged, "--format", "jsonl", "-o", tmp_path / "o", "--judge-pairs")
    assert result.exit_code == 1
    assert "holds 2 judges" in result.output
    result = run(
        "export",
        judged,
        "--format",
        "jsonl",
        "-o",
        tmp_path / "o",
        "--judge-pairs",
        "--judge",
        HOSTILE,
        "--judge-min-agreement",
        "0.95",
    )
    assert result.exit_code == 1
    assert "below--judge-min-agreement(95%)" in "".join(result.output.split())
    assert "\x1b[31m" not in result.output and "\\x1b[31m" in result.output
    assert snapshot(judged) == before and not (tmp_path / "o").exists()
    result = run(
        "export",
        judged,
        "--format",
        "jsonl",
        "-o",
        tmp_path / "o",
        "--judge-pairs",
        "--judge",
        GOOD,
    )
    assert result.exit_code == 0, result.output
    assert f"{JUDGE_ONLY} of the pairs come from a judge model" in result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["judge_pairs"] == JUDGE_ONLY and manifest["judge"]["name"] == GOOD
