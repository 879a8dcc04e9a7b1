"""`train` end to end on a tiny model built in the test (tests/tiny_model.py) and a real
exported round: a real TRL DPOTrainer run with LoRA, checkpoints, an interruption and its
resume, the merged model read by the transformers scorer, the run recorded, the decision
printed and shown by `rounds`; full fine-tuning; the message without the extras."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpo_tui.core.models import Message
from dpo_tui.core.training import TrainSettings
from dpo_tui.errors import DpoError
from dpo_tui.generation.hf_scorer import HFScorer
from dpo_tui.generation.logprob import LogprobScorer
from dpo_tui.generation.training import TrainProgress, training_records
from dpo_tui.services.evaluating import select_pairs
from dpo_tui.services.training import (
    LOCK_FILE,
    MANIFEST,
    RUN_FILE,
    records_sha256,
    train_round,
)
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.training import training_runs
from tests.services.test_evaluating import ANSWERS, exported, run  # noqa: F401 (a fixture)
from tests.tiny_model import tiny_checkpoint

pytest.importorskip("trl")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("base") / "tiny-base"
    return tiny_checkpoint(folder, [f"{q} {a}" for q, a in ANSWERS.items()])


def test_records_are_the_train_split_in_the_scoring_template(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
):
    with ProjectStore.open(exported) as store:
        train = select_pairs(store, "train", 1)
    records = training_records(base, train.pairs)
    assert len(records) == len(train.pairs) == 2
    with HFScorer(base) as scorer:
        for pair, record in zip(train.pairs, records, strict=True):
            messages = pair.messages or ()
            assert record["prompt"].endswith("Answer:") and not record["prompt"].startswith("<bos>")
            assert record["chosen"] == " " + pair.chosen.strip()
            # the tokens TRL trains on are the tokens the scorer scores
            prompt, [chosen, rejected] = scorer.encode(
                messages or _user(pair.prompt), [pair.chosen, pair.rejected]
            )
            assert scorer.tokenize(record["prompt"]) == prompt
            assert scorer.tokenize(record["prompt"] + record["chosen"]) == prompt + chosen
            assert scorer.tokenize(record["prompt"] + record["rejected"]) == prompt + rejected
    assert records_sha256(records) == records_sha256(list(records))
    custom = "{% for m in messages %}Q: {{ m['content'] }}\n{% endfor %}A:"
    [first, _] = training_records(base, train.pairs, custom)
    assert first["prompt"] == f"Q: {train.pairs[0].prompt}\nA:"
    with HFScorer(base, prompt_template=custom) as scorer:
        pair = train.pairs[0]
        prompt, [chosen, _] = scorer.encode(_user(pair.prompt), [pair.chosen, pair.rejected])
        assert scorer.tokenize(first["prompt"] + first["chosen"]) == prompt + chosen


def _user(text: str) -> tuple[Message, ...]:
    return (Message(role="user", content=text),)


def test_train_interrupt_resume_record_and_decide(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
):
    out = tmp_path / "run"
    settings = TrainSettings(epochs=2, batch_size=1, save_steps=2, learning_rate=5e-3, seed=1)
    seen: list[int] = []

    def stop_at_3(progress: TrainProgress) -> None:
        seen.append(progress.step)
        if progress.step == 3:
            raise KeyboardInterrupt

    with ProjectStore.open(exported) as store:
        first = train_round(store, 1, out, base=base, settings=settings, on_progress=stop_at_3)
    assert first.outcome.status == "interrupted" and first.decision is None
    assert seen == [1, 2, 3] and first.outcome.total_steps == 4
    assert first.outcome.checkpoint is not None
    assert Path(first.outcome.checkpoint).name == "checkpoint-3"
    assert (out / "checkpoint-2").is_dir() and not (out / "model").exists()

    with ProjectStore.open(exported) as store:
        second = train_round(store, 1, out, base=base, settings=settings)
    assert second.resumed and second.outcome.status == "finished"
    assert second.outcome.resumed_from is not None
    assert Path(second.outcome.resumed_from).name == "checkpoint-3"
    assert (second.outcome.step, second.outcome.total_steps) == (4, 4)
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "checkpoint-4").is_dir()  # the last step is saved: a rerun resumes there
    model = out / "model"
    assert (model / "config.json").is_file() and list(model.glob("*.safetensors"))
    with HFScorer(model) as scorer:
        assert scorer.model_name == "run/model"
        [chosen] = scorer.score(_user("How do I boil an egg?"), [ANSWERS["How do I boil an egg?"]])
    assert chosen.tokens > 0 and chosen.logprob < 0

    assert second.decision is not None and second.comparison is not None
    assert second.decision.pairs == 4
    assert second.decision.verdict in ("gain", "no measurable gain", "loss")
    assert (
        second.trained_eval is not None and second.trained_eval.overall.reward_accuracy is not None
    )
    with ProjectStore.open(exported) as store:
        interrupted, finished = training_runs(store)
    assert interrupted.status == "interrupted" and interrupted.decision is None
    assert finished.status == "finished" and finished.id != interrupted.id
    assert finished.round_number == 1 and finished.rubric_version == 1 and finished.pairs == 2
    assert finished.base_sha256 == interrupted.base_sha256 and len(finished.base_sha256) == 64
    assert finished.data_sha256 == interrupted.data_sha256
    assert finished.settings["beta"] == 0.1 and finished.settings["method"] == "lora"
    assert finished.settings["learning_rate"] == 5e-3 and finished.seed == 1
    assert set(finished.versions) == {"torch", "transformers", "trl", "peft"}
    assert all(finished.versions.values()) and finished.device == "cpu"
    assert finished.metrics is not None and "rewards/accuracies" in finished.metrics
    assert finished.finished_at and finished.seconds is not None and finished.seconds > 0
    assert finished.decision is not None
    assert finished.decision["text"] == second.decision.text
    assert finished.details is not None
    assert Path(finished.details["resumed_from"]).name == "checkpoint-3"
    stored = json.loads((out / RUN_FILE).read_text())
    assert stored["id"] == finished.id
    assert "no GGUF of it beside it" in stored["details"]["gguf"]["note"]  # a bare folder

    # a finished run is not trained again, and another run's options cannot resume there
    with ProjectStore.open(exported) as store, pytest.raises(DpoError) as refused:
        train_round(store, 1, out, base=base, settings=settings)
    assert f"holds a finished run (training run {finished.id}): " in refused.value.message
    assert second.decision.text in refused.value.message and refused.value.hint
    with ProjectStore.open(exported) as store:
        assert len(training_runs(store)) == 2
    with ProjectStore.open(exported) as store, pytest.raises(Exception, match="another settings"):
        other = settings.model_copy(update={"beta": 0.5})
        assert (out / MANIFEST).is_file()
        train_round(store, 1, out, base=base, settings=other)


def test_train_command_prints_the_decision_and_rounds_shows_it(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
):
    result = run(
        "train",
        exported,
        "--round",
        "1",
        "--base",
        base,
        "--out",
        tmp_path / "o",
        "--epochs",
        "1",
        "--lr",
        "0.005",
        "--batch-size",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "Decision: " in result.output and "held-out pairs" in result.output
    assert (tmp_path / "o" / "model" / "config.json").is_file()
    shown = run("rounds", exported)
    assert shown.exit_code == 0, shown.output
    assert "training decisions" in shown.output and "v1" in shown.output
    as_json = run("rounds", exported, "--json")
    [entry] = json.loads(as_json.output)
    assert entry["training"]["decision"]["verdict"] in ("gain", "no measurable gain", "loss")
    assert entry["training"]["rubric_version"] == 1
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}Q: {{ m['content'] }}\n{% endfor %}A:")
    full = run(
        "train",
        "--template",
        template,
        exported,
        "--base",
        base,
        "--out",
        tmp_path / "full",
        "--full",
        "--epochs",
        "1",
        "--device",
        "cpu",
    )
    assert full.exit_code == 0, full.output
    assert not (tmp_path / "full" / "adapter").exists()
    assert (tmp_path / "full" / "model" / "config.json").is_file()
    with ProjectStore.open(exported) as store:
        lora, whole = training_runs(store)
    assert (lora.settings["method"], whole.settings["method"]) == ("lora", "full")
    assert whole.details is not None and whole.details["template_sha256"]
    # the model keeps the template it was trained in, so `eval` needs no --template for it
    with HFScorer(tmp_path / "full" / "model") as scorer:
        assert scorer.template.render(_user("Hi?")) == "Q: Hi?\nA:"
    evaluated = run("eval", exported, "--model", tmp_path / "full" / "model")
    assert evaluated.exit_code == 0, evaluated.output


def test_the_command_stopped_says_how_to_resume_and_a_rerun_resumes(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    from dpo_tui.cli.progress import Bars

    show = Bars.show

    def interrupt(self: Bars, key: object, label: str, done: int, *args: object) -> None:
        show(self, key, label, done, *args)
        if key == "train" and done == 1:
            raise KeyboardInterrupt  # as Ctrl-C while the bar is drawn

    monkeypatch.setattr(Bars, "show", interrupt)
    command = ("train", exported, "--base", base, "--out", tmp_path / "o", "--batch-size", "1")
    stopped = run(*command)
    assert stopped.exit_code == 130, stopped.output
    assert "Stopped at step 1 of 2; checkpoint saved" in stopped.output
    assert "To resume: dpo-tui train" in stopped.output and "--out" in stopped.output
    monkeypatch.setattr(Bars, "show", show)
    resumed = run(*command)
    assert resumed.exit_code == 0, resumed.output
    assert "(resumed from checkpoint-1)" in resumed.output and "Decision: " in resumed.output
    with ProjectStore.open(exported) as store:
        assert [r.status for r in training_runs(store)] == ["interrupted", "finished"]


def test_train_refuses_without_extras_or_train_pairs(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    no_rounds = tmp_path / "none.dpo"
    from tests.services.test_evaluating import build

    build(no_rounds)
    refused = run("train", no_rounds, "--base", base, "--out", tmp_path / "x")
    assert refused.exit_code == 1 and "nothing to train on" in refused.output
    monkeypatch.setitem(sys.modules, "trl", None)  # as without the extras
    missing = run("train", exported, "--base", base, "--out", tmp_path / "y")
    assert missing.exit_code == 1 and "train needs the package trl" in missing.output
    assert "pip install -e '.[train]'" in missing.output and "--scorer" not in missing.output
    assert "download.pytorch.org/whl/cpu" in missing.output
    with ProjectStore.open(exported) as store:
        assert training_runs(store) == []


def test_an_output_folder_with_damaged_settings_is_refused_with_what_to_do(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
):
    out = tmp_path / "damaged"
    out.mkdir()
    (out / MANIFEST).write_text("{not json", encoding="utf-8")
    refused = run("train", exported, "--base", base, "--out", out)
    assert refused.exit_code == 1 and "cannot read this run's settings" in refused.output
    assert "Traceback" not in refused.output and "new --out folder" in refused.output


def test_a_run_killed_is_closed_by_the_next_and_two_never_share_a_folder(
    exported: Path,  # noqa: F811 (the fixture)
    base: Path,
    tmp_path: Path,
):
    """A `train` killed (SIGKILL) once its run is recorded stays `running` until the next run
    into its folder marks it `stopped`; a run while another holds the folder is refused."""
    import filelock

    out = tmp_path / "o"
    command = [sys.executable, "-m", "dpo_tui", "train", str(exported), "--base", str(base)]
    command += ["--out", str(out), "--epochs", "2", "--batch-size", "1", "--save-every", "1"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            with ProjectStore.open(exported) as store:
                if training_runs(store):
                    break
            time.sleep(0.2)
    finally:
        child.kill()
        child.wait()
    with ProjectStore.open(exported) as store:
        [killed] = training_runs(store)
    assert killed.status == "running"

    held = "another `dpo-tui train` is running into this"
    with (
        filelock.FileLock(out / LOCK_FILE),
        ProjectStore.open(exported) as store,
        pytest.raises(DpoError, match=held),
    ):
        train_round(
            store, 1, out, base=base, settings=TrainSettings(epochs=2, batch_size=1, save_steps=1)
        )
    resumed = run(*command[3:])
    assert resumed.exit_code == 0, resumed.output
    with ProjectStore.open(exported) as store:
        lost, finished = training_runs(store)
    assert lost.id == killed.id and lost.status == "stopped"
    assert lost.details is not None and "killed or crashed" in lost.details["stopped"]
    assert finished.status == "finished"


@pytest.mark.slow
def test_train_on_the_bundled_model_converts_it_once_and_decides(
    exported: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
):
    from dpo_tui.generation.models import default_model_path, model_sha256
    from dpo_tui.generation.training import converted_folder

    gguf = default_model_path()
    result = run("train", exported, "--round", "1", "--out", tmp_path / "o", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "Trained 1 step on 2 pairs" in result.output and "Decision: " in result.output
    cached = converted_folder(gguf, model_sha256(gguf))
    assert (cached / "config.json").is_file() and (cached / "tokenizer.json").is_file()
    with ProjectStore.open(exported) as store:
        [trained] = training_runs(store)
    assert trained.base_model == str(gguf) and trained.base_sha256 == model_sha256(gguf)
    assert trained.decision is not None and trained.details is not None
    assert trained.details["base_folder"] == str(cached)
    assert trained.details["gguf"]["path"] == str(tmp_path / "o" / "model-q8_0.gguf")
    question = _user("How do I boil an egg?")
    responses = [ANSWERS["How do I boil an egg?"], "Boil it."]
    with HFScorer(tmp_path / "o" / "model") as scorer:
        assert scorer.template.source == "default"
        theirs = scorer.score(question, responses)
    # the GGUF written for llama.cpp scores as transformers scores the checkpoint (Q8_0 and
    # llama.cpp's arithmetic: 0.024 nats a token measured at most on sample pairs)
    with LogprobScorer(model_path=tmp_path / "o" / "model-q8_0.gguf") as llama:
        ours = llama.score(question, responses)
    for a, b in zip(ours, theirs, strict=True):
        assert a.tokens == b.tokens and abs(a.mean - b.mean) < 0.06
