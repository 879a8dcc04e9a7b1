"""The eval command: a model's preference accuracy on a round's held-out pairs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import (
    MODEL,
    gpu_layers_option,
    json_option,
    repack_option,
    template_option,
    threads_option,
)
from dpo_tui.cli.output import err, out, say
from dpo_tui.cli.progress import evaluation_progress
from dpo_tui.config import RepackSetting
from dpo_tui.core.safe_text import json_dumps, visible
from dpo_tui.store.project import ProjectStore

if TYPE_CHECKING:  # dpo_tui.services.evaluating loads llama.cpp: only when the command runs
    from dpo_tui.core.evaluation import Figures
    from dpo_tui.generation.scorers import ScorerName
    from dpo_tui.services.evaluating import Comparison, Evaluation, Selection, Split


@cli.command("eval")
@click.argument("project", type=PROJECT)
@click.option(
    "--model",
    type=MODEL,
    metavar="FILE.gguf|FOLDER",
    help="GGUF file or Hugging Face checkpoint folder to evaluate (default, or `bundled`: the "
    "bundled model).",
)
@click.option(
    "--compare",
    "pair_of_models",
    nargs=2,
    type=MODEL,
    metavar="A B",
    help="Evaluate two models (GGUF files, checkpoint folders, or `bundled`) on the same pairs "
    "and show them side by side.",
)
@click.option(
    "--reference",
    type=MODEL,
    help="Reference model (the one trained from): adds DPO's implicit reward accuracy.",
)
@click.option(
    "--scorer",
    type=click.Choice(["llama", "transformers"]),
    help="Engine computing the log-probabilities: llama (llama.cpp, GGUF files only) or "
    "transformers (needs the train extra). Default: llama, or transformers for all the models "
    "when one is a checkpoint folder.",
)
@click.option(
    "--round", "round_number", type=click.IntRange(min=1), help="Round (default: latest)."
)
@click.option(
    "--split",
    type=click.Choice(["validation", "train", "all"]),
    default="validation",
    show_default=True,
    help="Which of the round's pairs; `all` also works before any round.",
)
@template_option("The Jinja2 chat template the candidates were generated with, if not the model's.")
@threads_option
@click.option(
    "--ctx",
    default=8192,
    show_default=True,
    type=click.IntRange(min=256),
    help="Context shared by a prompt and the responses scored with it.",
)
@gpu_layers_option
@repack_option
@json_option
def eval_command(
    project: Path,
    model: Path | None,
    pair_of_models: tuple[Path, Path] | None,
    reference: Path | None,
    scorer: ScorerName | None,
    round_number: int | None,
    split: Split,
    template: Path | None,
    threads: int | None,
    ctx: int,
    n_gpu_layers: int,
    repack: RepackSetting | None,
    as_json: bool,
) -> None:
    """Measure whether a model prefers the chosen responses of a round's held-out pairs.

    For each pair, the summed (and per-token mean) log-probability of the chosen and of the
    rejected response given the prompt, in the generation template; reports preference
    accuracy with a bootstrap 95% interval, the mean margin, and with --reference the DPO
    implicit reward accuracy; per deciding criterion and per round. A model is a GGUF file
    (scored by llama.cpp) or a Hugging Face checkpoint folder (scored by transformers, with
    the same definitions; --scorer chooses). Results are stored in
    the project (`dpo-tui rounds` shows them); log-probabilities are reused, so an
    interrupted run continues where it stopped.
    """
    from dpo_tui.generation.scorers import choose_scorer
    from dpo_tui.services.evaluating import (
        ScorerOptions,
        compare,
        evaluate,
        model_file,
        select_pairs,
    )

    if model is not None and pair_of_models:
        raise click.UsageError("give --model or --compare, not both")
    paths = list(pair_of_models) if pair_of_models else [model]
    checked = [model_file(path) for path in [*paths, reference] if path is not None]
    options = ScorerOptions(
        scorer=choose_scorer(checked, scorer),
        n_ctx=ctx,
        threads=threads,
        n_gpu_layers=n_gpu_layers,
        repack=repack,
        template=template.read_text(encoding="utf-8") if template else None,
    )
    with ProjectStore.open(project) as store:
        selection = select_pairs(store, split, round_number)
        say(_describe(selection, options.scorer), console=err if as_json else out)
        results = []
        with evaluation_progress(err, as_json) as update:
            try:
                for path in paths:
                    results.append(
                        evaluate(
                            store,
                            selection,
                            path,
                            reference=reference,
                            options=options,
                            on_progress=update,
                        )
                    )
            except KeyboardInterrupt:
                say(
                    "Stopped. The log-probabilities computed so far are saved; run the same "
                    "command to continue.",
                    console=err,
                )
                sys.exit(130)
    if len(results) == 2:
        comparison = compare(results[0], results[1])
        if as_json:
            click.echo(
                json_dumps(
                    {
                        "a": results[0].run.model_dump(),
                        "b": results[1].run.model_dump(),
                        "comparison": comparison.model_dump(),
                    }
                )
            )
        else:
            _print_comparison(comparison)
        return
    [result] = results
    if as_json:
        click.echo(json_dumps(result.run.model_dump()))
    else:
        _print_evaluation(result)


def _describe(selection: Selection, scorer: ScorerName | None) -> str:
    where = (
        f"round {selection.round.number}, {selection.split} split"
        if selection.round
        else "every exportable pair (no round yet)"
    )
    text = f"Evaluating on {len(selection.pairs)} pairs: {where}."
    if selection.missing:
        text += f" {selection.missing} pairs of the round no longer exist (annotations changed)."
    if scorer == "transformers":
        text += " Scoring with transformers (loading a model can take a minute)."
    return text


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{100 * low:.1f}, {100 * high:.1f}]"


def _print_evaluation(result: Evaluation) -> None:
    run, overall = result.run, result.overall
    title = f"{run.model_name} ({run.model_sha256[:12]})"
    if run.reference_name:
        title += f", reference {run.reference_name} ({(run.reference_sha256 or '')[:12]})"
    table = Table(title=Text(visible(title)), title_justify="left")
    for column in ("", "value", "95% CI"):
        table.add_column(column)
    table.add_row("pairs", str(overall.pairs), "")
    table.add_row(
        "accuracy (summed log-prob)",
        _percent(overall.accuracy),
        _interval(overall.ci_low, overall.ci_high),
    )
    table.add_row(
        "accuracy (per-token mean)",
        _percent(overall.mean_accuracy),
        _interval(overall.mean_ci_low, overall.mean_ci_high),
    )
    table.add_row("mean margin (summed)", f"{overall.mean_margin:+.3f}", "")
    table.add_row("mean margin (per token)", f"{overall.mean_token_margin:+.4f}", "")
    if overall.reward_accuracy is not None:
        table.add_row(
            "reward accuracy (log-ratio)",
            _percent(overall.reward_accuracy),
            _interval(overall.reward_ci_low, overall.reward_ci_high),
        )
        table.add_row("reward margin (beta 1)", f"{overall.reward_margin:+.3f}", "")
    out.print(table)
    _print_groups("by deciding criterion", result.by_criterion)
    if len(result.by_round) > 1:
        _print_groups("by round that first exported the pair", result.by_round)
    progress = result.model.progress
    if progress.computed:
        done = (
            f"{progress.computed} responses scored ({progress.tokens} tokens at "
            f"{progress.tokens_per_second:.1f} tokens/s), {progress.cached} reused from the project"
        )
    else:
        done = f"All {progress.cached} responses' log-probabilities reused from the project"
    say(f"{done}; stored as evaluation {run.id}.")


def _print_groups(title: str, groups: dict[str, Figures] | dict[int, Figures]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("", "pairs", "accuracy", "95% CI", "per-token", "reward"):
        table.add_column(column)
    for name, figures in groups.items():
        table.add_row(
            Text(visible(str(name))),
            str(figures.pairs),
            _percent(figures.accuracy),
            _interval(figures.ci_low, figures.ci_high),
            _percent(figures.mean_accuracy),
            _percent(figures.reward_accuracy),
        )
    out.print(table)


def _print_comparison(comparison: Comparison) -> None:
    table = Table(
        title=Text(visible(f"{comparison.a} (A) vs {comparison.b} (B), {comparison.pairs} pairs")),
        title_justify="left",
    )
    for column in ("", "A", "95% CI", "B", "95% CI", "B - A", "CIs overlap"):
        table.add_column(column)
    for row in comparison.metrics:
        if row.metric == "mean margin":
            a, b, difference = (
                "-" if v is None else f"{v:+.3f}" for v in (row.a, row.b, row.difference)
            )
        else:
            a, b = _percent(row.a), _percent(row.b)
            difference = "-" if row.difference is None else f"{100 * row.difference:+.1f} pts"
        table.add_row(
            row.metric,
            a,
            _interval(*(row.a_ci or (None, None))),
            b,
            _interval(*(row.b_ci or (None, None))),
            difference,
            "-" if row.ci_overlap is None else "yes" if row.ci_overlap else "no",
        )
    out.print(table)
    low, high = comparison.accuracy_difference_ci
    say(
        f"Accuracy difference B - A, paired bootstrap 95% CI: "
        f"[{100 * low:+.1f}, {100 * high:+.1f}] points"
        + (" (excludes 0)" if low > 0 or high < 0 else " (includes 0: no clear difference)")
    )
