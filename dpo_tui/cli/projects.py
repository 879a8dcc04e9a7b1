"""Project files: init, status, rubric, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.importing import print_imports
from dpo_tui.cli.options import json_option, repack_option
from dpo_tui.cli.output import err, out, say
from dpo_tui.cli.progress import generation_progress
from dpo_tui.config import RepackSetting
from dpo_tui.core.rubric import load_rubric
from dpo_tui.core.safe_text import json_dumps, visible
from dpo_tui.errors import DpoError
from dpo_tui.paths import bundled_rubrics
from dpo_tui.services.generating import open_backend
from dpo_tui.services.projects import demo_project, init_project
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import ProjectStatus


@cli.command()
@click.argument("project", type=PROJECT)
@click.option(
    "--rubric",
    "-r",
    required=True,
    help="Rubric TOML file, or the name of a bundled rubric (see `dpo-tui rubric list`).",
)
@click.option("--annotator", "-a", required=True, help="Who annotates in this project file.")
def init(project: Path, rubric: str, annotator: str) -> None:
    """Create a new project file (one SQLite file per annotator) with a rubric."""
    with init_project(project, rubric, annotator) as store:
        meta = store.meta
        say(
            f"Created {project} for annotator {meta.annotator!r} "
            f"with rubric {store.rubric.name!r} ({meta.rubric_sha256[:12]})."
        )
        say(f"Next: dpo-tui import {project} PROMPTS_FILE")


@cli.command()
@click.argument("project", type=PROJECT)
@json_option
def status(project: Path, as_json: bool) -> None:
    """Show what a project holds: prompts, candidates, annotations, imports."""
    with ProjectStore.open(project, read_only=True) as store:
        summary = store.status()
    if as_json:
        click.echo(json_dumps(summary.model_dump()))
    else:
        _print_status(summary)


def _print_status(summary: ProjectStatus) -> None:
    table = Table(
        title=f"dpo-tui project {visible(summary.path)}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("annotator", summary.annotator),
        (
            "rubric",
            f"{summary.rubric_name}, version {summary.rubric_version} "
            f"(sha256 {summary.rubric_sha256[:12]})",
        ),
        ("prompts", f"{summary.prompts} ({summary.conversational_prompts} conversational)"),
        (
            "candidates",
            f"{summary.candidates} for {summary.prompts_with_candidates} prompts "
            f"({summary.near_duplicate_candidates} near-duplicates)",
        ),
        ("annotated", f"{summary.judged_prompts} prompts, {summary.scores} scores"),
        *(
            [("judge models", f"{summary.judge_scores} scores (see `report --judge`)")]
            if summary.judge_scores
            else []
        ),
        ("schema", f"version {summary.schema_version}"),
    ]
    for key, value in rows:
        table.add_row(key, Text(visible(value)))
    out.print(table)
    if summary.imports:
        imports = Table(title="imports", title_justify="left")
        for column in ("when", "kind", "file", "format", "added", "duplicates"):
            imports.add_column(column)
        for record in summary.imports:
            imports.add_row(
                record.imported_at[:19].replace("T", " "),
                record.kind,
                Text(visible(Path(record.path).name)),
                record.format,
                str(record.added),
                str(record.skipped_duplicates),
            )
        out.print(imports)


@cli.group()
def rubric() -> None:
    """Check and list rubric files."""


@rubric.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def rubric_check(files: tuple[Path, ...]) -> None:
    """Validate rubric TOML files; prints one line per file, exits 1 if any is invalid."""
    failed = 0
    for path in files:
        try:
            loaded = load_rubric(path)
        except DpoError as exc:
            failed += 1
            say("invalid: ", str(exc), console=err, style="bold red")
            continue
        keys = ", ".join(c.key for c in loaded.rubric.criteria)
        say(f"ok: {path}: {loaded.rubric.name!r} ({keys})")
    if failed:
        raise click.exceptions.Exit(1)


@rubric.command("list")
def rubric_list() -> None:
    """List the bundled rubrics, usable by name with `init --rubric NAME`."""
    for name, path in bundled_rubrics().items():
        loaded = load_rubric(path)
        say(f"{name:20} {loaded.rubric.rubric.domain}: {loaded.rubric.name}")


@cli.command()
@click.argument("project", type=PROJECT, default=Path("demo.dpo"))
@click.option(
    "--generate",
    "generate_count",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Prompts to generate candidates for, live, with the bundled model (0: none).",
)
@click.option(
    "--annotate/--no-annotate",
    default=True,
    show_default=True,
    help="Open the annotator at the end (only in an interactive terminal).",
)
@repack_option
def demo(project: Path, generate_count: int, annotate: bool, repack: RepackSetting | None) -> None:
    """The whole loop on the bundled sample data: a project with the sample prompts and
    hand-written candidates, real generation for a few prompts with the bundled model, its
    status, then the annotator."""
    from dpo_tui.services.generating import generate_candidates

    store, results = demo_project(project)
    with store:
        print_imports(results)
        pending = [p.id for p, _ in store.prompts_with_fewer_candidates(1)][:generate_count]
        if pending:
            say(f"Generating 4 candidates for {len(pending)} prompts with the bundled model ...")
            with open_backend(repack=repack) as engine, generation_progress() as (_, update):
                generate_candidates(
                    store, engine, 4, max_tokens=128, prompt_ids=pending, on_progress=update
                )
        _print_status(store.status())
    if annotate and sys.stdin.isatty() and sys.stdout.isatty():
        from dpo_tui.tui.app import make_app

        app = make_app(project, repack=repack)
        try:
            app.run()
        finally:
            app.session.store.close()
    else:
        say(f"Next: dpo-tui annotate {project}   (then: dpo-tui report {project})")
