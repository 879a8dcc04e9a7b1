"""The train command: DPO on a round's train split, then the decision from its held-out pairs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import MODEL, Fraction, template_option
from dpo_tui.cli.output import err, say
from dpo_tui.cli.progress import evaluation_progress, training_progress
from dpo_tui.core.training import GGUF_TYPES, TrainSettings
from dpo_tui.store.project import ProjectStore

if TYPE_CHECKING:
    from dpo_tui.core.training import Device, GgufType
    from dpo_tui.services.training import TrainResult


@cli.command("train")
@click.argument("project", type=PROJECT)
@click.option(
    "--round", "round_number", type=click.IntRange(min=1), help="Round (default: latest)."
)
@click.option(
    "--base",
    type=MODEL,
    metavar="FOLDER|FILE.gguf",
    help="Base model: a Hugging Face model folder or a GGUF file (default, or `bundled`: the "
    "bundled model).",
)
@click.option(
    "--epochs",
    default=1.0,
    show_default=True,
    type=Fraction(min=0.01, max=1000),
    help="Passes over the train pairs (a fraction stops part-way).",
)
@click.option(
    "--beta",
    default=0.1,
    show_default=True,
    type=Fraction(min=0.0, min_open=True, max=100),
    help="DPO's beta: how far the model may move from the base.",
)
@click.option(
    "--lr",
    type=Fraction(min=0.0, min_open=True, max=1.0),
    help="Learning rate (default: 5e-5 with LoRA, 5e-6 with --full).",
)
@click.option(
    "--batch-size",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pairs per training step.",
)
@click.option("--full", is_flag=True, help="Full fine-tuning instead of LoRA.")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: a GPU when torch sees one, else the CPU.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: runs/round<N>-<time> beside the project). A rerun with the "
    "same folder resumes from its last checkpoint.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the data order and LoRA."
)
@click.option(
    "--max-length",
    default=1024,
    show_default=True,
    type=click.IntRange(min=16),
    help="Most tokens of a prompt and a response together.",
)
@click.option(
    "--save-every",
    default=25,
    show_default=True,
    type=click.IntRange(min=1),
    help="Save a resumable checkpoint every N steps.",
)
@click.option(
    "--gguf",
    "gguf",
    type=click.Choice([*GGUF_TYPES, "none"]),
    default="q8_0",
    show_default=True,
    help="Also write the trained model as OUT/model-<type>.gguf for llama.cpp (when the base is "
    "a GGUF file, or a folder with the GGUF train wrote beside it): Q8_0 or float16 matrices, "
    "or none.",
)
@template_option("The Jinja2 chat template the candidates were generated with, if not the model's.")
def train_command(
    project: Path,
    round_number: int | None,
    base: Path | None,
    epochs: float,
    beta: float,
    lr: float | None,
    batch_size: int,
    full: bool,
    device: Device,
    out: Path | None,
    seed: int,
    max_length: int,
    save_every: int,
    gguf: GgufType | Literal["none"],
    template: Path | None,
) -> None:
    """Train a model with DPO on a round's train split, then decide: scale or revise.

    TRL's DPOTrainer on exactly the pairs `export` put in the round's train split, in the
    template used for generation and scoring; LoRA by default. The output folder holds the
    checkpoints, the adapter and the merged model (OUT/model, a Hugging Face checkpoint that
    `dpo-tui eval --model` reads) and, when the base is a GGUF file (or an earlier round's
    model with its GGUF), the trained model as a GGUF file for llama.cpp. Ctrl-C saves a
    checkpoint; rerun with the same --out to resume. Then the base and the trained model are
    evaluated on the round's held-out pairs and the decision is printed: a clear gain (scale to
    the next round), no measurable gain (revise the rubric first) or a loss. The run is
    recorded in the project (`dpo-tui rounds`).
    """
    from dpo_tui.services.training import default_out, train_round

    settings = TrainSettings(
        epochs=epochs,
        beta=beta,
        learning_rate=lr,
        batch_size=batch_size,
        full=full,
        device=device,
        seed=seed,
        max_length=max_length,
        save_steps=save_every,
    )
    with ProjectStore.open(project) as store:
        if out is None:
            rounds = store.rounds()
            number = round_number or (rounds[-1].number if rounds else 1)
            out = default_out(project, number)
        with training_progress(err) as update, evaluation_progress(err, False) as scored:
            try:
                result = train_round(
                    store,
                    round_number,
                    out,
                    base=base,
                    settings=settings,
                    on_progress=update,
                    on_eval_progress=scored,
                    on_stage=lambda text: say(text, console=err),
                    template=template.read_text(encoding="utf-8") if template else None,
                    gguf=None if gguf == "none" else gguf,
                )
            except KeyboardInterrupt:
                say(
                    f"Stopped at once. Rerun with --out {out} and the same options to resume "
                    "from the last checkpoint saved, if any (or to finish the evaluation).",
                    console=err,
                )
                sys.exit(130)
    _print_result(result, project)
    if result.outcome.status == "interrupted":
        sys.exit(130)


def _print_result(result: TrainResult, project: Path) -> None:
    run, outcome = result.run, result.outcome
    where = f" (resumed from {Path(outcome.resumed_from).name})" if outcome.resumed_from else ""
    if outcome.status == "interrupted":
        say(
            f"Stopped at step {outcome.step} of {outcome.total_steps}; checkpoint saved: "
            f"{outcome.checkpoint}. To resume: dpo-tui train {project} --round "
            f"{run.round_number} --out {run.out_dir} (with the same options).",
            console=err,
        )
        return
    metrics = run.metrics or {}
    loss = metrics.get("loss")
    accuracy = metrics.get("rewards/accuracies")
    say(
        f"Trained {outcome.step} step{'' if outcome.step == 1 else 's'} on {run.pairs} pairs "
        f"in {outcome.seconds:.0f} s{where}"
        + ("" if loss is None else f", last loss {loss:.4f}")
        + ("" if accuracy is None else f", reward accuracy {100 * accuracy:.0f}%")
        + f". Model: {outcome.model_dir} (recorded as training run {run.id})."
    )
    if result.gguf is not None:
        say(f"For llama.cpp (`generate --model`, `eval --model`): {result.gguf.path}.")
    elif result.gguf_note is not None:
        say(f"No GGUF written: {result.gguf_note}.")
    if result.decision is None:
        say("No decision: the round has no validation pairs to measure the model on.")
        return
    comparison = result.comparison
    assert comparison is not None and result.base_eval and result.trained_eval
    base, trained = result.base_eval.overall, result.trained_eval.overall
    say(
        f"Held-out accuracy: base {100 * base.accuracy:.1f}% "
        f"[{100 * base.ci_low:.1f}, {100 * base.ci_high:.1f}], trained "
        f"{100 * trained.accuracy:.1f}% [{100 * trained.ci_low:.1f}, {100 * trained.ci_high:.1f}]"
        + (
            ""
            if trained.reward_accuracy is None
            else f"; reward accuracy {100 * trained.reward_accuracy:.1f}%"
        )
    )
    say("Decision: ", result.decision.text, style="bold")
