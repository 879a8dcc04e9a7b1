"""The HTML quality report: self-contained, charts present, untrusted text inert."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Judgement, Prompt
from dpo_tui.core.rubric import load_rubric
from dpo_tui.render.html import render_html
from dpo_tui.services.reporting import project_report
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA
from tests.services.test_exporting import build

HOSTILE = (
    'Refund <script>alert(1)</script> for "><img src=x onerror=alert(1)> order '
    "\x1b[31m12345 \u202eplease, it never arrived and support did not answer"
)
HOSTILE_COPY = HOSTILE.replace("never arrived", "never arived")


def add_hostile(store: ProjectStore) -> None:
    """The hostile prompt, scored, plus a near-copy of it (so it shows in the duplicate table)."""
    prompts = [Prompt(id=prompt_id(t), text=t, source="hostile") for t in (HOSTILE, HOSTILE_COPY)]
    store.add_prompts(prompts)
    hostile = prompts[0]
    store.add_candidates(
        [
            Candidate(
                id=candidate_id(hostile.id, text),
                prompt_id=hostile.id,
                text=text,
                origin="imported:test",
            )
            for text in ("<b>short</b>", "a much longer and better answer </td></table>")
        ]
    )
    for value, cand in zip((2, 5), store.candidates(hostile.id), strict=True):
        store.set_score(cand.id, "alice", "clarity", value)
        store.set_score(cand.id, "alice", "safety", 3)
    store.save_judgement(Judgement(prompt_id=hostile.id, annotator="alice", diagnosis="clearer"))


@pytest.fixture
def report_store(project: ProjectStore) -> ProjectStore:
    build(project, 24, near_copies=2)
    add_hostile(project)
    return project


def charts(page: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def test_page_is_self_contained_with_charts_and_warnings(report_store: ProjectStore):
    report = project_report(report_store)
    page = render_html(report, "team/support.dpo", "Test rubric")
    assert page.startswith("<!DOCTYPE html>")
    assert "team/support.dpo" in page and "Test rubric" in page
    images = charts(page)
    assert len(images) >= 5
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert page.count("data:image/png;base64,") == len(images)
    assert report.warnings
    for warning in report.warnings:
        assert html.escape(warning.message) in page
    assert 'class="card warnings"' in page
    lowered = page.lower()
    for needle in (
        'src="http',
        "src='http",
        'href="http',
        "url(http",
        "@import",
        "<script",
        "<link",
    ):
        assert needle not in lowered
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_untrusted_text_is_escaped_and_made_visible(report_store: ProjectStore):
    report = project_report(report_store)
    assert any(
        HOSTILE[:100] in (d["first_text"], d["second_text"]) for d in report.near_duplicate_prompts
    )
    page = render_html(report, 'evil<script>alert("p")</script>.dpo', "<i>rubric</i>")
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<i>rubric" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "evil&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt;.dpo" in page
    assert "\x1b" not in page and "\u202e" not in page
    assert "\\x1b[31m12345" in page and "\\u202e" in page


def test_render_is_deterministic(report_store: ProjectStore):
    report = project_report(report_store)
    assert render_html(report, "p.dpo", "r") == render_html(report, "p.dpo", "r")


def test_empty_project_renders_without_charts(project: ProjectStore):
    page = render_html(project_report(project), "empty.dpo", "Test rubric")
    assert "No scores yet." in page
    assert "No exportable pairs yet." in page
    assert "Only 0 exportable pairs" in page


def make_project(tmp_path: Path) -> Path:
    path = tmp_path / "cli.dpo"
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        build(store, 22, near_copies=1)
        add_hostile(store)
    return path


def test_cli_writes_html_and_keeps_terminal_output(tmp_path: Path):
    path = make_project(tmp_path)
    target = tmp_path / "out.html"
    result = CliRunner().invoke(cli, ["report", str(path), "--html", str(target)])
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and len(charts(page)) >= 5
    assert "<script>alert" not in page
    assert "Quality report" in result.stdout  # the terminal report is still printed
    assert f"HTML report written to {target}" in result.stdout


def test_cli_json_stays_pure_with_html(tmp_path: Path):
    path = make_project(tmp_path)
    target = tmp_path / "out.html"
    result = CliRunner().invoke(cli, ["report", str(path), "--json", "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["prompts"] == 25
    assert "HTML report written to" in result.stderr
    assert target.is_file()


def test_cli_reports_an_unwritable_html_path(tmp_path: Path):
    path = make_project(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(path), "--html", str(tmp_path / "no" / "x")])
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
