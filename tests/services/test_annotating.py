import pytest

from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore


class FakeClock:
    """A clock the test moves by hand (time is an input here, not a component)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def score_all(session: AnnotationSession, values: list[tuple[int, int]]) -> None:
    item = session.item
    assert item is not None
    for candidate, (clarity, safety) in zip(item.candidates, values, strict=True):
        session.set_score(candidate.id, "clarity", clarity)
        session.set_score(candidate.id, "safety", safety)


def test_start_opens_first_unfinished_and_order_is_stable(scored_project: ProjectStore):
    session = AnnotationSession(scored_project)
    item = session.start()
    assert item.index == 0
    assert len(item.candidates) == 3
    assert list(item.labels.values()) == ["A", "B", "C"]
    again = AnnotationSession(scored_project).start()
    assert [c.id for c in again.candidates] == [c.id for c in item.candidates]
    other = AnnotationSession(scored_project, annotator="bob").start()
    assert {c.id for c in other.candidates} == {c.id for c in item.candidates}


def test_scores_are_committed_at_once_and_pairs_form(scored_project: ProjectStore):
    session = AnnotationSession(scored_project)
    session.start()
    score_all(session, [(5, 3), (1, 3), (3, 3)])
    item = session.item
    assert item is not None
    best, worst = item.candidates[0].id, item.candidates[1].id
    assert [(p.chosen, p.rejected) for p in item.outcome.pairs] == [(best, worst)]
    stored = scored_project.scores(item.prompt.id, "alice")
    assert stored[best] == {"clarity": 5, "safety": 3}
    judgement = scored_project.judgement(item.prompt.id, "alice")
    assert judgement is not None
    assert judgement.display_order == tuple(c.id for c in item.candidates)


def test_done_needs_scores_and_diagnosis_or_a_flag(scored_project: ProjectStore):
    session = AnnotationSession(scored_project)
    session.start()
    score_all(session, [(5, 3), (1, 3), (3, 3)])
    assert not session.is_done(session.item.prompt.id)
    session.set_diagnosis("A answers the question; B ignores it.")
    assert session.is_done(session.item.prompt.id)
    assert session.progress().done == 1
    second = session.step(1)
    assert second is not None and second.index == 1
    session.toggle_flag("skip")
    assert session.is_done(second.prompt.id)
    session.toggle_flag("skip")
    assert not session.is_done(second.prompt.id)
    reopened = AnnotationSession(scored_project)
    assert reopened.start().index == 1


def test_progress_counts_only_what_can_be_annotated(scored_project: ProjectStore):
    """A prompt without candidates is not yet an item: it is counted as waiting, not in the
    total the done count and the ETA are measured against."""
    clock = FakeClock()
    session = AnnotationSession(scored_project, clock=clock)
    assert len(session.prompt_ids) == 3
    progress = session.progress()
    assert (progress.done, progress.total, progress.waiting) == (0, 2, 1)
    session.start()
    score_all(session, [(5, 3), (1, 3), (3, 3)])
    session.set_diagnosis("A answers the question; B ignores it.")
    clock.now += 600  # ten minutes on the first item
    session.step(1)
    progress = session.progress()
    assert (progress.done, progress.total, progress.waiting) == (1, 2, 1)
    assert progress.items_per_hour == pytest.approx(6.0)
    assert progress.eta_seconds == pytest.approx(600.0)  # one item left, not two


def test_undo_redo_within_the_item(scored_project: ProjectStore):
    session = AnnotationSession(scored_project)
    item = session.start()
    first = item.candidates[0].id
    session.set_score(first, "clarity", 2)
    session.set_score(first, "clarity", 4)
    assert session.undo().scores[first]["clarity"] == 2
    assert first not in session.undo().scores
    assert session.undo() is None
    assert session.redo().scores[first]["clarity"] == 2
    assert scored_project.scores(item.prompt.id, "alice")[first]["clarity"] == 2


def test_filters_navigation_and_find(scored_project: ProjectStore):
    session = AnnotationSession(scored_project)
    session.start()
    session.toggle_flag("unclear")
    session.filter = "flagged"
    assert session.step(1) is None
    session.filter = "unfinished"
    assert session.step(1).index == 1
    assert session.step(-1) is None
    assert session.find("3") == 2
    assert session.find("HAIKU") == 2
    assert session.find("no such text") is None
    assert session.find("99") is None


def test_time_spent_is_recorded_and_capped(scored_project: ProjectStore):
    clock = FakeClock()
    session = AnnotationSession(scored_project, clock=clock)
    item = session.start()
    session.set_diagnosis("why")
    clock.now += 42
    session.step(1)
    assert scored_project.judgement(item.prompt.id, "alice").seconds_spent == 42
    session.open(0)
    clock.now += 5000
    session.close()
    assert scored_project.judgement(item.prompt.id, "alice").seconds_spent == 642
