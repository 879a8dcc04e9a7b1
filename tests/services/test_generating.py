"""Filling a project with candidates from the real bundled model: what is stored, resume after
an interruption (in-process and a real Ctrl-C to the CLI), regenerate."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import ProjectError
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.services.generating import RunProgress, generate_candidates
from dpo_tui.services.importing import import_prompts
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, REPO

pytestmark = pytest.mark.slow
PROMPTS = [
    "How do I reset my password?",
    "My package says delivered but it is not here. What now?",
    "Can I change the shipping address after ordering?",
]


@pytest.fixture(scope="module")
def backend():
    with LlamaBackend(n_ctx=2048) as engine:
        yield engine


@pytest.fixture
def small(tmp_path: Path) -> ProjectStore:
    source = tmp_path / "prompts.txt"
    source.write_text("\n".join(PROMPTS) + "\n")
    store = ProjectStore.create(
        tmp_path / "g.dpo", load_rubric(DATA / "rubrics" / "good.toml"), "alice"
    )
    import_prompts(store, [source], ImportOptions())
    yield store
    store.close()


def test_candidates_store_model_preset_params_seed_and_timing(small, backend):
    result = generate_candidates(small, backend, 3, max_tokens=12, base_seed=5)
    assert (result.done_prompts, result.candidates) == (3, 9)
    prompt = next(small.prompts())
    stored = small.candidates(prompt.id)
    assert [c.preset for c in stored] == ["precise", "balanced", "creative"]
    first = stored[0]
    assert first.origin == backend.origin and first.origin.startswith("gguf:")
    assert first.model == "gemma-3-270m-q4_k_m"
    for key in (
        "temperature",
        "top_p",
        "min_p",
        "top_k",
        "seed",
        "max_tokens",
        "slot",
        "finish_reason",
        "first_token_seconds",
    ):
        assert key in first.params
    assert first.params["max_tokens"] == 12 and first.params["slot"] == 0
    assert 0 < (first.token_count or 0) <= 12 and (first.gen_seconds or 0) > 0
    assert len({c.params["seed"] for c in stored}) == 3


def test_same_seed_reproduces_the_same_candidates(tmp_path, small, backend):
    generate_candidates(small, backend, 2, max_tokens=10, base_seed=9)
    texts = {p.id: [c.text for c in small.candidates(p.id)] for p in small.prompts()}
    other = ProjectStore.create(tmp_path / "again.dpo", small.loaded_rubric, "bob")
    other.add_prompts(list(small.prompts()))
    generate_candidates(other, backend, 2, max_tokens=10, base_seed=9)
    assert {p.id: [c.text for c in other.candidates(p.id)] for p in other.prompts()} == texts
    other.close()


def test_interrupted_run_resumes_without_duplicates(small, backend):
    def stop_after_first(state: RunProgress) -> None:
        if state.done_prompts == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_candidates(small, backend, 2, max_tokens=8, on_progress=stop_after_first)
    assert small.status().prompts_with_candidates == 1
    resumed = generate_candidates(small, backend, 2, max_tokens=8)
    assert resumed.total_prompts == 2
    assert small.status().candidates == 6
    more = generate_candidates(small, backend, 3, max_tokens=8)
    assert (more.done_prompts, more.candidates) == (3, 3)
    slots = [c.params["slot"] for c in small.candidates(next(small.prompts()).id)]
    assert slots == [0, 1, 2]


def test_regenerate_refuses_scored_prompts(small, backend):
    generate_candidates(small, backend, 2, max_tokens=8)
    first = next(small.prompts())
    candidate = small.candidates(first.id)[0]
    small.set_score(candidate.id, "alice", "clarity", 3)
    with pytest.raises(ProjectError, match="already have scores"):
        small.delete_candidates([first.id])


def test_ctrl_c_to_the_cli_keeps_finished_work_and_a_rerun_continues(tmp_path: Path):
    project = tmp_path / "cli.dpo"
    cli = [sys.executable, "-m", "dpo_tui"]
    subprocess.run(
        [*cli, "init", project, "-r", "general_assistant", "-a", "alice"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*cli, "import", project, REPO / "sample_data" / "writing_help.txt"],
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [*cli, "generate", project, "--n", "2", "--max-tokens", "48", "--limit", "30"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As in a terminal: a background job of a non-interactive shell (as CI may be) starts
        # with SIGINT ignored, and Python then installs no Ctrl-C handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        with closing(sqlite3.connect(project)) as reader:  # reads only; never waits on the writer
            done = reader.execute("select count(distinct prompt_id) from candidates").fetchone()
        if done[0] >= 1:
            break
    assert process.poll() is None, "generation finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "Stopped. Everything finished is saved" in output
    with ProjectStore.open(project) as store:
        kept = store.status()
        assert kept.candidates == 2 * kept.prompts_with_candidates
        assert 1 <= kept.prompts_with_candidates < 30
    finished = subprocess.run(
        [*cli, "generate", project, "--n", "2", "--max-tokens", "24", "--limit", "2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Done: 2 prompts, 4 candidates" in finished.stdout
    with ProjectStore.open(project) as store:
        resumed = store.status()
        assert resumed.prompts_with_candidates == kept.prompts_with_candidates + 2
        assert resumed.candidates == 2 * resumed.prompts_with_candidates
        ids = store.db.execute("select count(distinct id), count(*) from candidates").fetchone()
        assert ids[0] == ids[1]
