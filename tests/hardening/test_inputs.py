"""What must be refused is refused (#14, class 6): NUL characters in prompts, responses and
diagnoses; a diagnosis past its cap; a replaced diagnosis is reported; merge names a folder or
a FIFO for what it is; init never creates a file through a dangling symlink."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from dpo_tui.core.safe_text import MAX_DIAGNOSIS_CHARS
from dpo_tui.store.project import ProjectStore
from tests.conftest import snapshot
from tests.hardening.conftest import RUBRIC, invoke


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("p.jsonl", '{"prompt": "fine"}\n{"prompt": "cut\\u0000here"}\n'),
        ("p.txt", "fine\ncut\x00here\n"),
        ("p.csv", "prompt\nfine\ncut\x00here\n"),
        (
            "p.jsonl",
            '{"messages": [{"role": "user", "content": "a"}]}\n'
            '{"messages": [{"role": "user", "content": "a\\u0000"}]}\n',
        ),
    ],
    ids=["jsonl-escape", "raw-text", "raw-csv", "conversation"],
)
def test_a_nul_in_a_prompt_is_refused_with_file_and_line(
    project: Path, tmp_path: Path, name: str, content: str
):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    before = snapshot(project)
    code, output = invoke("import", project, path)
    assert code == 1
    assert f"{path}: line {content.count(chr(10))}: " in output
    assert "contains a NUL character" in output
    assert snapshot(project) == before


def test_a_nul_in_a_response_is_refused(project: Path, tmp_path: Path):
    path = tmp_path / "c.jsonl"
    prompt = "How do I reset my password?"
    path.write_text(json.dumps({"prompt": prompt, "responses": ["ok", "no\x00"]}) + "\n")
    before = snapshot(project)
    code, output = invoke("import-candidates", project, path)
    assert code == 1
    assert f"{path}: line 1: response 2 contains a NUL character" in output
    assert snapshot(project) == before


def annotations_file(project: Path, path: Path, diagnosis: str) -> Path:
    with ProjectStore.open(project) as store:
        prompt = next(p for p in store.prompts() if store.candidates(p.id))
        candidates = store.candidates(prompt.id)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt_id", "candidate_id", "annotator", "clarity", "diagnosis"])
        for candidate in candidates:
            writer.writerow([prompt.id, candidate.id, "bob", 3, diagnosis])
    return path


@pytest.mark.parametrize(
    ("diagnosis", "problem"),
    [
        ("A is better\x00 hidden", "contains a NUL character"),
        ("x" * (MAX_DIAGNOSIS_CHARS + 1), f"over the limit of {MAX_DIAGNOSIS_CHARS:,}"),
    ],
    ids=["nul", "too-long"],
)
def test_a_bad_diagnosis_is_refused(project: Path, tmp_path: Path, diagnosis: str, problem: str):
    path = annotations_file(project, tmp_path / "a.csv", diagnosis)
    before = snapshot(project)
    code, output = invoke("import-annotations", project, path)
    assert code == 1
    assert f"{path}: line 2: " in output and problem in output
    assert snapshot(project) == before


def test_an_import_that_replaces_a_diagnosis_says_so(project: Path, tmp_path: Path):
    first = annotations_file(project, tmp_path / "first.csv", "A answers; B does not.")
    assert "(0 diagnoses replaced" in invoke("import-annotations", project, first)[1]
    again = invoke("import-annotations", project, first)[1]
    assert "(0 diagnoses replaced" in again  # the same text is no replacement
    second = annotations_file(project, tmp_path / "second.csv", "B is clearer.")
    code, output = invoke("import-annotations", project, second)
    assert code == 0
    assert "(1 diagnoses replaced an earlier, different one)" in output


def test_merge_names_a_folder_and_a_fifo_for_what_they_are(project: Path, tmp_path: Path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    code, output = invoke("merge", project, folder)
    assert code == 1 and f"{folder}: is a folder, not a project file" in output
    fifo = tmp_path / "pipe.dpo"
    os.mkfifo(fifo)
    code, output = invoke("merge", project, fifo)
    assert code == 1 and f"{fifo}: not a regular file" in output


def test_init_refuses_a_dangling_symlink_and_creates_nothing_through_it(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere" / "victim.dpo"
    elsewhere.parent.mkdir()
    link = tmp_path / "new.dpo"
    link.symlink_to(elsewhere)
    code, output = invoke("init", link, "--rubric", RUBRIC, "--annotator", "alice")
    assert code == 1 and f"{link}: already exists" in output
    assert not elsewhere.exists()
