"""Bringing data in and annotations out: import, import-candidates, import-annotations and
export-annotations."""

from __future__ import annotations

from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import encoding_option, record_format_option
from dpo_tui.cli.output import say
from dpo_tui.core.dedup import NEAR_DUPLICATE
from dpo_tui.core.importers import FORMATS
from dpo_tui.core.importers.base import DEFAULT_MAX_CHARS, ImportOptions, TextMode
from dpo_tui.services.importing import (
    ImportResult,
    export_annotations,
    import_annotations,
    import_candidates,
    import_prompts,
)
from dpo_tui.store.project import ProjectStore


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
    text_mode: TextMode,
) -> None:
    """Import prompts (JSONL, JSON, CSV/TSV, text, Parquet) into a project, all or nothing.

    Exact duplicates (after case and whitespace normalization) are skipped and counted;
    importing the same file twice adds nothing.
    """
    options = ImportOptions(
        field=field,
        max_chars=max_chars,
        encoding=encoding,
        text_mode=text_mode,
    )
    with ProjectStore.open(project) as store:
        results = import_prompts(store, list(files), options, format_name)
        total = store.status().prompts
        similar = len(store.near_duplicate_prompts())
    print_imports(results)
    say(f"{project} now holds {total} prompts.")
    if similar:
        say(
            f"Near-duplicate prompts (>= {NEAR_DUPLICATE:.0%} similar): {similar} "
            f"pair{'' if similar == 1 else 's'}; `dpo-tui report` lists them, and the export "
            "keeps each group in one split."
        )


@cli.command("import-candidates")
@click.argument("project", type=PROJECT)
@click.argument("file", type=click.Path(path_type=Path))
@record_format_option
@encoding_option
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


@cli.command("import-annotations")
@click.argument("project", type=PROJECT)
@click.argument("file", type=click.Path(path_type=Path))
@record_format_option
@encoding_option
def import_annotations_(project: Path, file: Path, format_name: str | None, encoding: str) -> None:
    """Import scores, diagnoses and flags made in a spreadsheet or another tool, all or nothing.

    One row per candidate and annotator: prompt (or prompt_id), response (or candidate_id),
    annotator, a column per rubric criterion, diagnosis, flags.
    """
    with ProjectStore.open(project) as store:
        result = import_annotations(store, file, format_name, encoding)
    say(
        f"{file}: {result.scores} scores ({result.scores_replaced} replaced), "
        f"{result.judgements} judgements ({result.diagnoses_replaced} diagnoses replaced an "
        f"earlier, different one); added {result.prompts_added} prompts and "
        f"{result.candidates_added} candidates"
    )


@cli.command("export-annotations")
@click.argument("project", type=PROJECT)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists (never the project file).")
def export_annotations_(project: Path, out: Path, force: bool) -> None:
    """Write every annotation as `import-annotations` reads it (CSV, or JSONL for .jsonl)."""
    with ProjectStore.open(project, read_only=True) as store:
        count = export_annotations(store, out, force=force)
    say(f"{out}: {count} rows")


def print_imports(results: list[ImportResult]) -> None:
    for result in results:
        say(
            f"{result.path} ({result.format}): read {result.read}, added {result.added}, "
            f"skipped {result.skipped_duplicates} duplicates"
        )
