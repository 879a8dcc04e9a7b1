"""Evaluation: the statistics, which pairs a round's split gives, and (with the real bundled
model) stored results shown by `rounds`, resumability, the reference, compare, CLI errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dpo_tui.cli import cli
from dpo_tui.core.evaluation import (
    NO_CRITERION,
    PairLogprobs,
    bootstrap_ci,
    deciding_criterion,
    figures,
    outcome,
)
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Judgement, PreferencePair, Prompt
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import DpoError
from dpo_tui.generation.logprob import LogprobScorer
from dpo_tui.generation.models import default_model_path
from dpo_tui.services.evaluating import EvalProgress, evaluate, select_pairs
from dpo_tui.services.exporting import export_dataset
from dpo_tui.store.evaluations import eval_runs
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA

ANSWERS = {
    "How do I reset my password?": "Open Settings, choose Security, then click Reset password.",
    "What is the capital of France?": "The capital of France is Paris.",
    "How many days are in a week?": "A week has seven days, from Monday to Sunday.",
    "How do I boil an egg?": "Put the egg in boiling water for nine minutes, then cool it.",
    "What color is the sky on a clear day?": "On a clear day the sky is blue.",
    "Can I change my shipping address?": "Yes, on the order page, until the parcel has shipped.",
}


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def build(path: Path) -> Path:
    """A project whose pairs are an answer (chosen) against its words shuffled (rejected); the
    first two decided on safety (clarity equal), the others on clarity."""
    rng = random.Random(3)
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        for index, (question, answer) in enumerate(ANSWERS.items()):
            prompt = Prompt(id=prompt_id(question), text=question, source="s")
            store.add_prompts([prompt])
            words = answer.split()
            rng.shuffle(words)
            texts = (answer, " ".join(words))
            store.add_candidates(
                [
                    Candidate(
                        id=candidate_id(prompt.id, t), prompt_id=prompt.id, text=t, origin="t"
                    )
                    for t in texts
                ]
            )
            chosen, rejected = store.candidates(prompt.id)
            safety_decides = index < 2
            store.set_score(chosen.id, "alice", "clarity", 4 if safety_decides else 5)
            store.set_score(rejected.id, "alice", "clarity", 4 if safety_decides else 1)
            store.set_score(chosen.id, "alice", "safety", 3)
            store.set_score(rejected.id, "alice", "safety", 2 if safety_decides else 3)
            store.save_judgement(
                Judgement(prompt_id=prompt.id, annotator="alice", diagnosis="reads well")
            )
    return path


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """The project with one round exported, half of its prompts held out."""
    path = build(tmp_path / "e.dpo")
    with ProjectStore.open(path) as store:
        export_dataset(store, "trl", tmp_path / "r1", val_fraction=0.5, seed=0)
    return path


# -- statistics (no model) -------------------------------------------------------------------


def test_outcome_counts_a_tie_as_half():
    assert (outcome(-1.0, -2.0), outcome(-2.0, -2.0), outcome(-3.0, -2.0)) == (1.0, 0.5, 0.0)


def test_bootstrap_ci_contains_the_estimate_and_is_deterministic_for_a_seed():
    rng = random.Random(0)
    for size in (1, 7, 40, 300):
        values = [rng.choice((0.0, 0.5, 1.0)) for _ in range(size)]
        low, high = bootstrap_ci(values, seed=5)
        assert low <= sum(values) / size <= high
        assert bootstrap_ci(values, seed=5) == (low, high)
    margins = [rng.gauss(0, 1) for _ in range(50)]
    assert bootstrap_ci(margins, seed=1) != bootstrap_ci(margins, seed=2)
    assert bootstrap_ci([1.0] * 9) == (1.0, 1.0)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_figures_and_a_model_that_is_its_own_reference():
    items = [PairLogprobs(-5.0, -9.0, -1.0, -0.9, 0.0), PairLogprobs(-8.0, -6.0, -2.0, -3.0, 0.0)]
    result = figures(items)
    assert (result.pairs, result.accuracy, result.mean_accuracy) == (2, 0.5, 0.5)
    assert result.mean_margin == pytest.approx(1.0)
    # every log-ratio margin is 0: every pair ties, reward accuracy 0.5 exactly
    assert (result.reward_accuracy, result.reward_ci_low, result.reward_ci_high) == (0.5,) * 3
    assert result.reward_margin == 0.0
    no_reference = figures([PairLogprobs(-1.0, -2.0, -1.0, -2.0)])
    assert no_reference.reward_accuracy is None and no_reference.reward_margin is None


def test_deciding_criterion_is_the_largest_rescaled_gap():
    rubric = load_rubric(DATA / "rubrics" / "good.toml").rubric

    def pair(chosen: dict[str, float], rejected: dict[str, float]) -> PreferencePair:
        return PreferencePair(
            prompt_id="p",
            prompt="q",
            chosen_id="a",
            rejected_id="b",
            chosen="a",
            rejected="b",
            diagnosis="",
            chosen_scores=chosen,
            rejected_scores=rejected,
            margin=0.2,
            annotators=("alice",),
            status="single",
        )

    # clarity 1..5 gains 2/4, safety 1..3 gains 1/2: a tie goes to the first in rubric order
    assert (
        deciding_criterion(pair({"clarity": 5, "safety": 3}, {"clarity": 3, "safety": 2}), rubric)
        == "clarity"
    )
    assert (
        deciding_criterion(pair({"clarity": 4, "safety": 3}, {"clarity": 3, "safety": 1}), rubric)
        == "safety"
    )
    assert deciding_criterion(pair({"clarity": 3}, {"clarity": 3}), rubric) == NO_CRITERION


# -- which pairs (no model) ------------------------------------------------------------------


def test_the_split_is_the_one_the_round_exported(exported: Path, tmp_path: Path):
    with ProjectStore.open(exported) as store:
        selection = select_pairs(store)
        train = select_pairs(store, "train")
        everything = select_pairs(store, "all", 1)
    assert selection.round is not None and selection.round.number == 1
    written = [json.loads(line) for line in (tmp_path / "r1" / "validation.jsonl").open()]
    assert [(p.prompt, p.chosen, p.rejected) for p in selection.pairs] == [
        (r["prompt"], r["chosen"], r["rejected"]) for r in written
    ]
    assert 0 < len(selection.pairs) < len(ANSWERS)
    assert len(selection.pairs) + len(train.pairs) == len(everything.pairs) == len(ANSWERS)
    assert selection.missing == 0


def test_selection_errors(tmp_path: Path):
    path = build(tmp_path / "n.dpo")
    with ProjectStore.open(path) as store:
        with pytest.raises(DpoError, match="export a round first"):
            select_pairs(store)
        assert len(select_pairs(store, "all").pairs) == len(ANSWERS)
        export_dataset(store, "trl", tmp_path / "r1", val_fraction=0.0)
        with pytest.raises(DpoError, match="round 1 has no validation pairs"):
            select_pairs(store)
        with pytest.raises(DpoError, match="no round 7: the project has rounds 1 to 1"):
            select_pairs(store, "train", 7)


def test_cli_errors_before_any_model_runs(tmp_path: Path):
    path = build(tmp_path / "c.dpo")
    result = run("eval", path)
    assert result.exit_code == 1 and "export a round first" in result.output
    result = run("eval", path, "--split", "all", "--model", tmp_path / "missing.gguf")
    assert result.exit_code == 1 and "model file not found" in result.output
    result = run("eval", path, "--model", "a.gguf", "--compare", "a.gguf", "b.gguf")
    assert result.exit_code == 2 and "not both" in result.output


# -- with the real bundled model -----------------------------------------------------------


@pytest.mark.slow
def test_eval_stores_results_that_rounds_shows(exported: Path):
    result = run("eval", exported)
    assert result.exit_code == 0, result.output
    assert "accuracy (summed log-prob)" in result.output
    assert "by deciding criterion" in result.output
    with ProjectStore.open(exported) as store:
        [stored] = eval_runs(store)
    assert stored.round_number == 1 and stored.split == "validation"
    assert stored.model_name == "gemma-3-270m-q4_k_m" and stored.reference_sha256 is None
    # the bundled model prefers an answer to its shuffled words
    assert stored.accuracy >= 0.75
    assert stored.ci_low <= stored.accuracy <= stored.ci_high
    assert stored.details["responses_computed"] == 2 * stored.pairs
    shown = run("rounds", exported).output
    assert "evaluations" in shown and f"{100 * stored.accuracy:.1f}%" in shown
    [round_] = json.loads(run("rounds", exported, "--json").output)
    assert [e["model_name"] for e in round_["evals"]] == ["gemma-3-270m-q4_k_m"]
    assert round_["evals"][0]["accuracy"] == stored.accuracy


@pytest.mark.slow
def test_an_interrupted_evaluation_resumes_and_a_repeat_computes_nothing(
    exported: Path, monkeypatch: pytest.MonkeyPatch
):
    calls = []
    score = LogprobScorer.score
    monkeypatch.setattr(LogprobScorer, "score", lambda self, *a: calls.append(a) or score(self, *a))

    def stop_after_one_prompt(state: EvalProgress) -> None:
        if state.done_pairs:
            raise KeyboardInterrupt

    with ProjectStore.open(exported) as store:
        selection = select_pairs(store, "all")
        with pytest.raises(KeyboardInterrupt):
            evaluate(store, selection, on_progress=stop_after_one_prompt)
        assert len(calls) == 1
        first = evaluate(store, selection)
        assert first.model.progress.computed == 2 * (len(ANSWERS) - 1)
        assert len(calls) == len(ANSWERS)
        again = evaluate(store, selection)
    assert len(calls) == len(ANSWERS)  # nothing scored the third time
    assert again.model.progress.computed == 0
    assert again.model.progress.cached == 2 * len(ANSWERS)
    assert again.items == first.items
    assert set(first.by_criterion) == {"clarity", "safety"}
    assert first.by_criterion["safety"].pairs == 2
    assert first.by_round == {1: first.overall}


@pytest.mark.slow
def test_a_reference_equal_to_the_model_ties_every_pair_and_compare(exported: Path):
    model = default_model_path()
    result = run("eval", exported, "--reference", model, "--json")
    assert result.exit_code == 0, result.output
    stored = json.loads(result.output[result.output.index("{") :])
    assert stored["reward_accuracy"] == 0.5
    assert (stored["reward_ci_low"], stored["reward_ci_high"]) == (0.5, 0.5)
    assert stored["details"]["overall"]["reward_margin"] == 0.0
    result = run("eval", exported, "--compare", model, model, "--reference", model, "--json")
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output[result.output.index("{") :])["comparison"]
    accuracy = compared["metrics"][0]
    assert accuracy["metric"] == "accuracy" and accuracy["difference"] == 0.0
    assert accuracy["ci_overlap"] is True
    assert compared["accuracy_difference_ci"] == [0.0, 0.0]
    table = run("eval", exported, "--compare", model, model)
    assert "accuracy" in table.output and "includes 0: no clear difference" in table.output
