"""Team files: assign, pack."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import Fraction
from dpo_tui.cli.output import say
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
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split.")
@click.option(
    "--gold",
    "gold_items",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Put this many of the project's gold items in every annotator's file, at random "
    "places, without their reference (see `dpo-tui gold add`).",
)
def assign(
    project: Path, annotators: str, overlap: float, out: Path, seed: int, gold_items: int
) -> None:
    """Split a project into one file per annotator, with an overlapping share for agreement
    (and, with --gold, the same gold items in every file, indistinguishable from the rest)."""
    from dpo_tui.services.team import assign as assign_files

    names = [name.strip() for name in annotators.split(",") if name.strip()]
    with ProjectStore.open(project, read_only=True) as store:
        result = assign_files(store, names, overlap, out, seed, gold=gold_items)
    for name, path in result.files.items():
        say(f"{path}: {result.items[name]} prompts for {name}")
    if result.gold:
        say(f"  each with the same {result.gold} gold items among them")
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
