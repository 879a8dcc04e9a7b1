"""Merge and schema 11: each judgement's item order and suggestion carried from a received
file (checked like every received column), and files holding a judge's rows."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from dpo_tui.core.judge_order import ItemOrder
from dpo_tui.errors import ProjectError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.merging import merge_files
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore
from tests.conftest import snapshot, written_at_schema
from tests.judged import JUDGE, judge_by_position


def annotate(path: Path, order: ItemOrder, clarity: int) -> None:
    """Score and diagnose every item of the file as its annotator, walking in `order`."""
    with ProjectStore.open(path) as store:
        session = AnnotationSession(store, order=order)
        for index in range(len(session.prompt_ids)):
            item = session.open(index)
            for candidate in item.candidates:
                session.set_score(candidate.id, "clarity", clarity)
                session.set_score(candidate.id, "safety", 3)
            session.set_diagnosis(f"walked {order}")
        session.close()


def recorded(path: Path, annotator: str) -> list[tuple[str, int]]:
    """(item_order, suggested) of each of the annotator's judgements."""
    conn = sqlite3.connect(path)
    try:
        query = "select item_order, suggested from judgements where annotator = ? order by 1, 2"
        return conn.execute(query, [annotator]).fetchall()
    finally:
        conn.close()


def edited(source: Path, out: Path, sql: str) -> Path:
    shutil.copyfile(source, out)
    conn = sqlite3.connect(out)
    with conn:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return out


@pytest.fixture
def team(tmp_path: Path, app_project: Path) -> dict[str, Path]:
    """team.dpo judged, assigned with the judge to alice and bob (every prompt shared):
    alice walked hers shuffled, bob his in the file's order, a judge's scores shown to him
    on one item (as `annotate --suggest` records it)."""
    target = tmp_path / "team.dpo"
    shutil.copyfile(app_project, target)
    with ProjectStore.open(target) as store:
        p0, p1, _, p3 = store.prompt_ids_in_order()
        for pid in (p0, p1, p3):
            cards = [[{"clarity": 5 - n, "safety": 3}] for n in range(len(store.candidates(pid)))]
            judge_by_position(store, pid, cards)
        files = assign(store, ["alice", "bob"], 1.0, tmp_path / "out", with_judge=True).files
    annotate(files["alice"], "random", 4)
    annotate(files["bob"], "file", 2)
    conn = sqlite3.connect(files["bob"])
    with conn:
        conn.execute(
            "update judgements set suggested = 1 where annotator = 'bob' and prompt_id = ?", [p0]
        )
    conn.close()
    return {"team": target, **files}


def test_the_order_and_the_suggestion_are_merged_and_idempotent(team: dict[str, Path]):
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"], team["bob"]])
        p0 = store.prompt_ids_in_order()[0]
        bob = store.judgement(p0, "bob")
        assert bob is not None and bob.suggested and bob.item_order == "file"
    assert recorded(team["team"], "alice") == [("random", 0)] * 3
    assert recorded(team["team"], "bob") == [("file", 0), ("file", 0), ("file", 1)]
    before = snapshot(team["team"])
    with ProjectStore.open(team["team"]) as store:
        summaries = merge_files(store, [team["bob"], team["alice"]])
    assert [s.changed for s in summaries] == [0, 0]
    assert snapshot(team["team"]) == before


def test_a_newer_edit_brings_its_order(team: dict[str, Path], tmp_path: Path):
    older = tmp_path / "alice_old.dpo"
    shutil.copyfile(team["alice"], older)
    with ProjectStore.open(team["alice"]) as store:  # alice revisits one item in file order
        session = AnnotationSession(store)
        session.start()
        session.set_diagnosis("walked file, then changed my mind")
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"]])
        merge_files(store, [older])
    assert recorded(team["team"], "alice") == [("file", 0), ("random", 0), ("random", 0)]


def test_a_file_from_before_schema_11_merges_with_no_order_recorded(
    team: dict[str, Path], tmp_path: Path
):
    old = tmp_path / "alice_v10.dpo"
    shutil.copyfile(team["alice"], old)
    written_at_schema(old, 10)  # before m011_judge
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [old])
    assert summary.judgements_added == 3
    assert recorded(team["team"], "alice") == [("", 0)] * 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "item_order = 'sideways'",
            "item_order 'sideways' is not one of '', 'file', 'random', 'uncertain'",
        ),
        ("item_order = 'FILE'", "item_order 'FILE' is not one of"),
        ("item_order = x'00'", r"item_order b'\x00' is not one of"),
        ("item_order = 7", "item_order '7' is not one of"),  # TEXT affinity: stored as '7'
        ("suggested = 2", "suggested 2 is not 0 or 1"),
        ("suggested = -1", "suggested -1 is not 0 or 1"),
        ("suggested = 'yes'", "suggested 'yes' is not 0 or 1"),
        ("suggested = 0.5", "suggested 0.5 is not 0 or 1"),
        ("suggested = x'01'", r"suggested b'\x01' is not 0 or 1"),
    ],
)
def test_a_bad_order_or_suggestion_refuses_the_file_naming_its_row(
    team: dict[str, Path], tmp_path: Path, change: str, expected: str
):
    conn = sqlite3.connect(team["bob"])
    second = conn.execute("select rowid from judgements order by rowid").fetchall()[1][0]
    conn.close()
    bad = edited(
        team["bob"], tmp_path / "bad.dpo", f"update judgements set {change} where rowid = {second}"
    )
    before = team["team"].read_bytes()
    with ProjectStore.open(team["team"]) as store, pytest.raises(ProjectError) as caught:
        merge_files(store, [team["alice"], bad])
    assert f"{bad}: judgements row 2: " in str(caught.value)
    assert re.search(re.escape(expected), str(caught.value)), str(caught.value)
    assert team["team"].read_bytes() == before


def test_a_file_holding_the_judges_rows_merges_only_its_annotators_work(
    team: dict[str, Path],
):
    with ProjectStore.open(team["team"]) as store:
        samples = store.db.execute("select count(*) from judge_samples").fetchone()[0]
        judge_cards = {pid: store.scores(pid, JUDGE) for pid in store.prompt_ids_in_order()}
        [summary] = merge_files(store, [team["alice"]])
        assert summary.annotators == {"alice", JUDGE}
        assert summary.cards_added == 7 and summary.cards_updated == 0  # alice's only
        assert summary.judgements_added == 3 and summary.judgements_updated == 0
        assert store.db.execute("select count(*) from judge_samples").fetchone()[0] == samples
        assert {pid: store.scores(pid, JUDGE) for pid in judge_cards} == judge_cards
