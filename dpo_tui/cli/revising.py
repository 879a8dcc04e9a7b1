"""Rubric revisions: `rubric revise` and `rubric history`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from dpo_tui.cli import PROJECT
from dpo_tui.cli.options import json_option
from dpo_tui.cli.output import say
from dpo_tui.cli.projects import rubric
from dpo_tui.core.revision import RESCALE_RULES, CriterionChange, RescaleRule
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.core.safe_text import json_dumps
from dpo_tui.services.revising import RevisionImpact, parse_mapping, revise_rubric
from dpo_tui.store.project import ProjectStore


@rubric.command("revise")
@click.argument("project", type=PROJECT)
@click.argument("new_rubric", metavar="RUBRIC")
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="OLD=NEW",
    help="Count the scores of criterion OLD as scores of NEW (a renamed criterion); repeatable.",
)
@click.option(
    "--rescale",
    type=click.Choice(RESCALE_RULES),
    default="stale",
    show_default=True,
    help="For a criterion whose scale changed: stale (its old scores need scoring again) or "
    "linear (mapped onto the new scale).",
)
@click.option("--note", default="", help="Why this revision: kept in the rubric's history.")
@click.option("--dry-run", is_flag=True, help="Show what the revision would change; write nothing.")
@json_option
def rubric_revise(
    project: Path,
    new_rubric: str,
    mappings: tuple[str, ...],
    rescale: RescaleRule,
    note: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Make RUBRIC (a file, or a bundled rubric's name) the project's current rubric version,
    keeping every earlier version and every score. Prints what it changes: per criterion,
    the pairs kept, flipped, lost and new, the items each annotator must score again, and the
    export rounds whose pairs would differ. With --dry-run, nothing is written."""
    loaded = load_rubric(resolve_rubric(new_rubric))
    mapping = parse_mapping(mappings)
    with ProjectStore.open(project, read_only=dry_run) as store:
        impact = revise_rubric(store, loaded, mapping, rescale, note, dry_run=dry_run)
    if as_json:
        click.echo(json_dumps(impact_json(impact)))
        return
    for line in impact_lines(impact, str(project)):
        say(line)


def impact_lines(impact: RevisionImpact, project: str) -> list[str]:
    """The revision's impact in words, one line each."""
    head = f"rubric of {project}: version {impact.from_version} -> {impact.to_version}"
    lines = [head + (" (dry run: nothing written)" if impact.entry is None else "")]
    lines.append("criteria:")
    lines += [f"  {change.describe()}" for change in impact.step.changes]
    if impact.step.other:
        lines.append("changes that need no new scores (pairs recomputed):")
        lines += [f"  {item}" for item in impact.step.other]
    p = impact.pairs
    lines.append(
        f"pairs: {p.before} before, {p.after} after: {p.kept} kept, {p.flipped} flipped, "
        f"{p.lost} lost, {p.new} new"
    )
    counts = ", ".join(
        f"{c.key} {'-' if c.before is None else c.before} -> {'-' if c.after is None else c.after}"
        for c in impact.criteria
    )
    lines.append(f"scores that count, per criterion: {counts}")
    if impact.rescore:
        who = ", ".join(f"{name} {count}" for name, count in sorted(impact.rescore.items()))
        lines.append(
            f"items to score again: {who} (`dpo-tui annotate PROJECT --filter needs-rescore`)"
        )
    else:
        lines.append("items to score again: none")
    if impact.rounds_changed:
        rounds = ", ".join(str(n) for n in impact.rounds_changed)
        lines.append(f"export rounds whose pairs would differ: {rounds}")
    return lines


def impact_json(impact: RevisionImpact) -> dict[str, Any]:
    """The impact as plain JSON values."""
    return {
        "from_version": impact.from_version,
        "to_version": impact.to_version,
        "dry_run": impact.entry is None,
        "criteria": [_change_json(c) for c in impact.step.changes],
        "other_changes": list(impact.step.other),
        "pairs": dataclasses.asdict(impact.pairs),
        "scores_counting": [dataclasses.asdict(c) for c in impact.criteria],
        "rescore": impact.rescore,
        "rounds_changed": impact.rounds_changed,
    }


def _change_json(change: CriterionChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "key": change.key,
        "source": change.source,
        "rescale": change.rule,
        "needs_scores": change.needs_scores,
    }


@rubric.command("history")
@click.argument("project", type=PROJECT)
@json_option
def rubric_history(project: Path, as_json: bool) -> None:
    """Every rubric version of the project: when, by whom, why, and what changed."""
    with ProjectStore.open(project, read_only=True) as store:
        versions = store.rubric_versions()
        lineage = store.lineage
    if as_json:
        click.echo(json_dumps([v.model_dump() for v in versions]))
        return
    for version in versions:
        name = lineage.rubric(version.number).name
        say(
            f"version {version.number}: {name!r}, {version.created_at[:19].replace('T', ' ')} "
            f"by {version.author}, sha256 {version.sha256[:12]}"
        )
        if version.note:
            say(f"  note: {version.note}")
        if version.number > 1:
            step = lineage.steps[version.number - 2]
            for change in step.changes:
                if change.kind != "kept":
                    say(f"  {change.describe()}")
            for item in step.other:
                say(f"  {item}")
