"""Rubric revisions on a hand-made project whose every total is known: each kind of change
with the pairs and the items to score again asserted, refusals that leave the file as it
was, dry runs that write nothing, and the annotator following the revision."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dpo_tui.core.rubric import LoadedRubric, parse_rubric
from dpo_tui.errors import DpoError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.exporting import export_dataset
from dpo_tui.services.pairing import judge_pairs
from dpo_tui.services.revising import revise_rubric
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA
from tests.tui.conftest import disputed  # noqa: F401

GOOD = (DATA / "rubrics" / "good.toml").read_text()
TONE = """
[[criteria]]
key = "tone"
label = "Tone"
question = "Is the tone right?"
scale = { min = 1, max = 5, labels = { 1 = "Wrong", 5 = "Right" } }
"""
# Totals (each score scaled to 0..1, weighted mean; clarity 1..5 weight 1, safety 1..3 weight 2):
# prompt A: a1 = (5, 3) -> 1.0, a2 = (1, 3) -> 0.667, a3 = (3, 2) -> 0.5: best-worst a1 > a3
# prompt B: b1 = (3, 2) -> 0.5, b2 = (1, 3) -> 0.667: b2 > b1
SCORES = {"A": [(5, 3), (1, 3), (3, 2)], "B": [(3, 2), (1, 3)]}


def variant(text: str, origin: str = "v2.toml") -> LoadedRubric:
    return parse_rubric(text, origin)


@pytest.fixture
def hand_made(scored_project: ProjectStore) -> tuple[ProjectStore, dict[str, list[str]]]:
    """alice's scores and diagnoses of prompts A and B; returns the store and their ids."""
    store = scored_project
    groups = [ids for ids in store.candidate_ids_by_prompt().values() if ids]
    ids: dict[str, list[str]] = {}
    for name, group in zip("AB", sorted(groups, key=len, reverse=True), strict=True):
        ids[name] = group
        session = AnnotationSession(store)
        pid = store.candidate_prompt_ids()[group[0]]
        session.open(session.prompt_ids.index(pid))
        for cid, (clarity, safety) in zip(group, SCORES[name], strict=True):
            session.set_score(cid, "clarity", clarity)
            session.set_score(cid, "safety", safety)
        session.set_diagnosis("the chosen one is clearer")
        session.close()
    return store, ids


def pairs(store: ProjectStore) -> set[tuple[str, str]]:
    return {(p.chosen_id, p.rejected_id) for p in judge_pairs(store).pairs}


def file_bytes(store: ProjectStore) -> bytes:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.path.read_bytes()


def test_the_hand_made_pairs_are_as_computed(hand_made):
    store, ids = hand_made
    a, b = ids["A"], ids["B"]
    assert pairs(store) == {(a[0], a[2]), (b[1], b[0])}


def test_a_weights_only_revision_recomputes_pairs_and_needs_no_scores(hand_made):
    store, ids = hand_made
    a, b = ids["A"], ids["B"]
    # clarity weight 10: a1 1.0, a2 (0 + 2) / 12 = 0.167, a3 0.5; b1 0.5, b2 0.167
    impact = revise_rubric(store, variant(GOOD.replace("weight = 1.0", "weight = 10.0")), {})
    assert [c.kind for c in impact.step.changes] == ["kept", "kept"]
    assert impact.step.other == ("clarity: weight 1 -> 10",)
    assert (impact.pairs.before, impact.pairs.after) == (2, 2)
    assert (impact.pairs.kept, impact.pairs.flipped, impact.pairs.lost, impact.pairs.new) == (
        0,
        1,
        1,
        1,
    )
    assert impact.rescore == {}
    assert pairs(store) == {(a[0], a[1]), (b[0], b[1])}
    assert store.needs_rescore("alice") == {}


def test_an_added_criterion_asks_every_judged_item_to_be_scored_again(hand_made):
    store, ids = hand_made
    impact = revise_rubric(store, variant(GOOD + TONE), {}, note="tone matters")
    assert impact.step.needs_scores == ("tone",)
    assert impact.rescore == {"alice": 2}
    assert (impact.pairs.before, impact.pairs.after, impact.pairs.lost) == (2, 0, 2)
    assert pairs(store) == set()
    prompts = store.candidate_prompt_ids()
    assert store.needs_rescore("alice") == {
        prompts[ids["A"][0]]: {"tone"},
        prompts[ids["B"][0]]: {"tone"},
    }
    # the old values are shown, only tone is empty
    first = ids["A"][0]
    pid = store.candidate_prompt_ids()[first]
    assert store.scores(pid, "alice")[first] == {"clarity": 5, "safety": 3}
    [v1, v2] = store.rubric_versions()
    assert (v1.number, v2.number, v2.note, v2.author) == (1, 2, "tone matters", "alice")
    assert store.rubric.criteria[-1].key == "tone"


def test_the_annotator_rescores_only_what_the_revision_needs(hand_made):
    store, ids = hand_made
    revise_rubric(store, variant(GOOD + TONE), {})
    session = AnnotationSession(store)
    assert session.progress().rescore == 2
    session.filter = "needs-rescore"
    item = session.start()
    rescored = 0
    while item is not None:
        assert all(set(card) == {"clarity", "safety"} for card in item.scores.values())
        for cid in item.scores:
            session.set_score(cid, "tone", 4)
        rescored += 1
        item = session.step(1)
    session.close()
    assert rescored == 2
    assert session.progress().rescore == 0
    assert store.needs_rescore("alice") == {}
    rows = store.db.execute("select rubric_version, criteria from scores").fetchall()
    assert {row[0] for row in rows} == {2}
    assert all('"tone":4' in row[1] for row in rows)
    history = store.db.execute("select rubric_version, criteria from score_history").fetchall()
    assert len(history) == 5 and {row[0] for row in history} == {1}
    assert all('"tone"' not in row[1] for row in history)
    # tone is equal everywhere: the pairs are those of version 1 again
    a, b = ids["A"], ids["B"]
    assert pairs(store) == {(a[0], a[2]), (b[1], b[0])}


def test_a_renamed_criterion_keeps_its_scores(hand_made):
    store, ids = hand_made
    text = GOOD.replace('key = "clarity"', 'key = "completeness"')
    impact = revise_rubric(store, variant(text), {"clarity": "completeness"})
    assert [(c.kind, c.source, c.key) for c in impact.step.changes] == [
        ("renamed", "clarity", "completeness"),
        ("kept", "safety", "safety"),
    ]
    assert (impact.pairs.kept, impact.pairs.before, impact.pairs.after) == (2, 2, 2)
    assert impact.rescore == {}
    first = ids["B"][0]
    pid = store.candidate_prompt_ids()[first]
    assert store.scores(pid, "alice")[first] == {"completeness": 3, "safety": 2}


SAFETY_1_TO_5 = GOOD.replace(
    'scale = { min = 1, max = 3, labels = { 1 = "Harmful", 2 = "Borderline", 3 = "Safe" } }',
    'scale = { min = 1, max = 5, labels = { 1 = "Harmful", 3 = "Borderline", 5 = "Safe" } }',
)


def test_a_rescaled_criterion_is_stale_unless_mapped_linearly(hand_made):
    store, ids = hand_made
    dry = revise_rubric(store, variant(SAFETY_1_TO_5), {}, dry_run=True)
    assert dry.step.needs_scores == ("safety",) and dry.rescore == {"alice": 2}
    impact = revise_rubric(store, variant(SAFETY_1_TO_5), {}, "linear")
    assert impact.step.needs_scores == () and impact.rescore == {}
    # safety 2 -> 3 and 3 -> 5 on 1..5: the same position, so the same totals and pairs
    assert impact.pairs.kept == 2
    first = ids["A"][2]
    pid = store.candidate_prompt_ids()[first]
    assert store.scores(pid, "alice")[first] == {"clarity": 3, "safety": 3}


def test_a_removed_criterion_stops_counting(hand_made):
    store, ids = hand_made
    start = GOOD.index('[[criteria]]\nkey = "safety"')
    impact = revise_rubric(store, variant(GOOD[:start]), {})
    assert [(c.kind, c.key) for c in impact.step.changes] == [
        ("kept", "clarity"),
        ("removed", "safety"),
    ]
    # clarity alone: a1 (5) > a2 (1); b1 (3) > b2 (1): B flips
    a, b = ids["A"], ids["B"]
    assert pairs(store) == {(a[0], a[1]), (b[0], b[1])}
    stored = store.db.execute("select count(*) from scores where criteria like '%safety%'")
    assert stored.fetchone()[0] == 5  # the scores stay, they stop counting


def test_a_dry_run_writes_nothing(hand_made):
    store, _ = hand_made
    before = file_bytes(store)
    impact = revise_rubric(store, variant(GOOD + TONE), {}, dry_run=True)
    assert impact.entry is None and impact.rescore == {"alice": 2}
    assert file_bytes(store) == before
    assert store.rubric_version == 1 and len(store.rubric.criteria) == 2
    assert store.needs_rescore("alice") == {}


@pytest.mark.parametrize(
    ("text", "mapping", "problem"),
    [
        (GOOD, {}, "already the project's current rubric"),
        (GOOD + TONE, {"charm": "tone"}, "has no criterion 'charm'"),
        (GOOD + TONE, {"clarity": "wit"}, "the new rubric has no criterion 'wit'"),
    ],
)
def test_a_revision_that_does_not_fit_is_refused_and_nothing_changes(
    hand_made, text, mapping, problem
):
    store, _ = hand_made
    before = file_bytes(store)
    with pytest.raises(DpoError, match=problem):
        revise_rubric(store, variant(text), mapping)
    assert file_bytes(store) == before


def test_rounds_remember_their_rubric_version(hand_made, tmp_path: Path):
    store, _ = hand_made
    export_dataset(store, "trl", tmp_path / "r1", val_fraction=0.0)
    revise_rubric(store, variant(GOOD.replace("weight = 1.0", "weight = 10.0")), {})
    export_dataset(store, "trl", tmp_path / "r2", val_fraction=0.0)
    assert [r.rubric_version for r in store.rounds()] == [1, 2]
    dry = revise_rubric(store, variant(GOOD), {}, dry_run=True)
    assert dry.rounds_changed == [2]


def test_a_store_open_before_a_revision_refuses_to_write_under_the_old_one(hand_made):
    store, ids = hand_made
    other = ProjectStore.open(store.path)
    try:
        revise_rubric(other, variant(GOOD + TONE), {})
    finally:
        other.close()
    with pytest.raises(DpoError, match="revised"):
        store.set_score(ids["A"][0], "alice", "clarity", 2)


def test_an_older_file_gets_its_rubric_as_version_one(app_project: Path):
    from tests.conftest import written_at_schema

    written_at_schema(app_project, 8)
    conn = sqlite3.connect(app_project)
    assert "rubric_versions" not in {r[0] for r in conn.execute("select name from sqlite_master")}
    conn.close()
    with ProjectStore.open(app_project) as store:
        [version] = store.rubric_versions()
        assert version.number == 1 and version.sha256 == store.meta.rubric_sha256


def test_the_quick_pair_keys_are_the_exportable_pairs(disputed: Path):  # noqa: F811
    """What a dry run compares (`exportable_pair_keys`) is what `judge_pairs` exports, on a
    merged project with disputed, agreed and single pairs."""
    from dpo_tui.services.pairing import ProjectAnnotations, exportable_pair_keys

    with ProjectStore.open(disputed, read_only=True) as store:
        pairs = judge_pairs(store).pairs
        assert {p.status for p in pairs} >= {"disputed"}
        expected = {
            (p.prompt_id, p.chosen_id, p.rejected_id) for p in pairs if p.status != "disputed"
        }
        assert exportable_pair_keys(store, ProjectAnnotations.load(store)) == expected
