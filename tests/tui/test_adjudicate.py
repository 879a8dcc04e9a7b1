"""Adjudication: disputed items shown with each annotator's view; a key records a resolution
that export then uses."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from dpo_tui.services.adjudicating import AdjudicationSession
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import make_app
from dpo_tui.tui.screens.adjudicate import AdjudicateScreen


def test_session_lists_disputed_items_and_proposals(disputed: Path):
    with ProjectStore.open(disputed) as store:
        session = AdjudicationSession(store, "carol")
        assert len(session.prompt_ids) == 3
        item = session.first_open()
        assert [v.annotator for v in item.views] == ["alice", "bob"]
        assert len(item.proposals) == 2
        first = item.proposals[0]
        settled = session.resolve(first.chosen, first.rejected, "alice is right")
        assert settled.resolution is not None and settled.resolution.resolver == "carol"
        assert session.remaining() == 2
        pairs = [p for p in collect_pairs(store).pairs if p.prompt_id == item.prompt.id]
        assert [(p.chosen_id, p.rejected_id, p.status) for p in pairs] == [
            (first.chosen, first.rejected, "adjudicated")
        ]
        assert pairs[0].diagnosis.startswith("adjudicated by carol: alice is right")


async def test_keys_accept_a_proposal_or_no_pair(disputed: Path):
    app = make_app(disputed, "carol", adjudicate=True)
    async with app.run_test(size=(160, 50)) as pilot:
        assert isinstance(app.screen, AdjudicateScreen)
        shown = str(app.screen.query_one("#diagnoses", Static).render())
        assert "alice" in shown and "bob" in shown
        await pilot.press("e", *"tie-break: safety first", "escape", "2")
        await pilot.press("n", "x")
        await pilot.pause()
        progress = str(app.screen.query_one("#progress", Static).render())
        assert "resolved: no pair (by carol)" in progress
    app.session.store.close()
    with ProjectStore.open(disputed) as store:
        resolutions = store.resolutions()
        assert len(resolutions) == 2
        notes = sorted(r.note for r in resolutions.values())
        assert "tie-break: safety first" in notes
        exported = [p for p in collect_pairs(store).pairs if p.status == "adjudicated"]
        assert len(exported) == 1


async def test_annotator_filter_walks_disputed_items(disputed: Path):
    app = make_app(disputed, "alice")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("v", "v", "v")
        assert app.session.filter == "disputed"
        assert len(app.session.disputed()) == 3
        await pilot.press("n")
        assert app.session.item.index == 1
