"""The export and rounds commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import Fraction, json_option, min_margin_option, policy_option
from dpo_tui.cli.output import out, say
from dpo_tui.core.export.formats import RECORDS
from dpo_tui.core.models import PairPolicyName
from dpo_tui.core.safe_text import json_dumps, visible
from dpo_tui.services.exporting import export_dataset
from dpo_tui.store.evaluations import EvalRun, eval_runs
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import ExportRound
from dpo_tui.store.training import TrainingRun, training_runs


@cli.command()
@click.argument("project", type=PROJECT)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(RECORDS)),
    required=True,
    help="trl, openai, hf (Parquet + dataset card), jsonl/json/csv (the guide's columns), hh.",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder: new, or empty (created if needed; written whole or not at all).",
)
@click.option(
    "--val",
    default=0.2,
    show_default=True,
    type=Fraction(0, 1, max_open=True),
    help="Share of prompt clusters held out for validation.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Export a stratified round of this many pairs (earlier rounds' pairs first).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the split and rounds."
)
@policy_option
@min_margin_option
@click.option("--conversational", is_flag=True, help="trl/hf: prompts and responses as messages.")
@click.option("--new-only", is_flag=True, help="Only pairs that no earlier round exported.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace whatever --out holds (a folder with all its files, a file, or a link, "
    "never what it points to).",
)
@click.option(
    "--exclude-annotator",
    "excluded",
    multiple=True,
    metavar="NAME",
    help="Leave this annotator's judgements out before pairs are formed (an item others "
    "judged too is decided by them); repeatable; recorded in the manifest.",
)
@click.option(
    "--judge-pairs",
    is_flag=True,
    help="Add pairs from a judge model's scores on the prompts no human judged, if it agrees "
    "with the humans often enough (see report --judge); marked origin=judge.",
)
@click.option(
    "--judge",
    metavar="NAME",
    help="With --judge-pairs: whose pairs, where the project holds several judges.",
)
@click.option(
    "--judge-min-agreement",
    type=Fraction(0, 1),
    metavar="FLOAT",
    help="With --judge-pairs: the judge's least pair-direction agreement with the humans on "
    "50+ shared items (default: the humans' agreement with each other there).",
)
def export(
    project: Path,
    format_name: str,
    out: Path,
    val: float,
    limit: int | None,
    seed: int,
    policy: PairPolicyName | None,
    min_margin: float | None,
    conversational: bool,
    new_only: bool,
    force: bool,
    excluded: tuple[str, ...],
    judge_pairs: bool,
    judge: str | None,
    judge_min_agreement: float | None,
) -> None:
    """Export preference pairs with a train/validation split that never leaks a prompt.

    Each export is recorded as a round (see `dpo-tui rounds`) and writes manifest.json.
    Disputed pairs (annotators disagree) are left out. The folder is written whole, then
    renamed into place: an export that fails leaves --out as it was and records no round.
    With --judge-pairs, a judge model's pairs on prompts no human judged join the humans',
    split with them, only if the judge agrees with the humans as often as they do.
    """
    with ProjectStore.open(project) as store:
        entry = export_dataset(
            store,
            format_name,
            out,
            val_fraction=val,
            seed=seed,
            limit=limit,
            policy=policy,
            min_margin=min_margin,
            conversational=conversational,
            new_only=new_only,
            force=force,
            exclude_annotators=excluded,
            judge_pairs=judge_pairs,
            judge=judge,
            judge_min_agreement=judge_min_agreement,
        )
    say(
        f"Round {entry.number}: {entry.train_pairs} train + {entry.validation_pairs} validation "
        f"pairs ({entry.format}, policy {entry.policy}, margin {entry.min_margin}) in {out}"
    )
    if entry.disputed_excluded:
        say(f"{entry.disputed_excluded} disputed pairs left out (annotators disagree).")
    if excluded:
        say(f"Left out the judgements of {', '.join(sorted(set(excluded)))}.")
    if judge_pairs:
        say(
            f"{entry.judge_pairs} of the pairs come from a judge model (origin judge); "
            "manifest.json says which judge and how well it agrees with the humans."
        )
    for name in entry.files:
        say(f"  {name}")


@cli.command()
@click.argument("project", type=PROJECT)
@json_option
def rounds(project: Path, as_json: bool) -> None:
    """List the export rounds of a project: when, what, how many pairs, the latest
    evaluation of each model on each (`dpo-tui eval`) and the latest training decision of
    each (`dpo-tui train`)."""
    with ProjectStore.open(project, read_only=True) as store:
        entries = store.rounds()
        runs = eval_runs(store)
        trained = {run.round_number: run for run in training_runs(store) if run.decision}
    latest: dict[tuple[object, ...], EvalRun] = {}
    for run in runs:  # the latest per model as scored: its engine and template count
        scoring = (run.details.get("scorer"), run.details.get("template_sha256"))
        which = (run.round_number, run.model_sha256, run.reference_sha256, run.split)
        latest[(*which, *scoring)] = run
    if as_json:
        click.echo(
            json_dumps(
                [
                    e.model_dump(exclude={"pair_keys"})
                    | {
                        "evals": [
                            r.model_dump() for r in latest.values() if r.round_number == e.number
                        ],
                        "training": trained[e.number].model_dump() if e.number in trained else None,
                    }
                    for e in entries
                ]
            )
        )
        return
    if not entries:
        say("No export rounds yet: run `dpo-tui export`.")
        return
    table = Table(title=f"export rounds of {visible(str(project))}", title_justify="left")
    for column in (
        "round",
        "when",
        "rubric",
        "format",
        "policy",
        "limit",
        "train",
        "validation",
        "folder",
    ):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.number),
            e.created_at[:19].replace("T", " "),
            f"v{e.rubric_version}",
            e.format,
            e.policy,
            str(e.limit_pairs or "all"),
            str(e.train_pairs),
            str(e.validation_pairs),
            Text(visible(e.out_dir)),
        )
    out.print(table)
    if latest:
        out.print(
            _evals_table(sorted(latest.values(), key=lambda r: (r.round_number or 0, r.id or 0)))
        )
    if trained:
        out.print(_training_table(entries, trained))


def _training_table(entries: list[ExportRound], trained: dict[int, TrainingRun]) -> Table:
    """The latest training decision of each round (`dpo-tui train`), with the round's rubric
    version."""
    table = Table(
        title="training decisions (dpo-tui train), latest per round", title_justify="left"
    )
    for column in ("round", "rubric", "run", "base", "method", "decision"):
        table.add_column(column, overflow="fold")
    for e in entries:
        if e.number not in trained:
            continue
        run = trained[e.number]
        table.add_row(
            str(e.number),
            f"v{e.rubric_version}",
            f"{run.id} ({run.started_at[:16].replace('T', ' ')})",
            Text(visible(Path(run.base_model).name)),
            str(run.settings.get("method", "")),
            Text(visible(str((run.decision or {}).get("text", "")))),
        )
    return table


def _evals_table(runs: list[EvalRun]) -> Table:
    """The latest evaluation of each model (split, reference, scorer, template) on each round
    (`dpo-tui eval`)."""
    table = Table(title="evaluations (dpo-tui eval), latest per model", title_justify="left")
    for column in ("round", "model", "split", "pairs", "accuracy", "95% CI", "per-token", "reward"):
        table.add_column(column, overflow="fold")
    for run in runs:
        model, reward = run.model_name, "-"
        if run.reward_accuracy is not None:
            model += f" (reference {run.reference_name})"
            reward = (
                f"{100 * run.reward_accuracy:.1f}% [{100 * (run.reward_ci_low or 0):.1f}, "
                f"{100 * (run.reward_ci_high or 0):.1f}]"
            )
        table.add_row(
            "-" if run.round_number is None else str(run.round_number),
            Text(visible(model)),
            run.split,
            str(run.pairs),
            f"{100 * run.accuracy:.1f}%",
            f"[{100 * run.ci_low:.1f}, {100 * run.ci_high:.1f}]",
            f"{100 * run.mean_accuracy:.1f}%",
            reward,
        )
    return table
