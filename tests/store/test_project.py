import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from dpo_tui import __version__
from dpo_tui.core.ids import normalize_text, prompt_id
from dpo_tui.core.models import Message, Prompt
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import ProjectError, SchemaTooNewError
from dpo_tui.store.migrations import KNOWN, SCHEMA_VERSION, applied_names, migrations
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot, written_before_score_cards


def make_prompt(text: str, messages: tuple[Message, ...] | None = None) -> Prompt:
    return Prompt(id=prompt_id(text, messages), text=text, messages=messages, source="t")


def test_create_writes_meta_and_rubric(project: ProjectStore):
    meta = project.meta
    assert meta.annotator == "alice"
    assert meta.schema_version == SCHEMA_VERSION
    assert meta.app_version == __version__
    assert len(meta.project_id) == 32
    rubric_file = DATA / "rubrics" / "good.toml"
    assert meta.rubric_text == rubric_file.read_text()
    assert meta.rubric_sha256 == load_rubric(rubric_file).sha256
    assert project.rubric.name == "Test rubric"
    assert applied_names(project.db) == KNOWN


def test_project_uses_wal(project: ProjectStore):
    assert project.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_create_refuses_to_overwrite(project: ProjectStore):
    before = project.path.read_bytes()
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(project.path, load_rubric(DATA / "rubrics" / "good.toml"), "bob")
    assert project.path.read_bytes() == before


def test_create_refuses_empty_annotator(tmp_path: Path):
    with pytest.raises(ProjectError, match="annotator name must not be empty"):
        ProjectStore.create(tmp_path / "x.dpo", load_rubric(DATA / "rubrics" / "good.toml"), "  ")
    assert not (tmp_path / "x.dpo").exists()


def test_open_missing_and_non_sqlite_files(tmp_path: Path):
    with pytest.raises(ProjectError, match="no such project file"):
        ProjectStore.open(tmp_path / "missing.dpo")
    text = tmp_path / "notes.dpo"
    text.write_text("just some text")
    with pytest.raises(ProjectError, match="not an SQLite database"):
        ProjectStore.open(text)
    assert text.read_text() == "just some text"


def test_open_sqlite_file_that_is_not_a_project(tmp_path: Path):
    other = tmp_path / "other.db"
    Database(other)["things"].insert({"a": 1})
    with pytest.raises(ProjectError, match="not a dpo-tui project"):
        ProjectStore.open(other)


def test_open_refuses_a_newer_schema_and_leaves_it_untouched(project: ProjectStore):
    path = project.path
    project.db["_sqlite_migrations"].insert(
        {"migration_set": "dpo_tui", "name": "m999_from_the_future", "applied_at": "2030-01-01"}
    )
    project.db.execute("update meta set value = '999' where key = 'schema_version'")
    project.close()
    before = snapshot(path)
    with pytest.raises(SchemaTooNewError, match="written by a newer dpo-tui") as caught:
        ProjectStore.open(path)
    assert "upgrade dpo-tui" in str(caught.value)
    assert snapshot(path) == before


def test_open_refuses_newer_schema_version_in_meta(project: ProjectStore):
    project.db.execute(
        "update meta set value = ? where key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
    )
    project.close()
    with pytest.raises(SchemaTooNewError):
        ProjectStore.open(project.path)


def test_open_migrates_an_older_schema(tmp_path: Path):
    path = tmp_path / "old.dpo"
    db = Database(path)
    migrations.apply(db, stop_before="m002_import_log")
    db["meta"].insert_all(
        [
            {"key": "project_id", "value": "0" * 32},
            {"key": "annotator", "value": "old"},
            {"key": "rubric_text", "value": (DATA / "rubrics" / "good.toml").read_text()},
            {"key": "rubric_sha256", "value": "x" * 64},
            {"key": "schema_version", "value": "1"},
            {"key": "app_version", "value": "0.0.1"},
            {"key": "created_at", "value": "2026-01-01T00:00:00"},
        ]
    )
    db["prompts"].insert(
        {
            "id": "abc",
            "text": "kept",
            "source": "s",
            "tags": "[]",
            "created_at": "2026-01-01T00:00:00",
        }
    )
    db.close()
    assert not Database(path)["imports"].exists()
    with ProjectStore.open(path) as store:
        assert store.meta.schema_version == SCHEMA_VERSION
        assert applied_names(store.db) == KNOWN
        assert store.db["imports"].exists()
        assert [p.text for p in store.prompts()] == ["kept"]


def test_opening_a_file_from_before_score_cards_makes_one_card_per_candidate(app_project: Path):
    with ProjectStore.open(app_project) as store:
        first, second = next(iter(store.candidates_by_prompt().values()))[:2]
        store.set_score(first.id, "alice", "safety", 2)
        store.set_score(first.id, "alice", "clarity", 5)
        store.set_score(second.id, "alice", "clarity", 1)
        store.set_score(first.id, "bob", "safety", 1)
        before = store.scores_by_item()
    written_before_score_cards(app_project, seconds_apart=True)
    with ProjectStore.open(app_project) as store:
        assert store.meta.schema_version == SCHEMA_VERSION
        assert store.scores_by_item() == before
        assert store.score_count() == 4
        cards = store.db.execute(
            "select candidate_id, annotator, criteria, updated_at from scores"
        ).fetchall()
    assert sorted(row[:3] for row in cards) == sorted(
        [
            (first.id, "alice", '{"clarity":5,"safety":2}'),
            (second.id, "alice", '{"clarity":1}'),
            (first.id, "bob", '{"safety":1}'),
        ]
    )
    # a card's time is its latest criterion's: criteria were written a second apart, in order
    assert {row[2]: row[3][-1] for row in cards}['{"clarity":5,"safety":2}'] == "1"


def test_clearing_every_criterion_removes_the_card(app_project: Path):
    with ProjectStore.open(app_project) as store:
        first = next(iter(store.candidates_by_prompt().values()))[0]
        store.set_score(first.id, "alice", "clarity", 3)
        store.set_score(first.id, "alice", "safety", 3)
        store.set_score(first.id, "alice", "clarity", None)
        assert store.scores(first.prompt_id, "alice") == {first.id: {"safety": 3}}
        store.set_score(first.id, "alice", "safety", None)
        assert store.db.execute("select count(*) from scores").fetchone() == (0,)


def test_a_score_is_written_when_another_process_writes_meanwhile(
    app_project: Path, monkeypatch: pytest.MonkeyPatch
):
    """In WAL mode a transaction that read before another connection committed cannot write
    ("database is locked", at once): setting a score takes the write lock before it reads
    the card, so the other writer waits instead."""
    with ProjectStore.open(app_project) as store:
        first = next(iter(store.candidates_by_prompt().values()))[0]
        other = sqlite3.connect(app_project, isolation_level=None, timeout=0)
        execute = store.db.execute
        waited = []

        def write_meanwhile(sql: str, parameters: object = None) -> sqlite3.Cursor:
            cursor = execute(sql, parameters)  # type: ignore[arg-type]
            if sql.startswith("select criteria"):
                try:
                    other.execute("insert into meta (key, value) values ('other', 'writer')")
                except sqlite3.OperationalError:
                    waited.append(sql)
            return cursor

        monkeypatch.setattr(store.db, "execute", write_meanwhile)
        store.set_score(first.id, "alice", "clarity", 4)
        monkeypatch.undo()
        other.close()
        assert waited
        assert store.scores(first.prompt_id, "alice") == {first.id: {"clarity": 4}}


@pytest.mark.parametrize("value", [True, 2.0, 9])
def test_a_score_must_be_an_integer_on_the_scale(app_project: Path, value: object):
    with ProjectStore.open(app_project) as store:
        first = next(iter(store.candidates_by_prompt().values()))[0]
        with pytest.raises(ProjectError, match=r"outside the scale 1\.\.5"):
            store.set_score(first.id, "alice", "clarity", value)  # type: ignore[arg-type]
        assert store.scores(first.prompt_id, "alice") == {}


def test_prompt_ids_are_content_hashes_of_normalized_text():
    assert prompt_id("Hello   World ") == prompt_id("hello world")
    assert prompt_id("hello world") != prompt_id("hello, world")
    assert normalize_text("  Straße\tOK ") == "strasse ok"
    convo = (Message(role="user", content="hello world"),)
    assert prompt_id("user: hello world", convo) != prompt_id("hello world")


def test_add_prompts_skips_duplicates_and_roundtrips(project: ProjectStore):
    convo = (Message(role="system", content="Be brief."), Message(role="user", content="Hi"))
    prompts = [make_prompt("First"), make_prompt("first  "), make_prompt("x", convo)]
    assert project.add_prompts(prompts) == (2, 1)
    assert project.add_prompts(prompts) == (0, 3)
    stored = list(project.prompts())
    assert [p.text for p in stored] == ["First", "x"]
    assert stored[1].messages == convo
    assert project.status().conversational_prompts == 1


def test_same_prompt_has_same_id_in_two_projects(tmp_path: Path):
    rubric = load_rubric(DATA / "rubrics" / "good.toml")
    ids = []
    for name in ("a", "b"):
        with ProjectStore.create(tmp_path / f"{name}.dpo", rubric, name) as store:
            store.add_prompts([make_prompt("Where is my order #1234?")])
            ids.append(store.prompt_ids())
    assert ids[0] == ids[1]


def test_a_second_connection_sees_committed_prompts(project: ProjectStore):
    project.add_prompts([make_prompt("visible")])
    conn = sqlite3.connect(project.path)
    assert conn.execute("select text from prompts").fetchall() == [("visible",)]
    conn.close()


def test_annotation_state_matches_a_direct_count(scored_project: ProjectStore):
    from dpo_tui.core.models import Judgement

    store = scored_project
    first, second, *_ = list(store.prompts())
    a, b, c = store.candidates(first.id)
    for cid in (a.id, b.id):
        store.set_score(cid, "alice", "clarity", 3)
        store.set_score(cid, "alice", "safety", 2)
    store.set_score(c.id, "alice", "clarity", 1)  # partly scored
    store.set_score(c.id, "bob", "safety", 1)  # another annotator's score counts not
    store.save_judgement(Judgement(prompt_id=first.id, annotator="alice", diagnosis=" why "))
    store.save_judgement(Judgement(prompt_id=second.id, annotator="alice", flags=("skip",)))
    state = store.annotation_state("alice")
    assert state[first.id] == (3, 2, True, False)
    assert state[second.id] == (2, 0, False, True)
    assert all(v == (0, 0, False, False) for k, v in state.items() if not store.candidates(k))
    assert list(state) == [p.id for p in store.prompts()]
    assert store.has_candidates()


def test_near_duplicate_prompts_are_kept_until_the_prompts_change(project: ProjectStore):
    def add(*texts: str) -> None:
        project.add_prompts([Prompt(id=prompt_id(t), text=t, source="t") for t in texts])

    first = "How do I reset my password on the mobile app?"
    copy = "How do I reset my password on the mobile app??"
    add(first, "Write a haiku about autumn.")
    assert project.near_duplicate_prompts() == []
    add(copy)
    [(a, b, similarity)] = project.near_duplicate_prompts()
    assert (a, b) == (prompt_id(first), prompt_id(copy)) and similarity > 0.95
    # kept: read back from the file, not computed again
    project.db.execute("update near_duplicate_prompts set similarity = 0.5")
    assert project.near_duplicate_prompts() == [(a, b, 0.5)]
    add("Write a haiku about autumn!")
    assert [pair[:2] for pair in project.near_duplicate_prompts()] == [
        (a, b),
        (prompt_id("Write a haiku about autumn."), prompt_id("Write a haiku about autumn!")),
    ]


def test_candidate_facts_measure_every_text_in_characters(project: ProjectStore):
    from dpo_tui.core.ids import candidate_id
    from dpo_tui.core.models import Candidate

    prompt = Prompt(id=prompt_id("Say hi"), text="Say hi", source="t")
    project.add_prompts([prompt])
    texts = ["héllo wörld", "before\x00after", "plain"]  # SQLite's length() stops at a NUL
    nul = "before\x00after"  # refused since: a file from an older dpo-tui may still hold one
    project.add_candidates(
        [
            Candidate(
                id=candidate_id(prompt.id, text),
                prompt_id=prompt.id,
                text=text.replace("\x00", "-"),
                origin="imported:t",
                preset="wild" if text == "plain" else "",
            )
            for text in texts
        ]
    )
    project.db.execute(
        "update candidates set id = ?, text = ? where id = ?",
        [candidate_id(prompt.id, nul), nul, candidate_id(prompt.id, nul.replace("\x00", "-"))],
    )
    facts = {row[0]: row for row in project.candidate_facts()}
    for text in texts:
        cid = candidate_id(prompt.id, text)
        assert facts[cid][1:4] == (prompt.id, len(text), "wild" if text == "plain" else "")
    assert project.candidate_ids_by_prompt() == {
        prompt.id: [candidate_id(prompt.id, t) for t in texts]
    }
