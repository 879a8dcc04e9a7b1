"""`annotate --suggest`: a judge's scores and reasons shown with each item it scored, and
every judgement saved on such an item recording that they were (`suggested`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dpo_tui.core.judging import reasons_by_candidate
from dpo_tui.core.models import Judgement
from dpo_tui.errors import DpoError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore
from tests.judged import JUDGE, judge_by_position
from tests.services.test_annotating import FakeClock

CARDS = [{"clarity": 4, "safety": 3}, {"clarity": 2, "safety": 2}, {"clarity": 5, "safety": 1}]
"""The judge's cards of the first prompt's candidates, by position."""
WHY = ["cites the refund policy", "vague about dates", "rude [bold]tone[/bold]"]
"""Its reasons for each, by position (the last one markup, to be shown literally)."""


def judge_first_prompt(store: ProjectStore) -> list[str]:
    """Record the judge's cards of the first prompt (only), and its judgement giving a
    reason per candidate in a display order of its own (the reverse of the file's); the
    candidate ids, in the order added."""
    pid = store.prompt_ids_in_order()[0]
    ids = [c.id for c in store.candidates(pid)]
    judge_by_position(store, pid, [[card] for card in CARDS])
    shown = ids[::-1]
    lines = [f"{label}: {WHY[ids.index(cid)]}" for label, cid in zip("ABC", shown, strict=True)]
    store.save_judgement(
        Judgement(prompt_id=pid, annotator=JUDGE, diagnosis="\n".join(lines), display_order=shown)
    )
    return ids


@pytest.fixture
def store(app_project: Path) -> Iterator[ProjectStore]:
    with ProjectStore.open(app_project) as opened:
        judge_first_prompt(opened)
        yield opened


def test_reasons_are_read_by_candidate_id_in_the_judges_own_order():
    judgement = Judgement(
        prompt_id="p",
        annotator=JUDGE,
        diagnosis="A: second one\nnot a reason line\nB: first one\nZ: nobody\nC:",
        display_order=("c2", "c1", "c3"),
    )
    assert reasons_by_candidate(judgement) == {"c2": "second one", "c1": "first one"}


def test_suggestions_show_the_judges_card_and_reasons_of_each_candidate(store: ProjectStore):
    p0, p1 = store.prompt_ids_in_order()[:2]
    ids = [c.id for c in store.candidates(p0)]
    blind = AnnotationSession(store).start()
    assert blind.prompt.id == p0 and blind.suggestions == {}
    session = AnnotationSession(store)
    session.suggest()
    assert session.suggesting == JUDGE
    item = session.start()
    assert {cid: s.card for cid, s in item.suggestions.items()} == dict(
        zip(ids, CARDS, strict=True)
    )
    assert {cid: s.reasons for cid, s in item.suggestions.items()} == dict(
        zip(ids, WHY, strict=True)
    )
    assert item.scores == {}  # the annotator's own cards stay theirs
    assert session.step(1).prompt.id == p1
    assert session.item.suggestions == {}  # the judge did not score it: nothing shown


def test_a_change_with_suggestions_shown_records_suggested(store: ProjectStore):
    p0, p1 = store.prompt_ids_in_order()[:2]
    session = AnnotationSession(store)
    session.suggest(JUDGE)
    item = session.start()
    session.set_score(item.candidates[0].id, "clarity", 3)
    assert store.judgement(p0, "alice").suggested
    session.step(1)  # not scored by the judge: nothing was shown
    session.toggle_flag("skip")
    assert not store.judgement(p1, "alice").suggested
    blind = AnnotationSession(store, annotator="bob")
    blind.start()
    blind.toggle_flag("tie")
    assert not store.judgement(p0, "bob").suggested


def test_an_item_done_blind_and_merely_revisited_is_not_relabelled(store: ProjectStore):
    p0 = store.prompt_ids_in_order()[0]
    clock = FakeClock()
    blind = AnnotationSession(store, clock=clock)
    blind.start()
    blind.set_diagnosis("A is kind")
    blind.close()
    session = AnnotationSession(store, clock=clock)
    session.suggest()
    session.open(0)
    clock.now += 30
    session.step(1)  # the visit's time is recorded; what it was saved under stays
    judgement = store.judgement(p0, "alice")
    assert judgement.seconds_spent == 30 and not judgement.suggested
    item = session.open(0)
    session.set_score(item.candidates[0].id, "safety", 2)  # a change with the judge shown
    assert store.judgement(p0, "alice").suggested
    session.set_order("random")
    clock.now += 5
    session.set_diagnosis("A is kind, quick")
    assert store.judgement(p0, "alice").suggested  # once shown, it stays recorded


def test_suggest_without_a_judge_says_what_to_run(app_project: Path, tmp_path: Path):
    with ProjectStore.open(app_project) as plain:
        session = AnnotationSession(plain)
        with pytest.raises(DpoError) as caught:
            session.suggest()
    message = str(caught.value)
    assert "no judge model has scored its items" in message and "--suggest" in message
    assert f"dpo-tui judge {app_project}" in message
    assert session.suggesting is None


def test_suggest_names_one_judge_among_several(store: ProjectStore):
    p0 = store.prompt_ids_in_order()[0]
    other = "judge:critic-3b@cdcdcdcdcdcd"
    judge_by_position(store, p0, [[{"clarity": 1, "safety": 1}]] * 3, name=other)
    with pytest.raises(DpoError, match="2 judges have scored items here"):
        AnnotationSession(store).suggest()
    session = AnnotationSession(store)
    session.suggest(other)
    assert {s.card["clarity"] for s in session.start().suggestions.values()} == {1}
