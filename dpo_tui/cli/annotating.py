"""The annotate command: the annotator app."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import model_option, repack_option
from dpo_tui.config import RepackSetting


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
