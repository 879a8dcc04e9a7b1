"""The annotator is blind to the judge: a file holding a judge's cards, reasons, samples and
verdicts for every item shows none of them, on any item, in any order, on any screen."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from textual.widgets import TextArea

from dpo_tui.core.scoring import total
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import DpoApp, make_app
from dpo_tui.tui.widgets.candidate_pane import CandidatePane
from dpo_tui.tui.widgets.slider import RubricSlider
from tests.judged import JUDGE, REASONS, judge_by_position

CARDS = [{"clarity": 4, "safety": 3}, {"clarity": 2, "safety": 2}, {"clarity": 5, "safety": 1}]
"""The judge's cards of each prompt's candidates, by position: totals 0.92, 0.42, 0.33."""


def screen_text(app: DpoApp) -> str:
    """Everything the terminal shows, as plain text (from the screenshot Textual exports)."""
    svg = app.export_screenshot()
    text = re.sub(r"<[^>]+>", "", svg.split("</style>")[-1])
    return html.unescape(text).replace("\xa0", " ")


def assert_blind(app: DpoApp) -> None:
    item = app.session.item
    assert item is not None
    shown = screen_text(app)
    for secret in (REASONS, "Zebracorn", "oracle", "judge:", JUDGE):
        assert secret not in shown, secret
    rubric = app.session.rubric
    for card in CARDS:
        assert f"total {total(rubric, card):.2f}" not in shown
    assert "total –" in shown
    assert item.scores == {}  # the annotator's own cards: none yet
    for slider in app.screen.query(RubricSlider):
        assert slider.value is None, slider.id
    for pane in app.screen.query(CandidatePane):
        assert REASONS not in str(pane.text.render())
    assert app.screen.query_one("#diagnosis", TextArea).text == ""


def judged_file(tmp_path: Path, app_project: Path) -> Path:
    """alice's file, made with the judge's rows for every item in it."""
    team = tmp_path / "team.dpo"
    shutil.copyfile(app_project, team)
    with ProjectStore.open(team) as store:
        for pid in store.prompt_ids_in_order():
            count = len(store.candidates(pid))
            if count:
                judge_by_position(store, pid, [[card, card] for card in CARDS[:count]])
        files = assign(store, ["alice", "bob"], 1.0, tmp_path / "out", with_judge=True).files
    with ProjectStore.open(files["alice"]) as alice:
        assert alice.judge_names() == [JUDGE]
        assert all(alice.scores(pid, JUDGE) for pid in alice.prompt_ids_in_order())
    return files["alice"]


async def test_no_judge_value_or_reason_reaches_the_screen(tmp_path: Path, app_project: Path):
    path = judged_file(tmp_path, app_project)
    for order in ("file", "uncertain"):
        app = make_app(path, order=order)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            seen = []
            for _ in app.session.prompt_ids:
                assert_blind(app)
                seen.append(app.session.item.prompt.id)
                await pilot.press("n")
                await pilot.pause()
            assert sorted(seen) == sorted(app.session.prompt_ids)
            await pilot.press("h")  # the home screen: this annotator's figures only
            await pilot.pause()
            home = screen_text(app)
            assert "oracle" not in home and REASONS not in home and "judge:" not in home
            await pilot.press("q")
        app.session.store.close()
