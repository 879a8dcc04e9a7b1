"""What the hardening tests share: the CLI run in-process (never a traceback), a project."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from tests.conftest import DATA

RUBRIC = DATA / "rubrics" / "good.toml"


def invoke(*args: object) -> tuple[int, str]:
    """Run the CLI; its exit code and output, which must hold no traceback."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project (in a folder of its own) with the test prompts and candidates."""
    path = tmp_path / "folder" / "p.dpo"
    path.parent.mkdir()
    assert invoke("init", path, "--rubric", RUBRIC, "--annotator", "alice")[0] == 0
    assert invoke("import", path, DATA / "inputs" / "good.jsonl")[0] == 0
    assert invoke("import-candidates", path, DATA / "candidates" / "good.jsonl")[0] == 0
    return path
