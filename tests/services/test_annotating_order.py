"""`annotate --order`: the file's order, a seeded shuffle, or a judge's least sure item first;
each judgement saved records the order in force."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dpo_tui.errors import DpoError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore
from tests.judged import JUDGE, judge_by_position
from tests.services.test_annotating import FakeClock

OTHER = "judge:critic-3b@cdcdcdcdcdcd"


def card(clarity: int, safety: int) -> list[dict[str, int]]:
    return [{"clarity": clarity, "safety": safety}]


@pytest.fixture
def store(app_project: Path) -> Iterator[ProjectStore]:
    """The app project (prompts: 3 candidates, 2, none, 2), the judge sure of nothing on
    the last (equal totals: margin 0), nearly sure on the first (margin 1/12), silent on
    the second."""
    with ProjectStore.open(app_project) as opened:
        first, _, _, last = opened.prompt_ids_in_order()
        judge_by_position(opened, first, [card(5, 3), card(4, 3), card(1, 1)])
        judge_by_position(opened, last, [card(5, 3), card(5, 3)])
        yield opened


def test_uncertain_walks_the_judges_least_sure_item_first(store: ProjectStore):
    p0, p1, p2, p3 = store.prompt_ids_in_order()
    session = AnnotationSession(store, order="uncertain")
    assert session.prompt_ids == [p3, p0, p1, p2]
    item = session.start()
    assert item.prompt.id == p3 and item.index == 0
    assert session.step(1).prompt.id == p0
    session.set_score(session.item.candidates[0].id, "clarity", 3)
    assert store.judgement(p0, "alice").item_order == "uncertain"
    assert store.scores(p0, "alice") != store.scores(p0, JUDGE)
    assert session.item.scores == store.scores(p0, "alice")


def test_uncertain_without_a_judge_says_what_to_run(app_project: Path):
    with ProjectStore.open(app_project) as plain, pytest.raises(DpoError) as caught:
        AnnotationSession(plain, order="uncertain")
    assert "no judge model has scored its items" in str(caught.value)
    assert f"dpo-tui judge {app_project}" in str(caught.value)


def test_several_judges_need_one_named(store: ProjectStore):
    p0, _, _, p3 = store.prompt_ids_in_order()
    judge_by_position(store, p0, [card(5, 3), card(5, 3), card(5, 3)], name=OTHER)
    with pytest.raises(DpoError, match="2 judges have scored items here") as caught:
        AnnotationSession(store, order="uncertain")
    assert JUDGE in str(caught.value) and OTHER in str(caught.value)
    assert "--judge" in str(caught.value)
    assert AnnotationSession(store, order="uncertain", judge=JUDGE).prompt_ids[:2] == [p3, p0]
    assert AnnotationSession(store, order="uncertain", judge=OTHER).prompt_ids[0] == p0
    with pytest.raises(DpoError, match="no judge named 'judge:nobody@0' has scored"):
        AnnotationSession(store, order="uncertain", judge="judge:nobody@0")


def test_random_is_a_seeded_shuffle_and_recorded(store: ProjectStore):
    ids = store.prompt_ids_in_order()
    orders = {tuple(AnnotationSession(store, order="random", seed=s).prompt_ids) for s in range(6)}
    assert all(sorted(order) == sorted(ids) for order in orders) and len(orders) > 1
    again = AnnotationSession(store, order="random", seed=3)
    assert again.prompt_ids == AnnotationSession(store, order="random", seed=3).prompt_ids
    item = again.start()
    again.toggle_flag("skip")
    assert store.judgement(item.prompt.id, "alice").item_order == "random"


def test_file_order_is_recorded_and_a_mere_visit_keeps_the_order_saved(store: ProjectStore):
    clock = FakeClock()
    session = AnnotationSession(store, clock=clock)
    first = session.start()
    session.set_diagnosis("A is clearer")
    assert store.judgement(first.prompt.id, "alice").item_order == "file"
    later = AnnotationSession(store, order="uncertain", clock=clock)
    later.open(later.prompt_ids.index(first.prompt.id))
    clock.now += 30
    later.step(1)  # time on the item is recorded; its order is the one it was judged in
    judgement = store.judgement(first.prompt.id, "alice")
    assert judgement is not None and judgement.seconds_spent == 30
    assert judgement.item_order == "file"
    later.open(later.prompt_ids.index(first.prompt.id))
    later.set_diagnosis("A is clearer and kind")
    assert store.judgement(first.prompt.id, "alice").item_order == "uncertain"


def test_set_order_keeps_the_open_item_open(store: ProjectStore):
    session = AnnotationSession(store)
    item = session.open(1)
    session.set_order("uncertain")
    assert session.item is not None and session.item.prompt.id == item.prompt.id
    assert session.item.index == session.prompt_ids.index(item.prompt.id) == 2


def test_a_judges_name_cannot_annotate(store: ProjectStore):
    with pytest.raises(DpoError, match="is a judge model's name"):
        AnnotationSession(store, annotator=JUDGE)
