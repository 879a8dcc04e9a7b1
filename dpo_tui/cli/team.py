"""Team files: assign, pack."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import Fraction, order_option
from dpo_tui.cli.output import say
from dpo_tui.core.judge_order import ItemOrder
from dpo_tui.store.project import ProjectStore


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--annotators", required=True, help="Comma-separated names, e.g. alice,bob,carol.")
@click.option(
    "--overlap",
    default=0.2,
    show_default=True,
    type=Fraction(0, 1),
    help="Share of prompts given to two annotators (for agreement).",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the per-annotator files.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the split (and of --order random).",
)
@click.option(
    "--gold",
    "gold_items",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Put this many of the project's gold items in every annotator's file, at random "
    "places, without their reference (see `dpo-tui gold add`).",
)
@order_option(
    "The order of each file's prompts (what a plain `annotate` walks): the project's; "
    "random (by --seed, each file its own); or uncertain, the items a judge model is least "
    "sure about first (needs its scores: `dpo-tui judge` first)."
)
@click.option(
    "--judge",
    help="With --order uncertain and several judges in the project: the judge whose scores "
    "order the items (judge:<model>@<hash>).",
)
@click.option(
    "--with-judge",
    is_flag=True,
    help="Copy the judges' scores, reasons, samples and verdicts of each file's prompts into "
    "it (so that `annotate --order uncertain` works there); never shown to the annotator. "
    "Without it, an annotator's file holds nothing of a judge's.",
)
def assign(
    project: Path,
    annotators: str,
    overlap: float,
    out: Path,
    seed: int,
    gold_items: int,
    item_order: ItemOrder,
    judge: str | None,
    with_judge: bool,
) -> None:
    """Split a project into one file per annotator, with an overlapping share for agreement
    (and, with --gold, the same gold items in every file, indistinguishable from the rest;
    with --order, each file's prompts in that order)."""
    from dpo_tui.services.team import assign as assign_files

    if judge is not None and item_order != "uncertain":
        raise click.UsageError("--judge chooses the judge of --order uncertain; give both")
    names = [name.strip() for name in annotators.split(",") if name.strip()]
    with ProjectStore.open(project, read_only=True) as store:
        result = assign_files(
            store,
            names,
            overlap,
            out,
            seed,
            gold=gold_items,
            order=item_order,
            judge=judge,
            with_judge=with_judge,
        )
    for name, path in result.files.items():
        copied = f", with {result.judge_rows[name]} judge rows" if with_judge else ""
        say(f"{path}: {result.items[name]} prompts for {name}{copied}")
    if result.gold:
        say(f"  each with the same {result.gold} gold items among them")
    if result.order == "uncertain":
        say(f"  each in the order {result.judge} is least sure of first")
    elif result.order == "random":
        say(f"  each in an order of its own, shuffled with seed {seed}")
    for (a, b), count in result.shared.items():
        say(f"  {a} and {b} share {count} prompts")
    say(
        "Send each annotator their file; they run `dpo-tui annotate FILE`, "
        "then `dpo-tui pack FILE` and send back the packed file."
    )


@cli.command()
@click.argument("project", type=PROJECT)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Packed file (default: NAME.packed.dpo beside it).",
)
def pack(project: Path, out: Path | None) -> None:
    """Write one self-contained, integrity-checked copy of a project file to send by email."""
    from dpo_tui.services.team import pack as pack_file

    packed = pack_file(project, out)
    say(
        f"{packed.path}: annotator {packed.annotator}, {packed.done} items done, "
        f"{packed.judged} judged, {packed.scores} scores, rubric {packed.rubric_sha256[:12]}"
    )
