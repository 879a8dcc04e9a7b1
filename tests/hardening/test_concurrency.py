"""Two writers at once (#14, class 3): every write takes the lock first and waits for the
other (a busy timeout on every connection, `BEGIN IMMEDIATE`); only past the wait does a
command stop, with a message that names the other process, never a traceback."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from dpo_tui.store import connection
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

RUBRIC = DATA / "rubrics" / "good.toml"


def dpo(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dpo_tui", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def team(tmp_path: Path) -> tuple[Path, list[Path], Path]:
    """A lead's project with 400 prompts and candidates, four annotator files with scores to
    merge, and a CSV of annotations to import over and over."""
    lead = tmp_path / "team.dpo"
    prompts = tmp_path / "prompts.jsonl"
    candidates = tmp_path / "candidates.jsonl"
    with prompts.open("w") as p, candidates.open("w") as c:
        for n in range(400):
            text = f"Question {n}: how do I fix problem number {n} in my account settings?"
            p.write(f'{{"prompt": "{text}"}}\n')
            c.write(f'{{"prompt": "{text}", "responses": ["Answer A {n}", "Answer B {n}"]}}\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(lead), "-r", str(RUBRIC), "-a", "lead"]).exit_code == 0
    assert runner.invoke(cli, ["import", str(lead), str(prompts)]).exit_code == 0
    assert runner.invoke(cli, ["import-candidates", str(lead), str(candidates)]).exit_code == 0
    out = tmp_path / "outbox"
    names = ["ann", "ben", "cat", "dan"]
    result = runner.invoke(
        cli, ["assign", str(lead), "--annotators", ",".join(names), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = [out / f"{name}.dpo" for name in names]
    for path in files:
        with ProjectStore.open(path) as store:
            for prompt in store.prompts():
                for index, candidate in enumerate(store.candidates(prompt.id)):
                    store.set_scores(candidate.id, store.meta.annotator, {"clarity": 1 + index})
    annotations = tmp_path / "more.csv"
    with ProjectStore.open(lead) as store, annotations.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt_id", "candidate_id", "annotator", "clarity", "safety"])
        for prompt in list(store.prompts())[:50]:
            for candidate in store.candidates(prompt.id):
                writer.writerow([prompt.id, candidate.id, "script", 3, 2])
    return lead, files, annotations


def hold_lock(project: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the project's write lock, writes (so that every snapshot
    read meanwhile is stale when it commits), and holds the lock for `seconds`."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            "c.execute('BEGIN IMMEDIATE');"
            "c.execute(\"update meta set value = value where key = 'project_id'\");"
            "print('held', flush=True);"
            "time.sleep(float(sys.argv[2])); c.execute('COMMIT')",
            str(project),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.mark.slow
def test_a_merge_and_imports_at_once_all_wait_their_turn(team: tuple[Path, list[Path], Path]):
    """A merge and three imports start together while a fifth process holds the write lock
    for 3 s: each waits for the lock, none fails."""
    lead, files, annotations = team
    holder = hold_lock(lead, 3)
    writers = [dpo("merge", lead, *files)]
    writers += [dpo("import-annotations", lead, annotations) for _ in range(3)]
    for process in writers:
        output = process.communicate(timeout=120)[0]
        assert process.returncode == 0, output
        assert "Traceback" not in output and "locked" not in output
    holder.wait(timeout=10)
    with ProjectStore.open(lead) as store:
        annotators = {annotator for (_, annotator) in store.scores_by_item()}
    assert annotators >= {"ann", "ben", "cat", "dan", "script"}


def test_past_the_wait_the_command_stops_naming_the_lock_holder(
    team: tuple[Path, list[Path], Path], monkeypatch: pytest.MonkeyPatch
):
    lead, _, annotations = team
    before = snapshot(lead)
    holder = hold_lock(lead, 30)
    try:
        monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 300)
        result = CliRunner().invoke(cli, ["import-annotations", str(lead), str(annotations)])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"error: {lead}: another process held the project's write lock" in result.output
    if os.path.isdir("/proc"):
        assert f"pid {holder.pid}: " in result.output
    assert "nothing was written" in result.output
    assert snapshot(lead) == before
