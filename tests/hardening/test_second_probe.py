"""What a second hostile probe found after the first round of hardening (#14), one test each:
the project file is never written over, non-finite numbers and 4,300-digit integers are
refused, a TOML scan no string can end early, what a parquet file or a templated prompt file
costs is bounded, a failed init leaves nothing, names are names."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dpo_tui.core.bounded import BoundsError, toml_document
from dpo_tui.core.dedup import MAX_KEPT, clusters, near_duplicate_pairs
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import RubricError
from dpo_tui.services.atomic import Placement
from dpo_tui.store import connection
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot
from tests.hardening.conftest import RUBRIC, invoke


@pytest.fixture
def scored(project: Path) -> Path:
    """The project with scores that form pairs."""
    with ProjectStore.open(project) as store:
        for prompt in store.prompts():
            for value, candidate in enumerate(store.candidates(prompt.id), 1):
                store.set_scores(candidate.id, "alice", {"clarity": min(value * 2, 5), "safety": 3})
    return project


def test_export_annotations_never_writes_over_the_project_or_another_file(
    project: Path, tmp_path: Path
):
    before = snapshot(project)
    code, output = invoke("export-annotations", project, project, "--force")
    assert code == 1 and "name a .csv or a .jsonl file" in output
    renamed = project.with_suffix(".csv")
    project.rename(renamed)  # a project file named like a CSV
    code, output = invoke("export-annotations", renamed, renamed, "--force")
    assert code == 1 and "is the project file itself; it is never written over" in output
    renamed.rename(project)
    assert snapshot(project) == before
    notes = tmp_path / "notes.csv"
    notes.write_text("mine\n")
    code, output = invoke("export-annotations", project, notes)
    assert code == 1 and f"{notes}: already exists" in output
    assert notes.read_text() == "mine\n"
    assert invoke("export-annotations", project, notes, "--force")[0] == 0
    assert notes.read_text().startswith("prompt_id,")
    code, output = invoke("export-annotations", project, tmp_path / "a.json")
    assert code == 1 and "name a .csv or a .jsonl file" in output


def test_export_never_replaces_the_project_file(scored: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(scored.parent)
    before = snapshot(scored)
    code, output = invoke("export", scored.name, "--format", "trl", "--out", scored.name, "--force")
    assert code == 1 and "is or holds the project file" in output
    assert scored.is_file() and snapshot(scored) == before


@pytest.mark.parametrize("option", ["--min-margin", "--val"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_are_refused(scored: Path, tmp_path: Path, option: str, value: str):
    out = tmp_path / "o"
    code, output = invoke("export", scored, "--format", "trl", "--out", out, option, value)
    assert code == 2
    assert "is not a finite number" in output or "is not in the range" in output
    assert json.loads(invoke("rounds", scored, "--json")[1]) == [] and not out.exists()


def test_a_string_closed_with_an_extra_quote_does_not_end_the_toml_scan():
    for opening in ('"""', "'''"):
        text = f"a = {opening}x{opening}{opening[0]}\n" + ".".join(["k"] * 20_000) + " = 1\n"
        with pytest.raises(BoundsError, match="more than 32 dotted parts"):
            toml_document(text)
    unclosed = 'a = "never closed\n' + ".".join(["k"] * 20_000) + " = 1\n"
    with pytest.raises(BoundsError, match="more than 32 dotted parts"):
        toml_document(unclosed)


def test_integers_of_thousands_of_digits_are_refused(project: Path, tmp_path: Path):
    huge = "1" * 5000
    records = tmp_path / "big.jsonl"
    records.write_text(f'{{"prompt": "hi", "n": {huge}}}\n')
    code, output = invoke("import", project, records)
    assert code == 1 and f"{records}: line 1: not accepted: a value is not accepted" in output
    rubric = tmp_path / "big.toml"
    rubric.write_text(f"x = {huge}\n")
    with pytest.raises(RubricError, match="a value is not accepted"):
        load_rubric(rubric)
    conn = sqlite3.connect(project)
    with conn:
        conn.execute("update meta set value = ? where key = 'schema_version'", ["9" * 5000])
    conn.close()
    code, output = invoke("status", project)
    assert code == 1 and "damaged: its schema version" in output


def test_rubric_check_refuses_devices_and_fifos(tmp_path: Path):
    fifo = tmp_path / "rubric.toml"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        code, output = invoke("rubric", "check", path)
        assert code == 1 and "not a regular file" in output


MEASURED = (  # the child's own peak memory (getrusage's keeps the parent's across exec)
    "import re, sys\nfrom dpo_tui.cli import main\ntry:\n    main()\nfinally:\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('peak', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)"
)


def import_measured(project: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """`dpo-tui import PROJECT SOURCE` in a child that prints its peak memory (VmHWM)."""
    return subprocess.run(
        [sys.executable, "-c", MEASURED, "import", str(project), str(source)],
        capture_output=True,
        text=True,
    )


def peak_of(done: subprocess.CompletedProcess[str]) -> int:
    """The peak memory (KiB) `import_measured`'s child printed."""
    return int(done.stderr.rsplit("peak ", 1)[1])


def test_a_parquet_file_of_one_large_text_repeated_stays_small_in_memory(tmp_path: Path):
    """2,048 rows pointing to one 1 MB text (dictionary encoded, a few hundred bytes on disk)
    used to be decoded 4,096 rows at a time: gigabytes."""
    bomb = tmp_path / "bomb.parquet"
    column = pa.DictionaryArray.from_arrays(
        pa.array([0] * 2048, pa.int32()), pa.array(["x" * 2**20])
    )
    pq.write_table(pa.table({"prompt": column}), bomb, compression="zstd")
    assert bomb.stat().st_size < 10_000
    project = tmp_path / "p.dpo"
    assert invoke("init", project, "--rubric", RUBRIC, "--annotator", "al")[0] == 0
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the child's peak memory (VmHWM) from /proc")
    done = import_measured(project, bomb)
    assert done.returncode == 1 and "row 1: the prompt is 1,048,576 characters" in done.stderr
    peak_kib = peak_of(done)
    assert peak_kib < 1_000_000, f"{peak_kib / 1024:.0f} MiB"


def test_a_parquet_file_of_one_valid_prompt_repeated_is_one_prompt_in_memory(tmp_path: Path):
    """40,000 rows of one 32,000-character prompt (within --max-chars): held as one prompt,
    the repeats counted as duplicates, not 1.3 GB of equal strings."""
    rows = 40_000
    bomb = tmp_path / "same.parquet"
    column = pa.DictionaryArray.from_arrays(
        pa.array([0] * rows, pa.int32()), pa.array(["Why? " + "y" * 31_995])
    )
    pq.write_table(pa.table({"prompt": column}), bomb, compression="zstd")
    project = tmp_path / "p.dpo"
    assert invoke("init", project, "--rubric", RUBRIC, "--annotator", "al")[0] == 0
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the child's peak memory (VmHWM) from /proc")
    done = import_measured(project, bomb)
    assert done.returncode == 0, done.stderr
    assert "read 40000, added 1, skipped 39999 duplicates" in " ".join(done.stdout.split())
    peak_kib = peak_of(done)
    assert peak_kib < 600_000, f"{peak_kib / 1024:.0f} MiB"


def test_prompts_from_one_template_keep_a_bounded_number_of_pairs():
    texts = [f"distinct prompt {i} q" for i in range(3000)]
    pairs = near_duplicate_pairs(texts)
    assert len(pairs) <= MAX_KEPT * len(texts)
    assert len(set(clusters(len(texts), pairs))) == 1  # still one cluster for the split


def test_a_failed_init_leaves_no_file_and_a_retry_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = tmp_path / "n.dpo"
    real = connection.connect

    def full(path: Path, **options: bool):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(connection, "connect", full)
    code, output = invoke("init", project, "--rubric", RUBRIC, "--annotator", "al")
    assert code == 1 and "the disk is full" in output
    assert list(tmp_path.iterdir()) == []  # nor its -wal or -shm
    monkeypatch.setattr(connection, "connect", real)
    assert invoke("init", project, "--rubric", RUBRIC, "--annotator", "al")[0] == 0


def test_names_are_names_and_tags_hold_no_nul(project: Path, tmp_path: Path):
    with ProjectStore.open(project) as store:
        prompt = next(p for p in store.prompts() if store.candidates(p.id))
        candidate = store.candidates(prompt.id)[0]
    for name, problem in (("a\nb", "holds a control character"), ("x" * 81, "over 80")):
        sheet = tmp_path / "names.csv"
        with sheet.open("w", newline="") as handle:
            csv.writer(handle).writerows(
                [
                    ["prompt_id", "candidate_id", "annotator", "clarity"],
                    [prompt.id, candidate.id, name, 3],
                ]
            )
        code, output = invoke("import-annotations", project, sheet)
        assert code == 1 and problem in output
    tagged = tmp_path / "tags.jsonl"
    tagged.write_text(json.dumps({"prompt": "Tagged", "tags": ["ok", "b\x00d"]}) + "\n")
    code, output = invoke("import", project, tagged)
    assert code == 1 and "a tag contains a NUL character" in output
    code, output = invoke("assign", project, "--annotators", "Ann,ann", "--out", tmp_path / "out")
    assert code == 1 and "distinct ignoring case" in output


def test_our_own_csv_with_a_long_response_reads_back(project: Path, tmp_path: Path):
    long = "word " * 40_000  # 200,000 characters, over the csv module's default cell limit
    source = tmp_path / "long.jsonl"
    source.write_text(json.dumps({"prompt": "How do I reset my password?", "responses": [long]}))
    assert invoke("import-candidates", project, source)[0] == 0
    with ProjectStore.open(project) as store:
        everything = store.candidates_by_prompt().values()
        [candidate] = [c for group in everything for c in group if len(c.text) > 100_000]
        store.set_scores(candidate.id, "alice", {"clarity": 4})
    out = tmp_path / "annotations.csv"
    assert invoke("export-annotations", project, out)[0] == 0
    assert invoke("import-annotations", project, out)[0] == 0


def test_report_html_never_writes_over_the_project(project: Path):
    before = snapshot(project)
    code, output = invoke("report", project, "--html", project)
    assert code == 1 and "is the project file itself" in output
    assert snapshot(project) == before


def test_annotate_and_adjudicate_check_the_name_given(project: Path):
    for command, option in (("annotate", "--annotator"), ("adjudicate", "--resolver")):
        code, output = invoke(command, project, option, "ev\x1b[2Jil")
        assert code == 1 and "holds a control character" in output


def test_an_export_without_force_never_moves_anything_aside(tmp_path: Path):
    """What another process put in the target meanwhile stays: the rename fails instead."""
    staged, target = tmp_path / "staged", tmp_path / "out"
    staged.mkdir()
    target.mkdir()
    (target / "theirs.jsonl").write_text("kept\n")
    with pytest.raises(OSError):
        Placement.move(staged, target, replace=False)
    assert (target / "theirs.jsonl").read_text() == "kept\n" and staged.is_dir()


def test_a_foreign_sqlite_file_is_refused_unchanged(tmp_path: Path):
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("create table t (x)")
    conn.close()
    before = foreign.read_bytes()
    code, output = invoke("import", foreign, DATA / "inputs" / "good.jsonl")
    assert code == 1 and "an SQLite file, but not a dpo-tui project" in output
    assert foreign.read_bytes() == before
