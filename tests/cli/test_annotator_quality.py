"""`gold add`, `gold list`, `assign --gold`, `report --annotators` and
`export --exclude-annotator` as a user runs them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.cli.test_cli import run
from tests.conftest import snapshot
from tests.services.test_annotator_quality import GOLD, answer, prompt, team, work  # noqa: F401


def test_gold_add_reports_and_a_bad_file_changes_nothing(team: Path, tmp_path: Path):  # noqa: F811
    listed = json.loads(run("gold", "list", team, "--json").output)
    assert len(listed) == GOLD and listed[0]["explanation"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"prompt,chosen,rejected,explanation\n{prompt(9)},{answer(9, 3)},nope,why\n")
    before = snapshot(team)
    result = run("gold", "add", team, "--from", bad)
    assert result.exit_code == 1
    assert "line 2" in result.output and "rejected: no such candidate" in result.output
    assert snapshot(team) == before
    good = tmp_path / "good.csv"
    good.write_text(
        f"prompt,chosen,rejected,explanation\n{prompt(9)},{answer(9, 3)},{answer(9, 1)},why\n"
    )
    result = run("gold", "add", team, "--from", good)
    assert result.exit_code == 0, result.output
    assert f"Added 1 gold items from {good} ({GOLD + 1} in the project)" in result.output


def test_assign_report_cards_and_an_export_without_one_annotator(team: Path, tmp_path: Path):  # noqa: F811
    out = tmp_path / "out"
    result = run(
        "assign",
        team,
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "0.5",
        "--out",
        out,
        "--gold",
        GOLD,
    )
    assert result.exit_code == 0, result.output
    assert f"each with the same {GOLD} gold items" in result.output
    rng = random.Random(1)
    for name in ("alice", "bob", "carol"):
        work(out / f"{name}.dpo", careless=name == "carol", rng=rng)
    assert run("merge", team, *(out / f"{n}.dpo" for n in ("alice", "bob", "carol"))).exit_code == 0
    result = run("report", team, "--annotators")
    assert result.exit_code == 0, result.output
    squeezed = " ".join(result.output.split())
    assert (
        "report card per annotator" in squeezed and "carol: 100% of items done faster" in squeezed
    )
    data = json.loads(run("report", team, "--annotators", "--json").output)
    assert [c["annotator"] for c in data["cards"]] == ["alice", "bob", "carol"]
    page = tmp_path / "cards.html"
    assert run("report", team, "--annotators", "--html", page).exit_code == 0
    assert "<h1>Annotators</h1>" in page.read_text()
    result = run(
        "export", team, "--format", "trl", "--out", tmp_path / "r1", "--exclude-annotator", "carol"
    )
    assert result.exit_code == 0, result.output
    assert "Left out the judgements of carol." in result.output
    result = run(
        "export", team, "--format", "trl", "--out", tmp_path / "r2", "--exclude-annotator", "carl"
    )
    assert result.exit_code == 1 and "no such annotator" in result.output
    both = run("report", team, "--annotators", "--rubric-health")
    assert both.exit_code == 1 and "ask for one" in both.output
