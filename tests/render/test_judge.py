"""The judge calibration's views: the same figures in the terminal and in HTML, text inert."""

from __future__ import annotations

import html

from rich.console import Console

from dpo_tui.core.judge_calibration import judge_calibration
from dpo_tui.render.judge import (
    judge_pointer,
    overview_rows,
    render_judge,
    render_judge_html,
)
from tests.core.test_judge_calibration import JUDGE, RUBRIC, data


def _terminal(parts) -> str:
    console = Console(width=200, record=True, markup=False, color_system=None)
    for part in parts:
        console.print(part)
    return console.export_text()


def test_both_views_show_the_figures():
    calibration = judge_calibration(RUBRIC, data())
    rows = {row[0]: row[1] for row in overview_rows(calibration)}
    assert rows["pair direction with humans"] == "73% (8/11 pairs, 3 items)"
    assert rows["  judge with humans there"] == "75% (6/8 pairs, 2 items)"
    assert rows["  humans with each other there"] == "50% (2/4 pairs, 2 items)"
    assert rows["as good as a human"] == "too few shared items"
    assert rows["same verdict after the swap"] == "50% (1/2; 1 with a failed verdict)"
    assert rows["rho with length: judge / humans"] == "1.00 (n 10) / 0.72 (n 13)"
    text = _terminal(render_judge(calibration, "p.dpo"))
    assert "Judge calibration: p.dpo; humans: alice, bob" in text
    assert calibration.judges[0].verdict[:60] in text
    assert "MT-Bench, GPT-4 judge (with ties)" in text
    page = render_judge_html(calibration, "<p>.dpo")
    assert "<h1>Judge calibration</h1>" in page and "<script" not in page
    assert "<code>&lt;p&gt;.dpo</code>" in page
    assert f"Per criterion: {JUDGE}" in page
    assert html.escape("73% (8/11 pairs, 3 items)") in page
    assert "-0.08" in page  # judge - human on q: -1/13


def test_the_pointer_quotes_the_project():
    assert "dpo-tui report 'my project.dpo' --judge" in judge_pointer("my project.dpo").plain
