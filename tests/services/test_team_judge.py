"""`assign` and a judge: nothing of a judge's goes into an annotator's file unless
`with_judge`; `order` writes each file's prompts in the project's order, shuffled, or the
judge's least sure item first, and the file remembers it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import DpoError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.importing import import_candidates, import_prompts
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA
from tests.judged import JUDGE, REASONS, judge_by_position

OTHER = "judge:critic-3b@cdcdcdcdcdcd"
JUDGE_ROWS = {
    "scores": "select count(*) from scores where annotator like 'judge:%'",
    "judgements": "select count(*) from judgements where annotator like 'judge:%'",
    "judge_samples": "select count(*) from judge_samples",
    "judge_verdicts": "select count(*) from judge_verdicts",
}


def card(clarity: int, safety: int) -> list[dict[str, int]]:
    return [{"clarity": clarity, "safety": safety}]


def judge_rows(path: Path) -> dict[str, int]:
    """How many rows of a judge's each table of the file holds, read with plain SQLite."""
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(sql).fetchone()[0] for table, sql in JUDGE_ROWS.items()}
    finally:
        conn.close()


def reasons_anywhere(path: Path) -> bool:
    """Whether the judge's reasons are anywhere in the file's bytes (any table, any row)."""
    return REASONS.encode() in path.read_bytes()


@pytest.fixture
def team(tmp_path: Path, app_project: Path) -> Path:
    """The app project judged: its last prompt a toss-up (margin 0), its first nearly sure
    (1/12), its second sure (1); and carol's scores, which no annotator's file gets."""
    path = tmp_path / "team.dpo"
    shutil.copyfile(app_project, path)
    with ProjectStore.open(path) as store:
        p0, p1, _, p3 = store.prompt_ids_in_order()
        judge_by_position(store, p0, [card(5, 3), card(4, 3), card(1, 1)])
        judge_by_position(store, p1, [card(5, 3), card(1, 1)])
        judge_by_position(store, p3, [card(5, 3), card(5, 3)])
        store.set_score(store.candidates(p0)[0].id, "carol", "clarity", 2)
    return path


def test_an_annotators_file_holds_nothing_of_a_judges_by_default(team: Path, tmp_path: Path):
    with ProjectStore.open(team) as store:
        result = assign(store, ["alice", "bob"], 1.0, tmp_path / "out")
    assert judge_rows(team) == {
        "scores": 7,
        "judgements": 3,
        "judge_samples": 7,
        "judge_verdicts": 3,
    }
    for path in result.files.values():
        assert judge_rows(path) == dict.fromkeys(JUDGE_ROWS, 0)
        assert not reasons_anywhere(path)
        with ProjectStore.open(path) as annotator_file:
            assert annotator_file.judge_names() == []
            assert annotator_file.annotator_names() == []
    assert result.judge_rows == {}


def test_with_judge_copies_the_judges_rows_of_each_files_prompts_only(team: Path, tmp_path: Path):
    with ProjectStore.open(team, read_only=True) as store:
        result = assign(store, ["alice", "bob"], 0.0, tmp_path / "out", with_judge=True)
        held = store.judge_cards(JUDGE)
        verdicts = store.judge_verdicts(JUDGE)
        judged = {pid: store.scores(pid, JUDGE) for pid in held}
    seen: set[str] = set()
    for name, path in result.files.items():
        with ProjectStore.open(path) as annotator_file:
            mine = annotator_file.prompt_ids_in_order()
            seen |= set(mine)
            assert annotator_file.judge_names() == [JUDGE]
            assert annotator_file.judge_cards(JUDGE) == {p: held[p] for p in mine if p in held}
            assert annotator_file.judge_verdicts(JUDGE) == [
                v for v in verdicts if v.prompt_id in mine
            ]
            for pid in mine:
                assert annotator_file.scores(pid, JUDGE) == judged.get(pid, {})
                judgement = annotator_file.judgement(pid, JUDGE)
                assert judgement is not None and REASONS in judgement.diagnosis
                assert annotator_file.scores(pid, "carol") == {}
            assert sum(judge_rows(path).values()) == result.judge_rows[name] > 0
    assert seen == set(held)  # every judged prompt went to one file


def test_uncertain_order_writes_each_file_least_sure_first(team: Path, tmp_path: Path):
    with ProjectStore.open(team, read_only=True) as store:
        p0, p1, _, p3 = store.prompt_ids_in_order()
        result = assign(store, ["alice", "bob"], 1.0, tmp_path / "out", order="uncertain")
    assert result.judge == JUDGE and result.order == "uncertain"
    for name, path in result.files.items():
        assert judge_rows(path) == dict.fromkeys(JUDGE_ROWS, 0)
        with ProjectStore.open(path) as annotator_file:
            assert annotator_file.prompt_ids_in_order() == [p3, p0, p1]
            session = AnnotationSession(annotator_file)  # plain annotate walks them so
            assert session.prompt_ids == [p3, p0, p1]
            item = session.start()
            session.toggle_flag("tie")
            assert annotator_file.judgement(item.prompt.id, name).item_order == "uncertain"
            with pytest.raises(DpoError) as caught:  # the file holds no judge to reorder by
                AnnotationSession(annotator_file, order="uncertain")
            assert "assign --with-judge" in str(caught.value)


def test_uncertain_order_with_the_judge_copied_reorders_in_the_file_too(team: Path, tmp_path: Path):
    with ProjectStore.open(team, read_only=True) as store:
        result = assign(
            store, ["alice", "bob"], 1.0, tmp_path / "out", order="uncertain", with_judge=True
        )
    with ProjectStore.open(result.files["alice"]) as annotator_file:
        ids = annotator_file.prompt_ids_in_order()
        assert AnnotationSession(annotator_file, order="uncertain").prompt_ids == ids


def test_uncertain_order_needs_a_judge_and_one_chosen_among_several(
    team: Path, app_project: Path, tmp_path: Path
):
    with ProjectStore.open(app_project) as plain, pytest.raises(DpoError) as caught:
        assign(plain, ["alice", "bob"], 0.2, tmp_path / "none", order="uncertain")
    assert f"run `dpo-tui judge {app_project}` first" in str(caught.value)
    assert "assign --with-judge" not in str(caught.value)  # the lead's project
    with ProjectStore.open(team) as store:
        p0, p1, _, p3 = store.prompt_ids_in_order()
        judge_by_position(store, p1, [card(3, 3), card(3, 3)], name=OTHER)
        with pytest.raises(DpoError, match="2 judges have scored items here"):
            assign(store, ["alice", "bob"], 1.0, tmp_path / "two", order="uncertain")
        result = assign(
            store, ["alice", "bob"], 1.0, tmp_path / "other", order="uncertain", judge=OTHER
        )
    assert not (tmp_path / "none").exists() and not (tmp_path / "two").exists()
    with ProjectStore.open(result.files["bob"]) as annotator_file:
        assert annotator_file.prompt_ids_in_order() == [p1, p0, p3]  # OTHER judged p1 only


def test_judge_and_with_judge_are_refused_where_they_would_do_nothing(
    team: Path, app_project: Path, tmp_path: Path
):
    with ProjectStore.open(team) as store, pytest.raises(DpoError, match="--order uncertain"):
        assign(store, ["alice", "bob"], 0.2, tmp_path / "a", judge=JUDGE)
    with (
        ProjectStore.open(app_project) as plain,
        pytest.raises(DpoError, match="--with-judge, but no judge model has scored"),
    ):
        assign(plain, ["alice", "bob"], 0.2, tmp_path / "b", with_judge=True)


@pytest.fixture
def twelve(tmp_path: Path) -> Path:
    """A project of 12 prompts with two candidates each."""
    path = tmp_path / "twelve.dpo"
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(12)))
    responses = tmp_path / "responses.jsonl"
    responses.write_text(
        "".join(
            json.dumps({"prompt": f"Question {i}?", "responses": [f"Yes {i}.", f"No {i}."]}) + "\n"
            for i in range(12)
        )
    )
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "lead") as store:
        import_prompts(store, [prompts], ImportOptions())
        import_candidates(store, responses)
    return path


def test_random_order_is_seeded_each_file_its_own(twelve: Path, tmp_path: Path):
    with ProjectStore.open(twelve, read_only=True) as store:
        ids = store.prompt_ids_in_order()
        first = assign(store, ["alice", "bob"], 1.0, tmp_path / "one", seed=4, order="random")
        again = assign(store, ["alice", "bob"], 1.0, tmp_path / "two", seed=4, order="random")
        plain = assign(store, ["alice", "bob"], 1.0, tmp_path / "three", seed=4)

    def orders(files: dict[str, Path]) -> dict[str, list[str]]:
        found = {}
        for name, path in files.items():
            with ProjectStore.open(path) as annotator_file:
                found[name] = annotator_file.prompt_ids_in_order()
        return found

    shuffled = orders(first.files)
    assert shuffled == orders(again.files)
    assert shuffled["alice"] != shuffled["bob"] != ids
    assert sorted(shuffled["alice"]) == sorted(ids)
    assert orders(plain.files) == {"alice": ids, "bob": ids}
    with ProjectStore.open(first.files["alice"]) as annotator_file:
        session = AnnotationSession(annotator_file)
        item = session.start()
        session.toggle_flag("skip")
        assert annotator_file.judgement(item.prompt.id, "alice").item_order == "random"
    with ProjectStore.open(plain.files["alice"]) as annotator_file:
        session = AnnotationSession(annotator_file)
        item = session.start()
        session.toggle_flag("skip")
        assert annotator_file.judgement(item.prompt.id, "alice").item_order == "file"
