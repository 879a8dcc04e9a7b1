"""Bounded parsing of what other people made (#14, class 1): a rubric TOML stored in a received
project or on disk, JSON records in imported files, JSON in a project's rows, the config file.
Each is refused quickly with a message naming the file (and line), never parsed without limit."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from dpo_tui.config import ConfigError, load_config
from dpo_tui.core.bounded import MAX_DEPTH, BoundsError, json_value, toml_document
from dpo_tui.core.rubric import parse_rubric
from dpo_tui.errors import RubricError
from tests.conftest import DATA, snapshot
from tests.hardening.conftest import RUBRIC, invoke

DOTTED = "x." + ".".join(["a"] * 100_000) + " = 1\n"  # the probe's 475 KB... key
DEEP_ARRAY = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    project = tmp_path / "base.dpo"
    assert invoke("init", project, "--rubric", RUBRIC, "--annotator", "alice")[0] == 0
    assert invoke("import", project, DATA / "inputs" / "good.jsonl")[0] == 0
    return project


def set_row(project: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(project)
    with conn:
        conn.execute(sql, params)
    conn.close()


def test_a_dotted_key_of_100000_parts_is_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(RubricError, match=r"line 1: .*more than 32 dotted parts"):
        parse_rubric(DOTTED, "h.dpo (stored rubric)")
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DEEP_ARRAY, f"nested deeper than {MAX_DEPTH} levels"),
        ("x = " + "{a = " * 20_000 + "1" + "}" * 20_000, f"nested deeper than {MAX_DEPTH}"),
        ('x = "' + "a" * 300_000 + '"\n', "larger than the 262,144 bytes accepted"),
        ("[" + "a." * 40 + "b]\n", "more than 32 dotted parts"),
    ],
    ids=["array", "inline-table", "size", "table-header"],
)
def test_toml_over_a_bound_is_refused(text: str, problem: str):
    with pytest.raises(BoundsError, match=problem):
        toml_document(text)


def test_toml_strings_and_comments_do_not_count():
    text = 'a = "[[[[ ... {{{{ " # ]]]] ' + "." * 100 + "\nb = '''\n" + "[" * 100 + "\n'''\n"
    assert toml_document(text) == {"a": "[[[[ ... {{{{ ", "b": "[" * 100 + "\n"}
    for bundled in (Path(__file__).parents[2] / "rubrics").glob("*.toml"):
        toml_document(bundled.read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", ["status", "report", "export", "annotate"])
def test_a_received_project_with_a_hostile_stored_rubric_is_refused(
    base: Path, tmp_path: Path, command: str
):
    """The probe's case: `update meta set value=<100,000-part key> where key='rubric_text'`."""
    set_row(base, "update meta set value = ? where key = 'rubric_text'", DOTTED)
    before = snapshot(base)
    args = {
        "status": ["status", base],
        "report": ["report", base],
        "export": ["export", base, "--format", "jsonl", "--out", tmp_path / "out"],
        "annotate": ["annotate", base],
    }[command]
    started = time.perf_counter()
    code, output = invoke(*args)
    assert time.perf_counter() - started < 10
    if command == "status":  # status shows the rubric's name: it must parse it
        assert code == 1
    if code:
        assert f"{base} (stored rubric): line 1: not accepted as a rubric" in output
        assert "more than 32 dotted parts" in output
    assert snapshot(base) == before


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_nested_100000_deep_in_an_import_is_refused_with_file_and_line(
    base: Path, tmp_path: Path, suffix: str
):
    deep = "[" * 100_000 + "]" * 100_000
    record = '{"prompt": "Nested tags", "tags": ' + deep + "}"
    path = tmp_path / f"deep{suffix}"
    if suffix == ".jsonl":
        path.write_text('{"prompt": "fine"}\n' + record + "\n", encoding="utf-8")
    else:
        path.write_text('[{"prompt": "fine"},\n' + record + "]\n", encoding="utf-8")
    before = snapshot(base)
    code, output = invoke("import", base, path)
    assert code == 1
    assert f"{path}: line 2: not accepted: nested deeper than {MAX_DEPTH} levels" in output
    assert snapshot(base) == before


def test_nested_json_in_candidates_and_annotations_files_is_refused(base: Path, tmp_path: Path):
    deep = "[" * 5_000 + "]" * 5_000
    for command in ("import-candidates", "import-annotations"):
        path = tmp_path / f"{command}.jsonl"
        path.write_text(f'{{"prompt": "x", "responses": {deep}}}\n', encoding="utf-8")
        code, output = invoke(command, base, path)
        assert code == 1
        assert f"{path}: line 1: not accepted: nested deeper than {MAX_DEPTH}" in output


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("update prompts set tags = ?", "a prompt's tags"),
        ("update prompts set messages = ?", "a conversation"),
    ],
    ids=["tags", "messages"],
)
def test_json_nested_deep_in_a_projects_rows_is_refused(
    base: Path, tmp_path: Path, sql: str, what: str
):
    set_row(base, sql, "[" * 100_000 + "]" * 100_000)
    code, output = invoke("export-annotations", base, tmp_path / "a.jsonl")
    assert code == 1
    assert f"error: {base}: holds something dpo-tui cannot read back: {what}" in output
    assert f"nested deeper than {MAX_DEPTH} levels" in output


def test_json_values_are_bounded_after_parsing_too():
    assert json_value("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(BoundsError):
        json_value("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(BoundsError):
        json_value(json.dumps({"a": [{"b": []}]}).replace("[]", "[" * 40 + "]" * 40))


def test_rubric_check_refuses_a_hostile_rubric_file(tmp_path: Path):
    rubric = tmp_path / "hostile.toml"
    rubric.write_text(DOTTED, encoding="utf-8")
    code, output = invoke("rubric", "check", rubric)
    assert code == 1
    assert f"{rubric}: line 1: not accepted as a rubric: a key of more than 32" in output


def test_a_hostile_config_file_is_refused(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(DOTTED, encoding="utf-8")
    with pytest.raises(ConfigError, match="more than 32 dotted parts"):
        load_config(config)
    config.write_text(DEEP_ARRAY, encoding="utf-8")
    with pytest.raises(ConfigError, match="nested deeper"):
        load_config(config)
