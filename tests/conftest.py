"""Shared fixtures: test data paths, a fresh project, a database snapshot for atomicity checks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.rubric import load_rubric
from dpo_tui.services.importing import import_candidates, import_prompts
from dpo_tui.store.migrations import CARDS_SINCE, KNOWN
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.safe_open import expected_schema
from tests.openai_fake import FakeServer, Reply

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def rubric_path() -> Path:
    return DATA / "rubrics" / "good.toml"


@pytest.fixture
def project(tmp_path: Path, rubric_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "p.dpo", load_rubric(rubric_path), "alice")
    with store:
        yield store


def snapshot(path: Path) -> list[str]:
    """Every schema statement and row of a database, to compare before and after."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def written_at_schema(path: Path, version: int) -> None:
    """Rewrite a project file as dpo-tui wrote it at schema `version` (its tables exactly as
    that version created them, the rows' common columns kept), as an older dpo-tui would
    have sent it."""
    expected = expected_schema(version)
    tables = {name: sql for kind, name, _, sql in expected if kind == "table"}
    indexes = [(table, sql) for kind, _, table, sql in expected if kind == "index" and sql]
    conn = sqlite3.connect(path)
    with conn:
        held = {
            name: sql
            for name, sql in conn.execute(
                "select name, sql from sqlite_master where type = 'table'"
            )
        }
        for name in held.keys() - tables.keys():
            if not name.startswith("sqlite_") and name != "_sqlite_migrations":
                conn.execute(f"drop table {name}")
        for name, sql in tables.items():
            if held.get(name) == sql:
                continue
            columns = [row[1] for row in conn.execute(f"pragma table_info({name})")]
            conn.execute(f"create temp table kept as select * from {name}")
            conn.execute(f"drop table {name}")
            conn.execute(sql)
            wanted = [row[1] for row in conn.execute(f"pragma table_info({name})")]
            common = ", ".join(c for c in wanted if c in columns)
            conn.execute(f"insert into {name} ({common}) select {common} from temp.kept")
            conn.execute("drop table temp.kept")
            for table, index_sql in indexes:
                if table == name:
                    conn.execute(index_sql)
        conn.execute(
            "delete from _sqlite_migrations where migration_set = 'dpo_tui' and name not in "
            "(select value from json_each(?))",
            [json.dumps(KNOWN[:version])],
        )
        conn.execute("update meta set value = ? where key = 'schema_version'", [str(version)])
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


def written_before_score_cards(path: Path, seconds_apart: bool = False) -> None:
    """Rewrite a project file as dpo-tui wrote it before score cards (schema 7: one scores
    row per criterion); with `seconds_apart`, a card's criteria were set a second apart."""
    written_at_schema(path, CARDS_SINCE)
    [table_sql] = [
        sql
        for kind, name, _, sql in expected_schema(CARDS_SINCE - 1)
        if (kind, name) == ("table", "scores")
    ]
    conn = sqlite3.connect(path)
    with conn:
        cards = conn.execute(
            "select candidate_id, annotator, criteria, updated_at from scores order by rowid"
        ).fetchall()
        conn.execute("drop table scores")
        conn.execute(table_sql)
        conn.executemany(
            "insert into scores values (?, ?, ?, ?, ?)",
            [
                (cid, annotator, key, value, f"{updated[:18]}{n}" if seconds_apart else updated)
                for cid, annotator, criteria, updated in cards
                for n, (key, value) in enumerate(sorted(json.loads(criteria).items()))
            ],
        )
        conn.execute("delete from _sqlite_migrations where name = 'm008_score_cards'")
        conn.execute("update meta set value = ? where key = 'schema_version'", [CARDS_SINCE - 1])
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


@pytest.fixture
def scored_project(project: ProjectStore) -> ProjectStore:
    """The test rubric's project with 3 prompts: two with candidates (3 and 2), one without."""
    import_prompts(project, [DATA / "inputs" / "good.jsonl"], ImportOptions())
    import_prompts(project, [DATA / "inputs" / "three.txt"], ImportOptions())
    import_candidates(project, DATA / "candidates" / "good.jsonl")
    import_candidates(project, DATA / "candidates" / "more.jsonl")
    return project


PAYLOAD = (
    "Click [@click=app.quit]here[/] or [link=http://evil.example]there[/] [b]bold[/b]\n"
    "escape:\x1b[2J\x1b]0;pwned\x07 bidi:\u202eevil"
)
INJECTION_PROMPT = "Render this [bold red]URGENT[/] ticket \x1b[31m safely"


@pytest.fixture
def app_project(tmp_path: Path) -> Path:
    path = tmp_path / "app.dpo"
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        import_prompts(store, [DATA / "inputs" / "good.jsonl"], ImportOptions())
        import_prompts(store, [DATA / "inputs" / "three.txt"], ImportOptions())
        import_candidates(store, DATA / "candidates" / "good.jsonl")
        import_candidates(store, DATA / "candidates" / "more.jsonl")
        extra = tmp_path / "injection.jsonl"
        extra.write_text(json.dumps({"prompt": INJECTION_PROMPT}) + "\n")
        import_prompts(store, [extra], ImportOptions())
        candidates = tmp_path / "injection_candidates.jsonl"
        candidates.write_text(
            json.dumps({"prompt": INJECTION_PROMPT, "responses": [PAYLOAD, "plain answer"]}) + "\n"
        )
        import_candidates(store, candidates)
    return path


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[dict, int], Reply]], FakeServer]]:
    servers: list[FakeServer] = []

    def start(respond: Callable[[dict, int], Reply]) -> FakeServer:
        servers.append(FakeServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
