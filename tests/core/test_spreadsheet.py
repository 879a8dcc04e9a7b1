"""Cells a spreadsheet would run as formulas: neutralised in CSV output only, exact elsewhere,
and read back exactly by import-annotations."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from dpo_tui.cli import cli
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Judgement, Prompt
from dpo_tui.core.rubric import load_rubric
from dpo_tui.core.spreadsheet import TRIGGERS, neutralise, neutralise_cells, restore
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA
from tests.services.test_importing_annotations import everything

RUBRIC = DATA / "rubrics" / "good.toml"


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tindented", "'\tindented"),
        ("\rreturn", "'\rreturn"),
        ("'=already quoted", "''=already quoted"),
        ("''-twice", "'''-twice"),
        ("'quoted, harmless", "'quoted, harmless"),
        ("a = b", "a = b"),
        ("'", "'"),
        ("", ""),
    ],
)
def test_neutralise_examples(text: str, written: str):
    assert neutralise(text) == written
    assert restore(written) == text


def test_only_text_cells_are_neutralised():
    row = {"prompt": "=1+1", "margin": -0.5, "clarity": 3, "by_veto": False, "empty": ""}
    assert neutralise_cells(row) == {**row, "prompt": "'=1+1"}


spreadsheet_text = st.text() | st.builds(
    lambda head, tail: head + tail,
    st.text(alphabet="'=+-@\t\r", max_size=5),
    st.text(max_size=10),
)


@given(spreadsheet_text)
def test_restore_undoes_neutralise_and_nothing_written_starts_a_formula(text: str):
    written = neutralise(text)
    assert restore(written) == text
    assert not written.startswith(TRIGGERS)
    assert neutralise(text) == text or written == f"'{text}"


PAYLOADS = [
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\ttabbed",
    "'=already quoted",
]
ANNOTATORS = ["@SUM(1)", '=HYPERLINK("http://x")']


def hostile_project(path: Path) -> None:
    """Prompts, responses, diagnoses and annotator names that begin as formulas (a prompt is
    stored stripped when imported as text, so no prompt begins with a tab)."""
    with ProjectStore.create(path, load_rubric(RUBRIC), "alice") as store:
        for index, payload in enumerate(p for p in PAYLOADS if not p[0].isspace()):
            prompt = Prompt(id=prompt_id(f"{payload} {index}"), text=f"{payload} {index}")
            store.add_prompts([prompt])
            texts = [f"{PAYLOADS[(index + k) % 6]} answer {k}" for k in (1, 2)]
            store.add_candidates(
                [
                    Candidate(
                        id=candidate_id(prompt.id, t), prompt_id=prompt.id, text=t, origin="x"
                    )
                    for t in texts
                ]
            )
            for number, annotator in enumerate(ANNOTATORS):
                for cand, clarity in zip(store.candidates(prompt.id), (5, 1), strict=True):
                    store.set_score(cand.id, annotator, "clarity", clarity)
                    store.set_score(cand.id, annotator, "safety", 3)
                diagnosis = f"{PAYLOADS[(index + 3 + number) % 6]} is why"
                store.save_judgement(
                    Judgement(prompt_id=prompt.id, annotator=annotator, diagnosis=diagnosis)
                )


def run(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def assert_no_formula(path: Path) -> None:
    rows = cells(path)
    assert len(rows) > 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(TRIGGERS), (path.name, cell)
    assert any(cell.startswith("'") for row in rows for cell in row)  # something was quoted


def test_formulas_are_neutralised_in_csv_exact_elsewhere_and_round_trip(tmp_path: Path):
    project = tmp_path / "hostile.dpo"
    hostile_project(project)
    with ProjectStore.open(project) as store:
        original = everything(store)
    prompts = {text for _, text in original["prompts"]}
    responses = {text for _, _, text in original["candidates"]}

    run("export", project, "--format", "csv", "--out", tmp_path / "csv", "--val", "0.5")
    for name in ("train.csv", "validation.csv"):
        assert_no_formula(tmp_path / "csv" / name)
    with (tmp_path / "csv" / "train.csv").open(newline="", encoding="utf-8") as handle:
        assert {restore(row["prompt"]) for row in csv.DictReader(handle)} <= prompts

    run("export", project, "--format", "jsonl", "--out", tmp_path / "jsonl", "--val", "0")
    records = [json.loads(line) for line in (tmp_path / "jsonl" / "train.jsonl").open()]
    assert {r["prompt"] for r in records} == prompts
    assert {r["better_response"] for r in records} | {r["weaker_response"] for r in records} == (
        responses
    )
    assert all(any(p in r["diagnosis"] for p in PAYLOADS) for r in records)

    run("export-annotations", project, tmp_path / "annotations.csv")
    assert_no_formula(tmp_path / "annotations.csv")
    run("export-annotations", project, tmp_path / "annotations.jsonl")
    exact = [json.loads(line) for line in (tmp_path / "annotations.jsonl").open()]
    assert {r["annotator"] for r in exact} == set(ANNOTATORS)
    assert "'=already quoted answer 1" in {r["response"] for r in exact}

    for suffix in ("csv", "jsonl"):
        fresh = tmp_path / f"fresh-{suffix}.dpo"
        run("init", fresh, "--rubric", RUBRIC, "--annotator", "carol")
        run("import-annotations", fresh, tmp_path / f"annotations.{suffix}")
        with ProjectStore.open(fresh) as store:
            assert everything(store) == original, suffix
