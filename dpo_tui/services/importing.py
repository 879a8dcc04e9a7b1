"""Bringing prompts, candidates and annotations in (and annotations out), all or nothing."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.core.importers import FORMATS, detect_format, read_prompts
from dpo_tui.core.importers.annotations import restore_text_cells, to_annotations
from dpo_tui.core.importers.base import ImportOptions, PromptFile
from dpo_tui.core.importers.candidates import to_candidates
from dpo_tui.core.models import Candidate, Judgement, Prompt
from dpo_tui.core.spreadsheet import neutralise_cells
from dpo_tui.errors import DpoError
from dpo_tui.paths import file_sha256
from dpo_tui.services.atomic import write_whole
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import CandidatesAdded, ImportRecord, now


@dataclass(frozen=True)
class ImportResult:
    """What one file added to a project."""

    path: Path
    format: str
    read: int
    added: int
    skipped_duplicates: int


def import_prompts(
    store: ProjectStore,
    files: list[Path],
    options: ImportOptions,
    format_name: str | None = None,
) -> list[ImportResult]:
    """Import prompt files all or nothing: every file is read and validated before any write."""
    parsed: list[tuple[Path, str, PromptFile, str]] = []
    for path in files:
        fmt = detect_format(path, format_name)
        parsed.append((path, fmt, read_prompts(path, fmt, options), file_sha256(path)))
    results = []
    with store.writing():
        for path, fmt, read, digest in parsed:
            record = ImportRecord(
                kind="prompts",
                path=str(path),
                sha256=digest,
                format=fmt,
                field=options.field,
                added=0,
                skipped_duplicates=0,
                imported_at=now(),
            )
            added, skipped = store.add_prompts(read.prompts, record, repeated=read.repeated)
            results.append(ImportResult(path, fmt, read.records, added, skipped))
        if any(result.added for result in results):
            store.near_duplicate_prompts()  # computed once here, read by report and export
    return results


def import_candidates(
    store: ProjectStore, path: Path, format_name: str | None = None, encoding: str = "utf-8"
) -> CandidatesAdded:
    """Import candidates made elsewhere, matched to the project's prompts; all or nothing."""
    fmt = detect_format(path, format_name)
    records = FORMATS[fmt](path, ImportOptions(encoding=encoding))
    unit = "row" if fmt == "parquet" else "line"
    candidates = to_candidates(path, records, store.prompt_ids(), unit=unit)
    record = ImportRecord(
        kind="candidates",
        path=str(path),
        sha256=file_sha256(path),
        format=fmt,
        field=None,
        added=0,
        skipped_duplicates=0,
        imported_at=now(),
    )
    return store.add_candidates(candidates, record)


@dataclass(frozen=True)
class AnnotationImport:
    """What importing a file of annotations did."""

    prompts_added: int
    candidates_added: int
    scores: int
    scores_replaced: int
    judgements: int
    diagnoses_replaced: int = 0
    """Judgements whose earlier, different, non-empty diagnosis the import replaced."""


def import_annotations(
    store: ProjectStore, path: Path, format_name: str | None = None, encoding: str = "utf-8"
) -> AnnotationImport:
    """Import scores, diagnoses and flags made elsewhere, validated against the rubric; all or
    nothing. Prompts and responses given as text that the project lacks are added. Text cells
    of CSV/TSV files that CSV output neutralised are read back as the original text."""
    fmt = detect_format(path, format_name)
    known = store.candidate_prompt_ids()
    records = FORMATS[fmt](path, ImportOptions(encoding=encoding))
    rows = to_annotations(
        path,
        restore_text_cells(records) if fmt in ("csv", "tsv") else records,
        store.rubric,
        store.prompt_ids(),
        known,
        unit="row" if fmt == "parquet" else "line",
    )
    with store.writing():
        prompts_added = store.add_prompts(
            [Prompt(id=pid, text=text, source=path.name) for pid, text in rows.prompts.items()]
        )[0]
        candidates_added = store.add_candidates(
            [
                Candidate(id=cid, prompt_id=pid, text=text, origin=f"imported:{path.name}")
                for cid, (pid, text) in rows.candidates.items()
            ]
        ).added
        cards: dict[tuple[str, str], dict[str, int | None]] = {}
        for cid, annotator, criterion, value in rows.scores:
            cards.setdefault((cid, annotator), {})[criterion] = value
        replaced = 0
        for (cid, annotator), values in cards.items():
            before = store.set_scores(cid, annotator, values)
            replaced += sum(key in before and before[key] != values[key] for key in values)
        diagnoses_replaced = 0
        for (pid, annotator), (diagnosis, flags) in rows.judgements.items():
            judgement = store.judgement(pid, annotator) or Judgement(
                prompt_id=pid, annotator=annotator
            )
            diagnoses_replaced += judgement.diagnosis.strip() not in {"", diagnosis.strip()}
            store.save_judgement(
                judgement.model_copy(update={"diagnosis": diagnosis, "flags": flags})
            )
        store.log_import(
            ImportRecord(
                kind="annotations",
                path=str(path),
                sha256=file_sha256(path),
                format=fmt,
                field=None,
                added=len(rows.scores),
                skipped_duplicates=0,
                imported_at=now(),
            )
        )
    return AnnotationImport(
        prompts_added,
        candidates_added,
        len(rows.scores),
        replaced,
        len(rows.judgements),
        diagnoses_replaced,
    )


ANNOTATION_SUFFIXES = (".csv", ".jsonl")


def export_annotations(store: ProjectStore, out: Path, *, force: bool = False) -> int:
    """Write every annotation as import-annotations reads it (CSV, or JSONL by suffix): a row
    per candidate and annotator, the file written whole (`atomic.write_whole`); returns the
    number of rows. In CSV, text cells a spreadsheet would run as formulas are neutralised
    (`core.spreadsheet`); import restores them. An existing `out` is replaced only with
    `force`, and never when it is the project file (or one SQLite keeps beside it)."""
    if out.suffix.lower() not in ANNOTATION_SUFFIXES:
        raise DpoError(
            f"{out}: name a .csv or a .jsonl file (the format follows the name)",
            hint="e.g. annotations.csv",
        )
    if os.path.lexists(out) and not force:
        raise DpoError(f"{out}: already exists", hint="name another file, or add --force")
    criteria = [c.key for c in store.rubric.criteria]
    records = []
    for prompt in store.prompts():
        candidates = store.candidates(prompt.id)
        for annotator in store.annotators_of(prompt.id):
            scores = store.scores(prompt.id, annotator)
            judgement = store.judgement(prompt.id, annotator)
            for candidate in candidates:
                given = scores.get(candidate.id, {})
                records.append(
                    {
                        "prompt_id": prompt.id,
                        "prompt": prompt.text,
                        "candidate_id": candidate.id,
                        "response": candidate.text,
                        "annotator": annotator,
                        **{key: given.get(key, "") for key in criteria},
                        "diagnosis": judgement.diagnosis if judgement else "",
                        "flags": ";".join(judgement.flags) if judgement else "",
                    }
                )
    fields = ["prompt_id", "prompt", "candidate_id", "response", "annotator", *criteria]
    fields += ["diagnosis", "flags"]

    def write(path: Path) -> None:
        if out.suffix.lower() == ".jsonl":
            lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            path.write_text("".join(lines), encoding="utf-8")
            return
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(neutralise_cells(record) for record in records)

    write_whole(out, write, project=store.path)
    return len(records)
