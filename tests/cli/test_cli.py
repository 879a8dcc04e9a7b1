import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from tests.conftest import DATA, REPO, snapshot

INPUTS = DATA / "inputs"
RUBRIC = str(DATA / "rubrics" / "good.toml")


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def all_commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        found[f"{prefix}{name}"] = command
        if isinstance(command, click.Group):
            found.update(all_commands(command, f"{prefix}{name} "))
    return found


@pytest.mark.parametrize("name", sorted(all_commands()))
def test_every_command_has_help(name: str):
    command = all_commands()[name]
    assert command.help and len(command.help.strip()) > 20, name
    result = run(*name.split(), "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"


@pytest.mark.parametrize("name", sorted(all_commands()))
def test_every_command_is_documented_in_the_readme(name: str):
    assert f"dpo-tui {name}" in (REPO / "README.md").read_text(), name


def test_init_import_status_flow(tmp_path: Path):
    project = tmp_path / "support.dpo"
    result = run("init", project, "--rubric", RUBRIC, "--annotator", "alice")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    result = run("import", project, INPUTS / "good.jsonl")
    assert result.exit_code == 0, result.output
    assert "read 3, added 2, skipped 1 duplicates" in result.output
    result = run("status", project, "--json")
    status = json.loads(result.output)
    assert status["prompts"] == 2
    assert status["annotator"] == "alice"
    assert status["rubric_name"] == "Test rubric"
    assert status["imports"][0]["added"] == 2
    human = run("status", project).output
    assert "alice" in human
    assert "2 (0 conversational)" in human


def test_init_with_bundled_rubric_name(tmp_path: Path):
    result = run("init", tmp_path / "s.dpo", "--rubric", "customer_support", "-a", "bob")
    assert result.exit_code == 0, result.output
    status = json.loads(run("status", tmp_path / "s.dpo", "--json").output)
    assert status["rubric_name"] == "Customer support"


def test_import_with_field_option(tmp_path: Path):
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    csv = tmp_path / "prompts.csv"
    csv.write_text("id,question,answer\n1,What is a DPO pair?,x\n")
    result = run("import", project, csv, "--field", "question")
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output
    assert "Near-duplicate" not in result.output


def test_import_reports_near_duplicate_prompts(tmp_path: Path):
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    text = tmp_path / "prompts.txt"
    text.write_text("How do I reset my password?\nHow do I reset my password??\nWrite a haiku.\n")
    result = run("import", project, text)
    assert result.exit_code == 0, result.output
    assert "Near-duplicate prompts (>= 90% similar): 1 pair;" in result.output


def test_bad_import_exits_1_with_message_and_changes_nothing(tmp_path: Path):
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    run("import", project, INPUTS / "good.jsonl")
    before = snapshot(project)
    result = CliRunner().invoke(cli, ["import", str(project), str(INPUTS / "malformed.jsonl")])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "malformed.jsonl: line 3: not valid JSON" in result.output
    assert snapshot(project) == before


def test_errors_are_printed_literally_not_as_markup(tmp_path: Path):
    weird = tmp_path / "[red]x[@click=app.quit].jsonl"
    weird.write_text('{"prompt": 1}\n')
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    result = CliRunner().invoke(cli, ["import", str(project), str(weird)])
    assert result.exit_code == 1
    assert "[red]x[@click=app.quit].jsonl: line 1" in result.output


def test_init_refuses_existing_file_and_bad_rubric(tmp_path: Path):
    project = tmp_path / "p.dpo"
    assert run("init", project, "-r", RUBRIC, "-a", "alice").exit_code == 0
    result = CliRunner().invoke(cli, ["init", str(project), "-r", RUBRIC, "-a", "bob"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    bad = DATA / "rubrics" / "unknown_key.toml"
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "q.dpo"), "-r", str(bad), "-a", "x"])
    assert result.exit_code == 1
    assert "wieght: unknown key" in result.output
    assert not (tmp_path / "q.dpo").exists()


def test_status_of_missing_project():
    result = CliRunner().invoke(cli, ["status", "/nonexistent/x.dpo"])
    assert result.exit_code == 1
    assert "no such project file" in result.output


def test_rubric_check_reports_each_file_and_exits_1_on_any_bad():
    good = DATA / "rubrics" / "good.toml"
    bad = DATA / "rubrics" / "duplicate_key.toml"
    ok = run("rubric", "check", good)
    assert ok.exit_code == 0
    assert "ok:" in ok.output
    mixed = CliRunner().invoke(cli, ["rubric", "check", str(good), str(bad)])
    assert mixed.exit_code == 1
    assert "ok:" in mixed.output
    assert "invalid:" in mixed.output
    assert "criterion key 'clarity' is used twice" in mixed.output


def test_rubric_check_all_bundled_and_list():
    files = sorted((REPO / "rubrics").glob("*.toml"))
    result = run("rubric", "check", *files)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok:") == len(files) >= 5
    listing = run("rubric", "list").output
    assert "customer_support" in listing


def test_demo_builds_a_project_from_the_sample_data(tmp_path: Path):
    project = tmp_path / "demo.dpo"
    result = run("demo", project, "--generate", "0")
    assert result.exit_code == 0, result.output
    assert "Next: dpo-tui annotate" in result.output
    status = json.loads(run("status", project, "--json").output)
    assert status["prompts"] >= 150
    assert status["conversational_prompts"] >= 10
    assert status["candidates"] >= 50
    again = run("demo", project, "--generate", "0")
    assert again.exit_code == 0
    assert json.loads(run("status", project, "--json").output)["prompts"] == status["prompts"]


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "dpo_tui", "--version"], capture_output=True, text=True, check=True
    )
    assert "dpo-tui" in result.stdout


def test_escape_sequences_never_reach_the_terminal(tmp_path: Path):
    evil = tmp_path / "evil\x1b[2J\u202e.jsonl"
    evil.write_text('{"prompt": 1}\n')
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    result = CliRunner().invoke(cli, ["import", str(project), str(evil)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "evil\\x1b[2J\\u202e.jsonl: line 1" in result.output


def test_import_candidates_command(tmp_path: Path):
    project = tmp_path / "p.dpo"
    run("init", project, "-r", RUBRIC, "-a", "alice")
    run("import", project, INPUTS / "good.jsonl")
    result = run("import-candidates", project, DATA / "candidates" / "good.jsonl")
    assert result.exit_code == 0, result.output
    assert "added 4 candidates" in result.output
    assert "1 flagged as near-duplicates" in result.output
    status = json.loads(run("status", project, "--json").output)
    assert status["candidates"] == 4
    assert status["near_duplicate_candidates"] == 1
    bad = CliRunner().invoke(
        cli, ["import-candidates", str(project), str(DATA / "candidates" / "unknown_prompt.jsonl")]
    )
    assert bad.exit_code == 1
    assert "line 2: the prompt (id" in bad.output


def test_report_command_terminal_and_json(tmp_path: Path):
    project = tmp_path / "p.dpo"
    run("demo", project, "--generate", "0")
    result = run("report", project)
    assert result.exit_code == 0, result.output
    assert "Quality report" in result.output and "warnings" in result.output
    data = json.loads(run("report", project, "--json").output)
    assert data["counts"]["prompts"] >= 150
    assert data["warnings"][0]["code"] == "few_pairs"


def test_assign_pack_merge_commands(tmp_path: Path, app_project: Path):
    outbox = tmp_path / "outbox"
    result = run(
        "assign", app_project, "--annotators", "alice,bob", "--overlap", "1", "--out", outbox
    )
    assert result.exit_code == 0, result.output
    assert "alice and bob share 3 prompts" in result.output
    packed = run("pack", outbox / "alice.dpo")
    assert packed.exit_code == 0, packed.output
    assert "annotator alice, 0 items done" in packed.output
    merged = run("merge", app_project, outbox / "alice.packed.dpo", outbox / "bob.dpo")
    assert merged.exit_code == 0, merged.output
    assert "+0 score cards" in merged.output
    noise = tmp_path / "noise.dpo"
    noise.write_bytes(b"\x00" * 100)
    bad = CliRunner().invoke(cli, ["merge", str(app_project), str(noise)])
    assert bad.exit_code == 1
    assert "not an SQLite database" in bad.output


def test_bundled_names_the_bundled_model_unless_a_path_has_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from dpo_tui.cli.options import MODEL
    from dpo_tui.generation.models import default_model_path

    monkeypatch.chdir(tmp_path)
    assert MODEL.convert("bundled", None, None) == default_model_path()
    assert MODEL.convert("runs/model", None, None) == Path("runs/model")
    (tmp_path / "bundled").mkdir()
    assert MODEL.convert("bundled", None, None) == Path("bundled")
