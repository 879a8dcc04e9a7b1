"""The apps: annotate and adjudicate."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import repack_option
from dpo_tui.config import RepackSetting


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--annotator", "-a", help="Annotate as this person (default: the file's annotator).")
@click.option(
    "--keymap",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file with a [keymap] table (default: ~/.config/dpo-tui/config.toml).",
)
@click.option(
    "--model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="GGUF model for regenerating a candidate (r); default: the bundled one.",
)
@repack_option
def annotate(
    project: Path,
    annotator: str | None,
    keymap: Path | None,
    model: Path | None,
    repack: RepackSetting | None,
) -> None:
    """Open the annotator app on the first unfinished prompt of a project."""
    from dpo_tui.tui.app import make_app  # imported here: the other commands never load Textual

    app = make_app(project, annotator, keymap, model=model, repack=repack)
    try:
        app.run()
    finally:
        app.session.store.close()


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--resolver", "-r", help="Who adjudicates (default: the file's annotator).")
def adjudicate(project: Path, resolver: str | None) -> None:
    """Walk the disputed items of a merged project and record a resolution for each.

    Each annotator's scores and diagnosis are shown side by side; 1-9 accepts a proposed
    pair, x settles on no pair. `export` then uses the resolution.
    """
    from dpo_tui.tui.app import make_app

    app = make_app(project, resolver, adjudicate=True)
    try:
        app.run()
    finally:
        app.session.store.close()
