"""`report --rubric-health` in the terminal, as JSON and as HTML, and the plain report's
pointer to it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run
from tests.tui.conftest import disputed  # noqa: F401


def test_the_plain_report_points_at_rubric_health(disputed: Path):  # noqa: F811
    result = run("report", disputed)
    assert result.exit_code == 0, result.output
    squeezed = "".join(result.output.split())  # the terminal wraps long lines
    assert "Criteriabelowalpha0.667:clarity" in squeezed
    assert f"dpo-tuireport{disputed}--rubric-health" in squeezed


def test_rubric_health_in_the_terminal_and_as_json(disputed: Path):  # noqa: F811
    result = run("report", disputed, "--rubric-health")
    assert result.exit_code == 0, result.output
    assert "Rubric health" in result.output and "what to tighten" in result.output
    data = json.loads(run("report", disputed, "--rubric-health", "--json").output)
    clarity = data["criteria"][0]
    assert clarity["key"] == "clarity" and clarity["alpha_status"] == "low"
    assert data["criteria"][1]["top_share"] == 1.0


def test_rubric_health_as_html(disputed: Path, tmp_path: Path):  # noqa: F811
    page = tmp_path / "health.html"
    result = run("report", disputed, "--rubric-health", "--html", page)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<h1>Rubric health</h1>" in text and "<script" not in text
    assert "clarity" in text
