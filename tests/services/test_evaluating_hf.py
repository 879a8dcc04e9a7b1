"""`eval` of a Hugging Face checkpoint folder, end to end through the CLI: a tiny model built in
the test, a project with an exported round, the run stored and resumable; `--scorer`; the
message without the training extras."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dpo_tui.store.evaluations import eval_runs
from dpo_tui.store.project import ProjectStore
from tests.services.test_evaluating import ANSWERS, exported, run  # noqa: F401 (a fixture)
from tests.tiny_model import tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "round1-model"
    return tiny_checkpoint(folder, [f"{q} {a}" for q, a in ANSWERS.items()])


def test_eval_of_a_checkpoint_folder_is_computed_stored_and_reused(
    exported: Path,  # noqa: F811 (the fixture)
    checkpoint: Path,
):
    result = run("eval", exported, "--model", checkpoint)
    assert result.exit_code == 0, result.output
    assert "Scoring with transformers" in result.output
    assert "accuracy (summed log-prob)" in result.output and "round1-model" in result.output
    with ProjectStore.open(exported) as store:
        [stored] = eval_runs(store)
        rows = store.db.execute("select count(*) from eval_logprobs").fetchone()[0]
    assert stored.model_name == "round1-model" and stored.round_number == 1
    assert stored.details["scorer"] == "transformers"
    assert 0 <= stored.ci_low <= stored.accuracy <= stored.ci_high <= 1
    assert stored.details["responses_computed"] == 2 * stored.pairs == rows
    # a repeat (the transformers scorer chosen explicitly) reuses every log-probability
    again = run("eval", exported, "--model", checkpoint, "--scorer", "transformers", "--json")
    assert again.exit_code == 0, again.output
    repeat = json.loads(again.output[again.output.index("{") :])
    assert repeat["details"]["responses_computed"] == 0
    assert repeat["details"]["responses_cached"] == 2 * stored.pairs
    assert repeat["accuracy"] == stored.accuracy and repeat["model_sha256"] == stored.model_sha256
    # a model against itself as reference, through transformers: every pair ties
    shown = run("eval", exported, "--model", checkpoint, "--reference", checkpoint, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output[shown.output.index("{") :])["reward_accuracy"] == 0.5


def test_scorer_choice_and_errors(
    exported: Path,  # noqa: F811 (the fixture)
    checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    refused = run("eval", exported, "--model", checkpoint, "--scorer", "llama")
    assert refused.exit_code == 1 and "llama.cpp reads only GGUF files" in refused.output
    assert "--scorer transformers" in refused.output
    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    result = run("eval", exported, "--compare", checkpoint, not_a_model)
    assert result.exit_code == 1 and "not a Hugging Face model folder" in result.output
    monkeypatch.setitem(sys.modules, "transformers", None)  # as without the extras
    missing = run("eval", exported, "--model", checkpoint)
    assert missing.exit_code == 1
    assert "pip install -e '.[train]'" in missing.output
    assert "download.pytorch.org/whl/cpu" in missing.output
    with ProjectStore.open(exported) as store:
        assert eval_runs(store) == []
