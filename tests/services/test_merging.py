"""assign -> annotate -> pack -> merge, hostile files, and merge's algebra."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import ProjectError, SchemaTooNewError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.merging import merge_files
from dpo_tui.services.team import assign, pack, plan
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot, written_before_score_cards
from tests.data.hostile.builders import HOSTILE

RUBRIC = load_rubric(DATA / "rubrics" / "good.toml")


def content(path: Path) -> dict[str, list[tuple]]:
    """What a merge must get right: every row's content, whatever the insertion order."""
    conn = sqlite3.connect(path)
    try:
        return {
            "prompts": sorted(conn.execute("select id, text, messages, source, tags from prompts")),
            "candidates": sorted(
                conn.execute("select id, prompt_id, text, origin from candidates")
            ),
            "scores": sorted(conn.execute("select * from scores")),
            "judgements": sorted(conn.execute("select * from judgements")),
        }
    finally:
        conn.close()


def annotate(path: Path, seed: int, diagnosis: str = "better because") -> None:
    """Score every candidate of the file as its annotator, through the app's session."""
    with ProjectStore.open(path) as store:
        session = AnnotationSession(store)
        for index in range(len(session.prompt_ids)):
            item = session.open(index)
            for number, candidate in enumerate(item.candidates):
                session.set_score(candidate.id, "clarity", 1 + (number * 2 + seed) % 5)
                session.set_score(candidate.id, "safety", 3)
            session.set_diagnosis(f"{diagnosis} {index}")
        session.close()


@pytest.fixture
def team(tmp_path: Path, app_project: Path) -> dict[str, Path]:
    """team.dpo (the app project, 3 prompts with candidates) assigned to alice and bob with
    every prompt shared, and both files annotated."""
    target = tmp_path / "team.dpo"
    shutil.copyfile(app_project, target)
    with ProjectStore.open(target) as store:
        result = assign(store, ["alice", "bob"], 1.0, tmp_path / "outbox", seed=1)
    annotate(result.files["alice"], seed=0)
    annotate(result.files["bob"], seed=1)
    return {"team": target, **result.files}


def test_assign_shares_items_and_carries_the_rubric(tmp_path: Path, app_project: Path):
    with ProjectStore.open(app_project) as store:
        result = assign(store, ["alice", "bob", "carol"], 0.5, tmp_path / "out", seed=3)
    assert set(result.files) == {"alice", "bob", "carol"}
    for name, path in result.files.items():
        with ProjectStore.open(path) as annotator_file:
            meta = annotator_file.meta
            assert meta.annotator == name
            assert meta.rubric_sha256 == RUBRIC.sha256
            assert meta.assignment_id == result.assignment_id
            for prompt in annotator_file.prompts():
                assert annotator_file.candidates(prompt.id)


def test_plan_is_balanced_overlapping_and_deterministic():
    ids = [f"p{i}" for i in range(100)]
    names = ["alice", "bob", "carol"]
    given_ = plan(ids, names, 0.2, seed=5)
    assert plan(ids, names, 0.2, seed=5) == given_
    assert plan(ids, names, 0.2, seed=6) != given_
    counts = {pid: sum(pid in given_[n] for n in names) for pid in ids}
    assert set(counts.values()) == {1, 2}
    assert sum(1 for c in counts.values() if c == 2) == 20
    loads = [len(given_[n]) for n in names]
    assert max(loads) - min(loads) <= 1
    for a, b in (("alice", "bob"), ("alice", "carol"), ("bob", "carol")):
        assert len(set(given_[a]) & set(given_[b])) >= 6
    with pytest.raises(ProjectError, match="two or more distinct"):
        plan(ids, ["alice"], 0.2, 0)


def test_merge_brings_both_annotators_in(team: dict[str, Path]):
    with ProjectStore.open(team["team"]) as store:
        summaries = merge_files(store, [team["alice"], team["bob"]])
        assert [s.annotators for s in summaries] == [{"alice"}, {"bob"}]
        assert summaries[0].cards_added == 7  # 7 candidates, each card 2 criteria
        assert summaries[0].judgements_added == 3
        assert summaries[0].prompts_added == 0
        annotators = {row[0] for row in store.db.execute("select distinct annotator from scores")}
        assert annotators == {"alice", "bob"}
        assert store.imports()[-1].kind == "merge"


def test_merge_is_idempotent(team: dict[str, Path]):
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"]])
    before = snapshot(team["team"])
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [team["alice"]])
    assert summary.changed == 0
    assert snapshot(team["team"]) == before


def test_merge_is_order_independent(team: dict[str, Path], tmp_path: Path):
    other = tmp_path / "other.dpo"
    shutil.copyfile(team["team"], other)
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"], team["bob"]])
    with ProjectStore.open(other) as store:
        merge_files(store, [team["bob"]])
        merge_files(store, [team["alice"]])
    assert content(team["team"]) == content(other)


def test_conflicting_edits_are_reported_and_the_newest_kept(team: dict[str, Path], tmp_path: Path):
    older = tmp_path / "alice_old.dpo"
    shutil.copyfile(team["alice"], older)
    with ProjectStore.open(team["alice"]) as store:  # alice changes her mind later
        first = store.db.execute("select candidate_id from scores limit 1").fetchone()[0]
        store.set_score(
            first,
            "alice",
            "clarity",
            5
            if store.db.execute(
                "select criteria ->> 'clarity' from scores where candidate_id = ?", [first]
            ).fetchone()[0]
            != 5
            else 4,
        )
        newest = store.db.execute(
            "select criteria ->> 'clarity' from scores where candidate_id = ?", [first]
        ).fetchone()[0]
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"]])
        [summary] = merge_files(store, [older])
        [conflict] = summary.conflicts
        assert f"alice scored candidate {first} differently (clarity " in conflict
        assert "kept the newer" in conflict
        kept = store.db.execute(
            "select criteria ->> 'clarity' from scores where candidate_id = ? "
            "and annotator = 'alice'",
            [first],
        ).fetchone()[0]
        assert kept == newest


def test_a_file_from_before_score_cards_merges_as_its_cards(team: dict[str, Path], tmp_path: Path):
    old = tmp_path / "alice_v7.dpo"
    shutil.copyfile(team["alice"], old)
    written_before_score_cards(old)
    other = tmp_path / "other.dpo"
    shutil.copyfile(team["team"], other)
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [old])
    assert summary.cards_added == 7
    with ProjectStore.open(other) as store:
        merge_files(store, [team["alice"]])
        store.db.execute("update judgements set item_order = ''")  # an old file records none
    assert content(team["team"]) == content(other)


@pytest.mark.parametrize(
    ("row", "change", "expected"),
    [
        (1, "value = 99", "scores row 1: clarity = 99 is outside the scale 1..5"),
        (4, "value = 99", "scores row 4: safety = 99 is outside the scale 1..3"),
        (3, "value = x'03'", r"scores row 3: clarity = b'\x03' is outside the scale"),
        (1, "criterion = 'charm'", "scores row 1: the rubric has no criterion 'charm'"),
        (2, "criterion = null", "scores row 2: the rubric has no criterion None"),
    ],
)
def test_a_bad_row_in_a_file_from_before_score_cards_is_refused(
    team: dict[str, Path], tmp_path: Path, row: int, change: str, expected: str
):
    old = tmp_path / "alice_v7.dpo"
    shutil.copyfile(team["alice"], old)
    written_before_score_cards(old)
    conn = sqlite3.connect(old)
    with conn:
        conn.execute(f"update scores set {change} where rowid = ?", [row])
    conn.close()
    before = team["team"].read_bytes()
    with (
        ProjectStore.open(team["team"]) as store,
        pytest.raises(ProjectError, match=re.escape(expected)),
    ):
        merge_files(store, [old])
    assert team["team"].read_bytes() == before


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_and_the_target_is_byte_identical(
    team: dict[str, Path], tmp_path: Path, name: str
):
    build, expected = HOSTILE[name]
    hostile = build(team["alice"], tmp_path / f"{name}.dpo")
    target = team["team"]
    before = target.read_bytes()
    with ProjectStore.open(target) as store, pytest.raises(ProjectError) as caught:
        merge_files(store, [team["bob"], hostile])
    assert expected in str(caught.value), str(caught.value)
    assert str(hostile) in str(caught.value)
    assert len(str(caught.value)) < len(str(hostile)) + 200  # what it shows of a value is cut
    assert target.read_bytes() == before
    if name == "newer_schema":
        assert isinstance(caught.value, SchemaTooNewError)


def test_file_over_the_size_cap_is_refused(team: dict[str, Path]):
    with (
        ProjectStore.open(team["team"]) as store,
        pytest.raises(ProjectError, match="over the limit"),
    ):
        merge_files(store, [team["alice"]], max_bytes=1000)


def test_other_rubric_allowed_when_asked(team: dict[str, Path], tmp_path: Path):
    build, _ = HOSTILE["other_rubric"]
    other = build(team["alice"], tmp_path / "other.dpo")
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [other], allow_rubric_change=True)
    assert summary.cards_added == 7


def test_pack_makes_a_self_contained_checked_file(team: dict[str, Path], tmp_path: Path):
    packed = pack(team["alice"], tmp_path / "alice.packed.dpo")
    assert (packed.annotator, packed.done, packed.scores) == ("alice", 3, 14)
    assert not Path(f"{packed.path}-wal").exists()
    conn = sqlite3.connect(packed.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [packed.path])
    assert summary.cards_added == 7 and not summary.warnings
    with pytest.raises(ProjectError, match="already exists"):
        pack(team["alice"], packed.path)


def test_a_wal_file_beside_an_input_is_warned_about(team: dict[str, Path]):
    live = ProjectStore.open(team["alice"])  # a live writer keeps its -wal file
    live.set_score(
        live.db.execute("select id from candidates limit 1").fetchone()[0], "alice", "clarity", 2
    )
    try:
        with ProjectStore.open(team["team"]) as store:
            [summary] = merge_files(store, [team["alice"]])
        assert any("-wal" in w for w in summary.warnings)
    finally:
        live.close()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 6), st.integers(1, 5)), min_size=1, max_size=8
    ),
    order=st.permutations([0, 1, 2]),
)
def test_merge_properties(tmp_path_factory, app_project: Path, edits, order):
    """No loss, idempotence and order independence over random edits in three files."""
    root = tmp_path_factory.mktemp("prop")
    team, files = three_files(app_project, root)
    for which, candidate, value in edits:
        path = files[which * 2] if which == 0 else files[1]
        with ProjectStore.open(path) as store:
            cid = [row[0] for row in store.db.execute("select id from candidates order by id")]
            store.set_score(cid[candidate % len(cid)], store.meta.annotator, "clarity", value)
    results = merged_in_two_orders(team, files, order, root, content)
    assert results[0] == results[1]
    held = {(r[0], r[1], r[2]) for r in results[0]["scores"]}
    for path in files:
        for row in content(path)["scores"]:
            assert (row[0], row[1], row[2]) in held


def three_files(app_project: Path, root: Path) -> tuple[Path, list[Path]]:
    """A team project in `root` assigned to alice and bob (every prompt shared), and their
    files with a copy of alice's as a third."""
    team = root / "team.dpo"
    shutil.copyfile(app_project, team)
    with ProjectStore.open(team) as store:
        files = list(assign(store, ["alice", "bob"], 1.0, root / "out").files.values())
    copy = root / "alice2.dpo"
    shutil.copyfile(files[0], copy)
    return team, [*files, copy]


def merged_in_two_orders(
    team: Path, files: list[Path], order: list[int], root: Path, read: Callable[[Path], dict]
) -> list[dict]:
    """`read` of two copies of `team`, one with `files` merged in their order, one in
    `order`; each merged twice, the second merge changing nothing."""
    results = []
    for sequence in ([0, 1, 2], list(order)):
        target = root / f"t{len(results)}.dpo"
        shutil.copyfile(team, target)
        with ProjectStore.open(target) as store:
            merge_files(store, [files[i] for i in sequence])
            again = merge_files(store, [files[i] for i in sequence])
            assert all(s.changed == 0 for s in again)
        results.append(read(target))
    return results
