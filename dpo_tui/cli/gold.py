"""Gold items: `gold add` and `gold list`."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import encoding_option, json_option, record_format_option
from dpo_tui.cli.output import say
from dpo_tui.core.safe_text import json_dumps
from dpo_tui.services.gold import add_gold
from dpo_tui.store.project import ProjectStore


@cli.group()
def gold() -> None:
    """Gold items: the lead's reference pairs that annotators are measured against."""


@gold.command("add")
@click.argument("project", type=PROJECT)
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL, JSON, CSV or TSV: prompt or prompt_id, chosen/chosen_id, "
    "rejected/rejected_id, explanation, optional reference scores.",
)
@record_format_option
@encoding_option
def gold_add(project: Path, source: Path, format_name: str | None, encoding: str) -> None:
    """Add gold items to the lead's project, all or nothing: each a prompt of the project, the
    expected chosen and rejected candidates, why, and optionally reference scores. They stay
    in this project: `assign --gold N` puts the items (never the reference) in every
    annotator's file, and `report --annotators` measures each annotator against them."""
    with ProjectStore.open(project) as store:
        added = add_gold(store, source, format_name, encoding)
        held = len(store.gold())
    say(f"Added {added} gold items from {source} ({held} in the project).")


@gold.command("list")
@click.argument("project", type=PROJECT)
@json_option
def gold_list(project: Path, as_json: bool) -> None:
    """List the project's gold items: prompt, expected pair, explanation."""
    with ProjectStore.open(project, read_only=True) as store:
        items = list(store.gold().values())
    if as_json:
        click.echo(
            json_dumps(
                [
                    {
                        "prompt_id": g.prompt_id,
                        "chosen_id": g.chosen_id,
                        "rejected_id": g.rejected_id,
                        "scores": {cid: dict(v) for cid, v in g.scores.items()},
                        "explanation": g.explanation,
                    }
                    for g in items
                ]
            )
        )
        return
    if not items:
        say("No gold items yet: add them with `dpo-tui gold add PROJECT --from FILE`.")
    for g in items:
        say(f"{g.prompt_id}: {g.chosen_id} over {g.rejected_id}: {g.explanation}")


@gold.command("practice")
@click.argument("project", type=PROJECT)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The practice file to write (new).",
)
@click.option("--annotator", required=True, help="Who will practise (the file's annotator).")
@click.option("--items", type=click.IntRange(min=1), help="Only the first N gold items.")
def gold_practice(project: Path, out: Path, annotator: str, items: int | None) -> None:
    """Write a practice file for onboarding: the project's gold items, their candidates and
    their references. The newcomer runs `dpo-tui annotate FILE --practice`: after each item
    they finish, the reference pair, its explanation and how their scores compare are shown,
    and the result is recorded in the file (`report FILE --annotators` reads it)."""
    from dpo_tui.services.practising import practice_file

    with ProjectStore.open(project, read_only=True) as store:
        count = practice_file(store, out, annotator, items)
    say(f"{out}: {count} gold items for {annotator}; run `dpo-tui annotate {out} --practice`.")
