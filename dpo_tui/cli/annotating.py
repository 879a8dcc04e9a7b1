"""The annotate command: the annotator app."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import model_option, order_option, repack_option
from dpo_tui.config import RepackSetting
from dpo_tui.core.judge_order import ItemOrder
from dpo_tui.services.annotating import FILTERS, ItemFilter


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--annotator", "-a", help="Annotate as this person (default: the file's annotator).")
@click.option(
    "--keymap",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file with a [keymap] table (default: ~/.config/dpo-tui/config.toml).",
)
@model_option("GGUF model for regenerating a candidate (r); default: the bundled one.")
@repack_option
@click.option(
    "--filter",
    "item_filter",
    type=click.Choice(FILTERS),
    default="all",
    show_default=True,
    help="Which items n / p move through (v cycles in the app); needs-rescore: what a rubric "
    "revision asks to score again.",
)
@click.option(
    "--practice",
    is_flag=True,
    help="Practise on the file's gold items: once you finish one, its reference is shown and "
    "the result recorded (make the file with `dpo-tui gold practice`).",
)
@order_option(
    "The order n / p walk the items in: the file's; random (shuffled by --seed); or "
    "uncertain, the items a judge model is least sure about first (needs its scores in the "
    "file: `dpo-tui judge`, or `assign --with-judge`). Its scores are not shown (see "
    "--suggest)."
)
@click.option(
    "--suggest",
    is_flag=True,
    help="Show a judge model's scores of each candidate on its sliders, and its reasons "
    "(J takes them for the focused candidate); each judgement saved records that they were "
    "shown. Needs its scores in the file: `dpo-tui judge`, or `assign --with-judge`.",
)
@click.option(
    "--judge",
    help="With several judges in the file: the judge whose scores order the items (--order "
    "uncertain) or are shown (--suggest) (judge:<model>@<hash>).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of --order random (the same seed, the same order).",
)
def annotate(
    project: Path,
    annotator: str | None,
    keymap: Path | None,
    model: Path | None,
    repack: RepackSetting | None,
    item_filter: ItemFilter,
    practice: bool,
    item_order: ItemOrder,
    suggest: bool,
    judge: str | None,
    seed: int,
) -> None:
    """Open the annotator app on the first unfinished prompt of a project (with --filter, on
    the first item the filter shows); with --order, walking the items in that order; with
    --suggest, showing a judge's scores."""
    if judge is not None and item_order != "uncertain" and not suggest:
        raise click.UsageError(
            "--judge chooses the judge of --order uncertain or of --suggest; give one of them"
        )
    if suggest and practice:
        raise click.UsageError("--suggest shows a judge's scores; practice is without them")
    from dpo_tui.tui.app import make_app  # imported here: the other commands never load Textual

    app = make_app(
        project,
        annotator,
        keymap,
        model=model,
        repack=repack,
        item_filter=item_filter,
        practice=practice,
        order=item_order,
        judge=judge,
        seed=seed,
        suggest=suggest,
    )
    try:
        app.run()
    finally:
        app.session.store.close()
