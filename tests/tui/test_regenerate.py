"""Regenerating one candidate from the annotator: a background worker runs the real bundled
model, tokens stream into the pane, and the new candidate takes the old one's place."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpo_tui.errors import ProjectError
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import make_app
from dpo_tui.tui.widgets.candidate_pane import CandidatePane
from dpo_tui.tui.widgets.text_view import TextView

pytestmark = pytest.mark.slow


async def test_r_regenerates_the_focused_candidate_in_place(app_project: Path):
    app = make_app(app_project)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("5", "3")  # score A; digits move focus on, to B's first slider
        before = [c.id for c in app.session.item.candidates]
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        after = app.session.item.candidates
        assert after[1].id != before[1] and [c.id for c in after][::2] == before[::2]
        new = after[1]
        assert new.origin.startswith("gguf:")
        assert new.params["regenerated_from"] == before[1]
        assert new.text.strip()
        pane = app.screen.query(CandidatePane)[1]
        assert str(pane.query_one(".candidate-text", TextView).render()).strip() == new.text.strip()
        assert app.session.item.scores[after[0].id] == {"clarity": 5, "safety": 3}
    app.session.store.close()
    with ProjectStore.open(app_project) as store:
        assert before[1] not in {c.id for c in store.candidates(new.prompt_id)}
        judgement = store.judgement(new.prompt_id, "alice")
        assert judgement is not None and judgement.display_order[1] == new.id


def test_replacing_a_candidate_someone_else_scored_is_refused(app_project: Path):
    with ProjectStore.open(app_project) as store:
        prompt = next(store.prompts())
        old = store.candidates(prompt.id)[0]
        store.set_score(old.id, "bob", "clarity", 4)
        with pytest.raises(ProjectError, match="bob has scored this candidate"):
            store.replace_candidate(
                old.id, old.model_copy(update={"id": "x", "text": "new"}), "alice"
            )
        assert old.id in {c.id for c in store.candidates(prompt.id)}
