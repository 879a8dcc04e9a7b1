"""Merging files made under different versions of the project's rubric: each card keeps the
version it was made under and counts through the revisions since; merging stays idempotent,
order-independent and loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpo_tui.core.rubric import parse_rubric
from dpo_tui.errors import ProjectError
from dpo_tui.services.merging import merge_files
from dpo_tui.services.revising import revise_rubric
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore
from tests.conftest import snapshot
from tests.services.test_merging import (  # noqa: F401
    annotate,
    content,
    merged_in_two_orders,
    team,
    three_files,
)
from tests.services.test_revising import GOOD, TONE

V2 = parse_rubric(GOOD + TONE, "v2.toml")
OTHER = parse_rubric(GOOD.replace("weight = 2.0", "weight = 3.0"), "other.toml")


def revise(path: Path, rubric=V2) -> None:
    with ProjectStore.open(path) as store:
        revise_rubric(store, rubric, {})


def versions(path: Path) -> set[tuple[str, int]]:
    with ProjectStore.open(path, read_only=True) as store:
        rows = store.db.execute("select annotator, rubric_version from scores")
        return set(rows.fetchall())


def test_assigned_files_carry_the_rubric_history(team):  # noqa: F811
    revise(team["team"])
    with ProjectStore.open(team["team"]) as store:
        files = assign(store, ["carol", "dave"], 0.0, team["team"].parent / "round2").files
        lead = [(v.number, v.sha256, v.mapping) for v in store.rubric_versions()]
    with ProjectStore.open(files["carol"], read_only=True) as carol:
        assert [(v.number, v.sha256, v.mapping) for v in carol.rubric_versions()] == lead
        assert carol.rubric_version == 2


def test_a_file_made_under_an_earlier_version_merges_under_it(team):  # noqa: F811
    revise(team["team"])
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [team["alice"]])
        assert summary.cards_added == 7
        assert {v for _, v in store.db.execute("select annotator, rubric_version from scores")} == {
            1
        }
        judged = store.db.execute("select distinct rubric_version from judgements").fetchall()
        assert judged == [(1,)]
        assert len(store.needs_rescore("alice")) == 3


def test_a_file_revised_like_the_project_merges_each_card_under_its_version(team):  # noqa: F811
    revise(team["team"])
    revise(team["alice"])
    with ProjectStore.open(team["alice"]) as alice:
        first = alice.db.execute("select candidate_id from scores limit 1").fetchone()[0]
        alice.set_scores(first, "alice", {"tone": 5})
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"]])
        rows = dict(store.db.execute("select candidate_id, rubric_version from scores"))
        assert rows.pop(first) == 2 and set(rows.values()) == {1}
        history = store.db.execute("select count(*) from score_history").fetchone()[0]
        assert history == 0  # the team never held the version 1 card this one replaced


def test_a_file_under_a_version_the_project_never_had_is_refused(team):  # noqa: F811
    revise(team["alice"], OTHER)
    before = snapshot(team["team"])
    with (
        ProjectStore.open(team["team"]) as store,
        pytest.raises(ProjectError, match="made for another rubric"),
    ):
        merge_files(store, [team["alice"]])
    assert snapshot(team["team"]) == before


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 6), st.integers(1, 5)), min_size=1, max_size=8
    ),
    order=st.permutations([0, 1, 2]),
)
def test_merge_properties_across_versions(tmp_path_factory, app_project: Path, edits, order):
    """Three files, one left under version 1 and two revised to version 2 (one scoring the
    added criterion): no loss, idempotence and order independence, each card's version kept."""
    root = tmp_path_factory.mktemp("versions")
    team_file, files = three_files(app_project, root)
    for path in (team_file, files[1], files[2]):
        revise(path)
    for which, candidate, value in edits:
        with ProjectStore.open(files[which]) as store:
            cid = [row[0] for row in store.db.execute("select id from candidates order by id")]
            criterion = "tone" if which == 2 and value % 2 else "clarity"
            store.set_score(cid[candidate % len(cid)], store.meta.annotator, criterion, value)
    results = merged_in_two_orders(
        team_file, files, order, root, lambda path: {**content(path), "history": history(path)}
    )
    assert results[0] == results[1]
    held = {(r[0], r[1]): r for r in results[0]["scores"]}
    for path in files:
        for row in content(path)["scores"]:
            kept = held[(row[0], row[1])]
            assert kept[3] >= row[3]  # newest edit wins
            if kept[3] == row[3]:
                assert kept == row
            elif kept[4] != row[4]:  # a rescore under another version: the old card kept
                assert row in results[0]["history"]


def history(path: Path) -> list[tuple]:
    with ProjectStore.open(path, read_only=True) as store:
        return sorted(
            store.db.execute(
                "select candidate_id, annotator, criteria, updated_at, rubric_version "
                "from score_history"
            )
        )


def test_a_rescore_merged_later_keeps_the_card_it_replaces(team):  # noqa: F811
    revise(team["team"])
    with ProjectStore.open(team["team"]) as store:
        merge_files(store, [team["alice"]])
    revise(team["alice"])
    with ProjectStore.open(team["alice"]) as alice:
        first, old = alice.db.execute("select candidate_id, criteria from scores").fetchone()
        alice.set_scores(first, "alice", {"tone": 5})
    with ProjectStore.open(team["team"]) as store:
        [summary] = merge_files(store, [team["alice"]])
        assert summary.cards_updated == 1 and summary.conflicts == []
        kept = store.db.execute("select criteria, rubric_version from score_history").fetchall()
        assert kept == [(old, 1)]
        merge_files(store, [team["alice"]])
        assert store.db.execute("select count(*) from score_history").fetchone()[0] == 1
