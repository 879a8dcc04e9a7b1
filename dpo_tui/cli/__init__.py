"""The command line: one module per user verb (or a few related ones), named like the
`dpo_tui.services` module it calls; each parses, calls the service and prints. `main` is the
console script."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui import __version__
from dpo_tui.cli.output import DpoGroup


@click.group(cls=DpoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dpo-tui")
def cli() -> None:
    """Build high-quality DPO preference datasets offline, from the terminal."""


PROJECT = click.Path(dir_okay=False, path_type=Path)


# Registers the commands on `cli` (each module imports `cli` from here).
from dpo_tui.cli import (  # noqa: E402, F401
    adjudicating,
    annotating,
    doctor,
    evaluating,
    exporting,
    generating,
    gold,
    importing,
    judging,
    merging,
    projects,
    reporting,
    revising,
    team,
    training,
)


def main() -> None:
    cli(prog_name="dpo-tui")
