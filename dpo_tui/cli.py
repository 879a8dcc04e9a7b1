"""The command line: parses arguments, calls `dpo_tui.operations`, prints results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dpo_tui import __version__
from dpo_tui.core.export.formats import RECORDS
from dpo_tui.core.importers import FORMATS
from dpo_tui.core.importers.base import DEFAULT_MAX_CHARS, ImportOptions
from dpo_tui.core.rubric import load_rubric
from dpo_tui.core.safe_text import json_dumps, visible
from dpo_tui.errors import DpoError
from dpo_tui.operations import (
    ImportResult,
    demo_project,
    export_dataset,
    import_candidates,
    import_prompts,
    init_project,
)
from dpo_tui.paths import bundled_rubrics
from dpo_tui.store.project import ProjectStatus, ProjectStore

# markup=False: user text is printed literally, never as Rich markup; every dynamic value also
# goes through `visible` (via `say`) so escape sequences in it cannot reach the terminal.
out = Console(markup=False, highlight=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True)


def say(*parts: str, console: Console = out, style: str = "") -> None:
    """Print `parts` with control characters made visible; the first part takes `style`."""
    text = Text()
    for index, part in enumerate(parts):
        text.append(visible(part), style=style if index == 0 else "")
    console.print(text)


class DpoGroup(click.Group):
    """A click group that turns a `DpoError` into a clear message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DpoError as exc:
            say("error: ", str(exc), console=err, style="bold red")
            sys.exit(1)


@click.group(cls=DpoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dpo-tui")
def cli() -> None:
    """Build high-quality DPO preference datasets offline, from the terminal."""


PROJECT = click.Path(dir_okay=False, path_type=Path)


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


@cli.command("import")
@click.argument("project", type=PROJECT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--field", "-f", help="Field or column holding the prompt (default: detected).")
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(FORMATS)),
    help="Input format (default: from the file suffix).",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the files.")
@click.option(
    "--max-chars",
    default=DEFAULT_MAX_CHARS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse a prompt longer than this many characters.",
)
@click.option(
    "--text-mode",
    type=click.Choice(["auto", "lines", "blocks"]),
    default="auto",
    show_default=True,
    help="For text files: one prompt per line, or blank-line separated blocks.",
)
def import_(
    project: Path,
    files: tuple[Path, ...],
    field: str | None,
    format_name: str | None,
    encoding: str,
    max_chars: int,
    text_mode: str,
) -> None:
    """Import prompts (JSONL, JSON, CSV/TSV, text, Parquet) into a project, all or nothing.

    Exact duplicates (after case and whitespace normalization) are skipped and counted;
    importing the same file twice adds nothing.
    """
    options = ImportOptions(
        field=field,
        max_chars=max_chars,
        encoding=encoding,
        text_mode=text_mode,  # type: ignore[arg-type]
    )
    with ProjectStore.open(project) as store:
        results = import_prompts(store, list(files), options, format_name)
        total = store.status().prompts
    _print_imports(results)
    say(f"{project} now holds {total} prompts.")


@cli.command("import-candidates")
@click.argument("project", type=PROJECT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "format_name",
    type=click.Choice(["jsonl", "json", "csv", "tsv", "parquet"]),
    help="Input format (default: from the file suffix).",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the file.")
def import_candidates_(project: Path, file: Path, format_name: str | None, encoding: str) -> None:
    """Import candidate responses made elsewhere, all or nothing.

    Each record names its prompt (`prompt` text, `messages` or `prompt_id`; matched to the
    project's prompts by content hash) and holds `response` or `responses`, with an
    optional `model`.
    """
    with ProjectStore.open(project) as store:
        result = import_candidates(store, file, format_name, encoding)
        total = store.status().candidates
    say(
        f"{file}: added {result.added} candidates, skipped {result.skipped} already stored, "
        f"{result.near_duplicates} flagged as near-duplicates of another candidate"
    )
    say(f"{project} now holds {total} candidates.")


def _print_imports(results: list[ImportResult]) -> None:
    for result in results:
        say(
            f"{result.path} ({result.format}): read {result.read}, added {result.added}, "
            f"skipped {result.skipped_duplicates} duplicates"
        )


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(project: Path, as_json: bool) -> None:
    """Show what a project holds: prompts, candidates, annotations, imports."""
    with ProjectStore.open(project) as store:
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
        ("rubric", f"{summary.rubric_name} (sha256 {summary.rubric_sha256[:12]})"),
        ("prompts", f"{summary.prompts} ({summary.conversational_prompts} conversational)"),
        (
            "candidates",
            f"{summary.candidates} for {summary.prompts_with_candidates} prompts "
            f"({summary.near_duplicate_candidates} near-duplicates)",
        ),
        ("annotated", f"{summary.judged_prompts} prompts, {summary.scores} scores"),
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


@cli.command()
@click.argument("project", type=PROJECT)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(RECORDS)),
    required=True,
    help="trl, openai, hf (Parquet + dataset card), jsonl/json/csv (the guide's columns), hh.",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (created if needed).",
)
@click.option(
    "--val",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of prompt clusters held out for validation.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Export a stratified round of this many pairs (earlier rounds' pairs first).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the split and rounds."
)
@click.option(
    "--policy",
    type=click.Choice(["best-worst", "all-pairs", "best-vs-rest"]),
    help="Pair policy (default: the rubric's).",
)
@click.option(
    "--min-margin", type=click.FloatRange(0, 1), help="Minimum margin (default: rubric's)."
)
@click.option("--conversational", is_flag=True, help="trl/hf: prompts and responses as messages.")
@click.option("--new-only", is_flag=True, help="Only pairs that no earlier round exported.")
def export(
    project: Path,
    format_name: str,
    out: Path,
    val: float,
    limit: int | None,
    seed: int,
    policy: str | None,
    min_margin: float | None,
    conversational: bool,
    new_only: bool,
) -> None:
    """Export preference pairs with a train/validation split that never leaks a prompt.

    Each export is recorded as a round (see `dpo-tui rounds`) and writes manifest.json.
    Disputed pairs (annotators disagree) are left out.
    """
    with ProjectStore.open(project) as store:
        entry = export_dataset(
            store,
            format_name,
            out,
            val_fraction=val,
            seed=seed,
            limit=limit,
            policy=policy,
            min_margin=min_margin,  # type: ignore[arg-type]
            conversational=conversational,
            new_only=new_only,
        )
    say(
        f"Round {entry.number}: {entry.train_pairs} train + {entry.validation_pairs} validation "
        f"pairs ({entry.format}, policy {entry.policy}, margin {entry.min_margin}) in {out}"
    )
    if entry.disputed_excluded:
        say(f"{entry.disputed_excluded} disputed pairs left out (annotators disagree).")
    for name in entry.files:
        say(f"  {name}")


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--policy",
    type=click.Choice(["best-worst", "all-pairs", "best-vs-rest"]),
    help="Pair policy (default: the rubric's).",
)
@click.option(
    "--min-margin", type=click.FloatRange(0, 1), help="Minimum margin (default: rubric's)."
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as one self-contained HTML file with charts.",
)
def report(
    project: Path,
    as_json: bool,
    policy: str | None,
    min_margin: float | None,
    html_path: Path | None,
) -> None:
    """Quality report: counts, duplicates, score and margin distributions, length and position
    bias, winning decoding presets, annotator load, and warnings in plain words."""
    from dpo_tui.report import project_report
    from dpo_tui.report_terminal import render

    with ProjectStore.open(project) as store:
        result = project_report(store, policy, min_margin)  # type: ignore[arg-type]
        rubric_name = store.rubric.rubric.name
    if as_json:
        click.echo(json_dumps(result.model_dump()))
    else:
        for part in render(result, str(project)):
            out.print(part, soft_wrap=False)
    if html_path is not None:
        from dpo_tui.report_html import render_html

        try:
            html_path.write_text(render_html(result, str(project), rubric_name), "utf-8")
        except OSError as exc:
            raise DpoError(f"cannot write {html_path}: {exc.strerror or exc}") from exc
        # With --json, stdout stays pure JSON.
        say(f"HTML report written to {html_path}", console=err if as_json else out)


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def rounds(project: Path, as_json: bool) -> None:
    """List the export rounds of a project: when, what, how many pairs."""
    with ProjectStore.open(project) as store:
        entries = store.rounds()
    if as_json:
        click.echo(json_dumps([e.model_dump(exclude={"pair_keys"}) for e in entries]))
        return
    if not entries:
        say("No export rounds yet: run `dpo-tui export`.")
        return
    table = Table(title=f"export rounds of {visible(str(project))}", title_justify="left")
    for column in ("round", "when", "format", "policy", "limit", "train", "validation", "folder"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.number),
            e.created_at[:19].replace("T", " "),
            e.format,
            e.policy,
            str(e.limit_pairs or "all"),
            str(e.train_pairs),
            str(e.validation_pairs),
            Text(visible(e.out_dir)),
        )
    out.print(table)


@cli.command()
@click.argument("project", type=PROJECT)
@click.option("--annotators", required=True, help="Comma-separated names, e.g. alice,bob,carol.")
@click.option(
    "--overlap",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
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
def assign(project: Path, annotators: str, overlap: float, out: Path, seed: int) -> None:
    """Split a project into one file per annotator, with an overlapping share for agreement."""
    from dpo_tui.team import assign as assign_files

    names = [name.strip() for name in annotators.split(",") if name.strip()]
    with ProjectStore.open(project) as store:
        result = assign_files(store, names, overlap, out, seed)
    for name, path in result.files.items():
        say(f"{path}: {result.items[name]} prompts for {name}")
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
    from dpo_tui.team import pack as pack_file

    packed = pack_file(project, out)
    say(
        f"{packed.path}: annotator {packed.annotator}, {packed.done} items done, "
        f"{packed.judged} judged, {packed.scores} scores, rubric {packed.rubric_sha256[:12]}"
    )


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
    from dpo_tui.merge import merge_files

    with ProjectStore.open(project) as store:
        summaries = merge_files(store, list(files), allow_rubric_change, max_size * 1024**2)
    for summary in summaries:
        names = ", ".join(sorted(summary.annotators)) or "no annotations"
        say(
            f"{summary.path} ({names}): +{summary.prompts_added} prompts, "
            f"+{summary.candidates_added} candidates, +{summary.scores_added} scores "
            f"({summary.scores_updated} updated), +{summary.judgements_added} judgements "
            f"({summary.judgements_updated} updated)"
        )
        for line in summary.warnings:
            say("  warning: ", line, style="yellow")
        for line in summary.conflicts[:20]:
            say("  conflict: ", line, style="yellow")
        if len(summary.conflicts) > 20:
            say(f"  ... and {len(summary.conflicts) - 20} more conflicts")


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
@click.argument("project", type=PROJECT)
@click.option("--annotator", "-a", help="Annotate as this person (default: the file's annotator).")
@click.option(
    "--keymap",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file with a [keymap] table (default: ~/.config/dpo-tui/config.toml).",
)
def annotate(project: Path, annotator: str | None, keymap: Path | None) -> None:
    """Open the annotator app on the first unfinished prompt of a project."""
    from dpo_tui.tui.app import make_app  # imported here: the other commands never load Textual

    app = make_app(project, annotator, keymap)
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


@cli.command()
@click.argument("project", type=PROJECT, default=Path("demo.dpo"))
def demo(project: Path) -> None:
    """Make a demo project from the bundled sample prompts and show its status."""
    store, results = demo_project(project)
    with store:
        _print_imports(results)
        _print_status(store.status())
    say(f"Try: dpo-tui status {project} --json")


def main() -> None:
    cli(prog_name="dpo-tui")
