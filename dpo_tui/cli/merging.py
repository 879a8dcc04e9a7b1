"""The merge command."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.output import say
from dpo_tui.store.project import ProjectStore


@cli.command()
@click.argument("project", type=PROJECT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--allow-rubric-change",
    is_flag=True,
    help="Merge files made for another rubric (same criteria, edited wording).",
)
@click.option(
    "--max-size",
    default=2048,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse files larger than this many MiB.",
)
def merge(project: Path, files: tuple[Path, ...], allow_rubric_change: bool, max_size: int) -> None:
    """Merge annotators' project files into PROJECT, all or nothing.

    Received files are untrusted: each is opened read-only, checked (integrity, exact schema,
    every row validated) before anything is written. Merging again changes nothing; the order
    of files does not matter; conflicting edits are reported and the newest kept.
    """
    from dpo_tui.services.merging import merge_files

    with ProjectStore.open(project) as store:
        summaries = merge_files(store, list(files), allow_rubric_change, max_size * 1024**2)
    for summary in summaries:
        names = ", ".join(sorted(summary.annotators)) or "no annotations"
        say(
            f"{summary.path} ({names}): +{summary.prompts_added} prompts, "
            f"+{summary.candidates_added} candidates, +{summary.cards_added} score cards "
            f"({summary.cards_updated} updated), +{summary.judgements_added} judgements "
            f"({summary.judgements_updated} updated)"
        )
        for line in summary.warnings:
            say("  warning: ", line, style="yellow")
        for line in summary.conflicts[:20]:
            say("  conflict: ", line, style="yellow")
        if len(summary.conflicts) > 20:
            say(f"  ... and {len(summary.conflicts) - 20} more conflicts")
