"""The annotator app driven with Pilot; every assertion is on what the project file holds."""

from __future__ import annotations

import json
from pathlib import Path

from textual.content import Content
from textual.widgets import Static, TextArea

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.services.importing import import_candidates, import_prompts
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import DpoApp, make_app
from dpo_tui.tui.screens.annotate import AnnotateScreen
from dpo_tui.tui.screens.home import HomeScreen
from dpo_tui.tui.widgets.candidate_pane import CandidatePane
from dpo_tui.tui.widgets.slider import RubricSlider
from dpo_tui.tui.widgets.text_view import TextView
from tests.conftest import PAYLOAD


def stored(path: Path) -> ProjectStore:
    return ProjectStore.open(path)


def first_prompt_scores(path: Path, app: DpoApp) -> dict[str, dict[str, int]]:
    item = app.session.item
    assert item is not None
    with stored(path) as store:
        return store.scores(item.prompt.id, "alice")


async def test_digits_score_every_slider_in_order_and_commit(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, AnnotateScreen)
        await pilot.press(*"534231")
        await pilot.pause()
        order = [c.id for c in app.session.item.candidates]
        scores = first_prompt_scores(app_project, app)
        assert scores[order[0]] == {"clarity": 5, "safety": 3}
        assert scores[order[1]] == {"clarity": 4, "safety": 2}
        assert scores[order[2]] == {"clarity": 3, "safety": 1}
        pair = str(app.screen.query_one("#flags", Static).render())
        assert "pair: A > C" in pair and "veto" in pair


async def test_arrows_plus_minus_and_backspace(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right", "right", "plus", "minus", "left")
        await pilot.pause()
        first = app.session.item.candidates[0].id
        assert first_prompt_scores(app_project, app)[first] == {"clarity": 1}
        await pilot.press("backspace")
        await pilot.pause()
        assert first not in first_prompt_scores(app_project, app)


async def test_diagnosis_is_saved_after_idle_and_on_escape(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d", *"A asks for the order number")
        await pilot.pause(1.0)
        pid = app.session.item.prompt.id
        with stored(app_project) as store:
            assert store.judgement(pid, "alice").diagnosis == "A asks for the order number"
        await pilot.press(*"; B is robotic", "escape")
        await pilot.pause()
        assert isinstance(app.focused, RubricSlider)
        with stored(app_project) as store:
            assert store.judgement(pid, "alice").diagnosis.endswith("B is robotic")


async def test_letters_typed_in_the_editor_are_text_not_commands(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d", *"skip next quit", "escape")
        await pilot.pause()
        assert app.is_running
        assert app.session.item.index == 0
        assert app.session.item.judgement.flags == ()
        assert app.session.item.judgement.diagnosis == "skip next quit"


async def test_flags_navigation_and_go_to(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s", "u")
        await pilot.pause()
        first = app.session.item.prompt.id
        with stored(app_project) as store:
            assert store.judgement(first, "alice").flags == ("skip", "unclear")
        await pilot.press("n")
        assert app.session.item.index == 1
        await pilot.press("p")
        assert app.session.item.index == 0
        await pilot.press("g", *"haiku", "enter")
        await pilot.pause()
        assert "haiku" in app.session.item.prompt.text
        await pilot.press("g", "1", "enter")
        await pilot.pause()
        assert app.session.item.index == 0


async def test_undo_and_redo(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "2")
        await pilot.pause()
        first = app.session.item.candidates[0].id
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert first_prompt_scores(app_project, app)[first] == {"clarity": 4}
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert first_prompt_scores(app_project, app)[first] == {"clarity": 4, "safety": 2}


async def test_untrusted_text_is_shown_literally_and_runs_nothing(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("g", *"Render this", "enter")
        await pilot.pause()
        texts = [str(s.render()) for s in app.screen.query(".candidate-text").results(TextView)]
        shown = next(t for t in texts if "Click" in t)
        assert "[@click=app.quit]here[/]" in shown
        assert "[link=http://evil.example]there[/]" in shown
        assert "\\x1b[2J\\x1b]0;pwned\\x07" in shown
        assert "\\u202eevil" in shown
        assert "\x1b" not in shown and "\u202e" not in shown
        prompt = str(app.screen.query_one("#prompt-text", Static).render())
        assert "[bold red]URGENT[/]" in prompt and "\\x1b[31m" in prompt
        pane = next(
            p
            for p in app.screen.query(CandidatePane)
            if "Click" in str(p.query_one(".candidate-text", TextView).render())
        )
        await pilot.click(pane.query_one(".candidate-text"), offset=(8, 0))
        await pilot.pause()
        assert app.is_running
    assert PAYLOAD  # the fixture's payload is what was shown


async def test_usable_at_80x24(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen_region = app.screen.region
        pane = app.screen.query(CandidatePane).first()
        for slider in pane.query(RubricSlider):
            assert screen_region.contains_region(slider.region), slider.id
        assert screen_region.contains_region(app.screen.query_one("#diagnosis").region)
        await pilot.press("5", "3", "5", "3")
        await pilot.pause()
        third = app.session.item.candidates[2]
        assert isinstance(app.focused, RubricSlider)
        assert app.focused.candidate_id == third.id
        assert screen_region.contains_region(app.focused.region)


async def test_focus_mode_maximizes_a_pane(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        assert isinstance(app.screen.maximized, CandidatePane)
        await pilot.press("escape")
        assert app.screen.maximized is None


async def test_keymap_remaps_a_binding_by_id(app_project: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\nnext_item = "j"\n')
    app = make_app(app_project, keymap_file=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        assert app.session.item.index == 1
        await pilot.press("f1")
        await pilot.pause()
        rows = app.screen.query_one("#help-keys").get_row_at
        keys = {rows(i)[2]: rows(i)[0] for i in range(app.screen.query_one("#help-keys").row_count)}
        assert keys["next_item"] == "j"


async def test_quit_and_reopen_returns_to_the_same_place(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"535353", "d", *"A wins", "escape", "n", "4")
        await pilot.pause()
        await pilot.press("q")
    app.session.store.close()
    again = make_app(app_project)
    async with again.run_test(size=(120, 40)) as pilot:
        item = again.session.item
        assert item.index == 1
        assert list(item.scores.values()) == [{"clarity": 4}]
        editor = again.screen.query_one("#diagnosis", TextArea)
        assert editor.text == ""
    again.session.store.close()
    with stored(app_project) as store:
        first = next(store.prompts())
        assert store.judgement(first.id, "alice").diagnosis == "A wins"
        assert store.judgement(first.id, "alice").seconds_spent > 0


async def test_home_screen_when_there_is_nothing_to_annotate(tmp_path: Path):
    from dpo_tui.core.rubric import load_rubric
    from tests.conftest import DATA

    path = tmp_path / "empty.dpo"
    ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice").close()
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        summary = str(app.screen.query_one("#home-summary", Static).render())
        assert "No candidates yet" in summary
        await pilot.press("enter")
        assert isinstance(app.screen, HomeScreen)


async def test_home_key_shows_progress_and_distribution(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5", "3", "h")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        distribution = str(app.screen.query_one("#home-distribution", Static).render())
        assert "Clarity" in distribution and "Safety" in distribution
        await pilot.press("enter")
        assert isinstance(app.screen, AnnotateScreen)


async def test_command_palette_offers_every_action(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for expected in (
            "Next",
            "Prev",
            "Skip",
            "Tie",
            "All bad",
            "Unclear",
            "Diagnosis",
            "Insert criterion: Clarity",
        ):
            assert expected in titles


async def test_moving_on_keeps_each_items_own_diagnosis(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d", *"A wins", "escape", "n")
        await pilot.pause()
        first, second = app.session.prompt_ids[:2]
        assert app.screen.query_one("#diagnosis", TextArea).text == ""
    app.session.store.close()
    with stored(app_project) as store:
        assert store.judgement(first, "alice").diagnosis == "A wins"
        judgement = store.judgement(second, "alice")
        assert judgement is None or judgement.diagnosis == ""


async def test_prompt_source_and_tags_are_shown_literally(app_project: Path, tmp_path: Path):
    tag, source = "[@click=app.quit]tag[/]", "[b]queue[/b]"
    prompts, candidates = tmp_path / "tagged.jsonl", tmp_path / "tagged_candidates.jsonl"
    prompts.write_text(json.dumps({"prompt": "Tagged one", "tags": [tag], "source": source}))
    candidates.write_text(json.dumps({"prompt": "Tagged one", "responses": ["x", "y"]}))
    with stored(app_project) as store:
        import_prompts(store, [prompts], ImportOptions())
        import_candidates(store, candidates)
    app = make_app(app_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g", *"Tagged", "enter")
        await pilot.pause()
        title = app.screen.query_one("#prompt").border_title
        assert title is not None
        assert Content.from_markup(title).plain.endswith(f"{source} · {tag}")


async def test_after_a_revision_the_annotator_rescores_only_what_it_needs(app_project: Path):
    """Every item scored under version 1, then a criterion added: the needs-rescore filter
    opens on them, shows the old values with only the new criterion empty, and scoring it
    writes version 2 cards while the old ones go to the history."""
    from dpo_tui.core.rubric import parse_rubric
    from dpo_tui.services.revising import revise_rubric
    from tests.services.test_revising import GOOD, TONE

    with stored(app_project) as store:
        for prompt in store.prompts():
            for cand in store.candidates(prompt.id):
                store.set_scores(cand.id, "alice", {"clarity": 4, "safety": 3})
        revise_rubric(store, parse_rubric(GOOD + TONE, "v2.toml"), {})
        waiting = store.needs_rescore("alice")
    assert len(waiting) == 3
    app = make_app(app_project, item_filter="needs-rescore")
    async with app.run_test(size=(120, 40)) as pilot:
        item = app.session.item
        assert item is not None and item.prompt.id in waiting
        assert "3 to score again" in str(app.screen.query_one("#progress", Static).render())
        sliders = list(app.screen.query(RubricSlider))
        shown = {(s.criterion.key, s.value) for s in sliders}
        assert shown == {("clarity", 4), ("safety", 3), ("tone", None)}
        await pilot.press(*"434" * len(item.candidates))
        await pilot.pause()
        assert "2 to score again" in str(app.screen.query_one("#progress", Static).render())
    with stored(app_project) as store:
        ids = [c.id for c in item.candidates]
        cards = store.db.execute(
            "select candidate_id, criteria, rubric_version from scores "
            "where candidate_id in (select value from json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
        assert {(criteria, version) for _, criteria, version in cards} == {
            ('{"clarity":4,"safety":3,"tone":4}', 2)
        }
        old = store.db.execute("select count(*), max(rubric_version) from score_history")
        assert old.fetchone() == (len(ids), 1)
        assert len(store.needs_rescore("alice")) == 2


async def test_practice_shows_the_reference_once_an_item_is_finished(tmp_path: Path):
    """A practice file from the lead's gold items: the newcomer scores the first item as the
    reference has it, writes a diagnosis, presses n: the reference is shown, the result is in
    the file, and enter goes on to the next gold item."""
    from dpo_tui.services.practising import practice_file
    from dpo_tui.tui.screens.practice import PracticeScreen
    from tests.services.test_annotator_quality import build_team

    lead = build_team(tmp_path)
    practice = tmp_path / "newcomer.dpo"
    with stored(lead) as store:
        assert practice_file(store, practice, "newcomer", items=3) == 3
        gold = store.gold()
    app = make_app(practice, practice=True)
    async with app.run_test(size=(120, 40)) as pilot:
        item = app.session.item
        assert item is not None and item.prompt.id in gold and len(app.session.prompt_ids) == 3
        reference = gold[item.prompt.id]
        keys = []
        for candidate in item.candidates:
            best = {reference.chosen_id: "5", reference.rejected_id: "1"}
            keys += [best.get(candidate.id, "3"), "3"]
        await pilot.press(*keys)
        await pilot.press("d", *"clearer steps", "escape", "n")
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen)
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        labels = item.labels
        assert f"The reference prefers {labels[reference.chosen_id]} over" in shown
        assert "the third answer walks through every step" in shown
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PracticeScreen)
        assert app.session.item.prompt.id != item.prompt.id
    with stored(practice) as store:
        [row] = store.practice_results("newcomer")
        assert (row.prompt_id, row.same_chosen, row.same_direction) == (item.prompt.id, True, True)
        assert row.distances == {"clarity": 0, "safety": 0}


async def test_the_lead_marks_an_item_gold_and_an_annotator_cannot(
    app_project: Path, tmp_path: Path
):
    """G in the lead's project makes the scored, diagnosed item gold (its pair and diagnosis
    the reference); in an annotator's file it is refused and nothing is written."""
    from dpo_tui.services.team import assign

    with stored(app_project) as store:
        files = assign(store, ["bob", "carol"], 1.0, tmp_path / "out").files
    for path, marked in ((app_project, True), (files["bob"], False)):
        app = make_app(path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press(*"533231", "d", *"A is the clearest", "escape", "G")
            await pilot.pause()
            item = app.session.item
            assert item is not None
        with stored(path) as store:
            gold = store.gold()
        if marked:
            reference = gold[item.prompt.id]
            assert reference.explanation == "A is the clearest"
            assert reference.chosen_id == item.candidates[0].id
            assert reference.scores[reference.chosen_id] == {"clarity": 5, "safety": 3}
        else:
            assert gold == {}


async def test_a_score_that_waits_too_long_for_the_lock_is_reported_not_a_crash(
    app_project: Path, monkeypatch
):
    """Another process holds the write lock past the wait: the app says the score was not
    saved and goes on (the slider keeps its value); once the lock is free, it saves."""
    import sqlite3

    monkeypatch.setattr("dpo_tui.store.connection.BUSY_TIMEOUT_MS", 200)
    app = make_app(app_project)
    other = sqlite3.connect(app_project, isolation_level=None)
    async with app.run_test(size=(120, 40)) as pilot:
        other.execute("BEGIN IMMEDIATE")
        await pilot.press("5")
        await pilot.pause()
        slider = app.screen.query(RubricSlider).first()
        assert slider.value is None
        messages = [n.message for n in app._notifications]
        assert any("Not saved:" in m and "write lock" in m for m in messages)
        other.execute("ROLLBACK")
        await pilot.press("5")
        await pilot.pause()
        assert slider.value == 5
    other.close()
    first = app.session.item.candidates[0].id
    assert first_prompt_scores(app_project, app)[first] == {"clarity": 5}
