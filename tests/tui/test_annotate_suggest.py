"""`annotate --suggest` on screen: the judge's values as markers on the sliders and its
reasons in the pane, only when asked; J takes them as typed scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpo_tui.errors import DpoError
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import DpoApp, make_app
from dpo_tui.tui.widgets.candidate_pane import CandidatePane
from dpo_tui.tui.widgets.slider import RubricSlider
from tests.services.test_annotating_suggest import CARDS, WHY, judge_first_prompt
from tests.tui.test_annotate_blind import screen_text


@pytest.fixture
def judged(app_project: Path) -> list[str]:
    """The first prompt's candidate ids (in the order added), the judge's cards of each."""
    with ProjectStore.open(app_project) as store:
        return judge_first_prompt(store)


def panes(app: DpoApp) -> dict[str, CandidatePane]:
    return {pane.candidate_id: pane for pane in app.screen.query(CandidatePane)}


async def test_markers_and_reasons_show_only_with_suggest(app_project: Path, judged: list[str]):
    app = make_app(app_project, suggest=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        shown = panes(app)
        for cid, card, why in zip(judged, CARDS, WHY, strict=True):
            pane = shown[cid]
            assert {s.criterion.key: s.suggestion for s in pane.sliders} == card
            assert pane.reasons.display and str(pane.reasons.render()) == f"judge: {why}"
        text = screen_text(app)
        assert "(judge 4)" in text and "(judge 1)" in text
        assert "◇" in text and "■" not in text  # nothing scored yet: the judge's cells empty
        assert "rude [bold]tone[/bold]" in text  # literally: no markup from the judge
        assert "Take judge's" in text  # the key, in the footer
        await pilot.press("n")  # the judge did not score the second prompt: no markers
        await pilot.pause()
        assert all(s.suggestion is None for s in app.screen.query(RubricSlider))
        assert not any(p.reasons.display for p in app.screen.query(CandidatePane))
        assert "(judge" not in screen_text(app)
        await pilot.press("q")
    app.session.store.close()

    blind = make_app(app_project)
    async with blind.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert all(s.suggestion is None for s in blind.screen.query(RubricSlider))
        text = screen_text(blind)
        for secret in ("(judge", "◇", "◆", "judge:", *WHY, "Take judge's"):
            assert secret not in text, secret
        await pilot.press("J")  # not a key without --suggest: nothing changes
        await pilot.pause()
        assert blind.session.item.scores == {}
        titles = {command.title for command in blind.get_system_commands(blind.screen)}
        assert "Take judge's" not in titles
        await pilot.press("f1")
        await pilot.pause()
        assert "accept_suggestions" not in screen_text(blind)
        await pilot.press("escape", "q")
    blind.session.store.close()


async def test_the_key_takes_the_judges_values_as_typed_scores(
    app_project: Path, judged: list[str]
):
    app = make_app(app_project, suggest=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        item = app.session.item
        first = item.candidates[0].id  # the focused pane: A, whatever the judge's order
        card = CARDS[judged.index(first)]
        await pilot.press("J")
        await pilot.pause()
        with ProjectStore.open(app_project) as store:
            assert store.scores(item.prompt.id, "alice") == {first: card}
            assert store.judgement(item.prompt.id, "alice").suggested
        slider = app.screen.query_one(f"#slider-0-{'clarity'}", RubricSlider)
        assert slider.value == card["clarity"] == slider.suggestion
        assert "◆" in screen_text(app)  # the judge's cell, within the annotator's score
        await pilot.press("ctrl+z")  # undone as typed: one score at a time
        await pilot.pause()
        with ProjectStore.open(app_project) as store:
            assert store.scores(item.prompt.id, "alice") == {first: {"clarity": card["clarity"]}}
        await pilot.press("q")
    app.session.store.close()


async def test_suggested_is_recorded_only_for_a_change_with_the_judge_shown(
    app_project: Path, judged: list[str]
):
    blind = make_app(app_project)
    async with blind.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "n", "3")  # a blind change on both prompts
        await pilot.pause()
        p0, p1 = blind.session.prompt_ids[:2]
        await pilot.press("q")
    blind.session.store.close()
    app = make_app(app_project, suggest=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session.item.prompt.id == p0
        await pilot.press("n", "p")  # visits: the time is recorded, not a suggestion
        await pilot.pause()
        with ProjectStore.open(app_project) as store:
            assert not store.judgement(p0, "alice").suggested
        await pilot.press("right")  # a change with the judge's values shown
        await pilot.press("n", "4")  # a change on an item the judge did not score
        await pilot.pause()
        await pilot.press("q")
    app.session.store.close()
    with ProjectStore.open(app_project) as store:
        assert store.judgement(p0, "alice").suggested
        assert not store.judgement(p1, "alice").suggested


async def test_suggest_without_a_judge_is_refused(app_project: Path):
    with pytest.raises(DpoError, match="no judge model has scored its items") as caught:
        make_app(app_project, suggest=True)
    assert f"dpo-tui judge {app_project}" in str(caught.value)
