"""The adjudicate command: the adjudication app."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli


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
