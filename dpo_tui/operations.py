"""The Python API: what each CLI verb does, callable without the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dpo_tui import __version__
from dpo_tui.atomic import Placement, make_public, staging_folder, write_whole
from dpo_tui.config import RepackSetting
from dpo_tui.core.dedup import SimilarPair, clusters
from dpo_tui.core.export.select import pair_key, select_round
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.export.write import file_hashes, write_split_files
from dpo_tui.core.importers import FORMATS, detect_format, read_prompts
from dpo_tui.core.importers.annotations import restore_text_cells, to_annotations
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.importers.candidates import to_candidates
from dpo_tui.core.models import Candidate, Judgement, PairPolicyName, Prompt
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.core.spreadsheet import neutralise_cells
from dpo_tui.dataset import collect_pairs
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.generation.base import Backend
from dpo_tui.paths import data_dir, file_sha256
from dpo_tui.store.project import CandidatesAdded, ExportRound, ImportRecord, ProjectStore, now

DEMO_RUBRIC = "general_assistant"
DEMO_CANDIDATES = "candidates_handwritten.jsonl"
DEMO_FILES = (
    ("support_tickets.jsonl", None),
    ("code_bug_reports.csv", "question"),
    ("summarization_requests.jsonl", None),
    ("writing_help.txt", None),
    ("conversations.jsonl", None),
)


def init_project(path: Path, rubric: str, annotator: str) -> ProjectStore:
    """Create a project file for `annotator`; `rubric` is a file path or a bundled name."""
    return ProjectStore.create(path, load_rubric(resolve_rubric(rubric)), annotator)


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
    parsed: list[tuple[Path, str, list[Prompt], str]] = []
    for path in files:
        fmt = detect_format(path, format_name)
        prompts = read_prompts(path, fmt, options)
        parsed.append((path, fmt, prompts, file_sha256(path)))
    results = []
    with store.writing():
        for path, fmt, prompts, digest in parsed:
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
            added, skipped = store.add_prompts(prompts, record)
            results.append(ImportResult(path, fmt, len(prompts), added, skipped))
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
    known = dict(store.db.execute("select id, prompt_id from candidates").fetchall())
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


def export_annotations(store: ProjectStore, out: Path) -> int:
    """Write every annotation as import-annotations reads it (CSV, or JSONL by suffix): a row
    per candidate and annotator, the file written whole (`atomic.write_whole`); returns the
    number of rows. In CSV, text cells a spreadsheet would run as formulas are neutralised
    (`core.spreadsheet`); import restores them."""
    criteria = [c.key for c in store.rubric.criteria]
    records = []
    for prompt in store.prompts():
        candidates = store.candidates(prompt.id)
        annotators = [
            row[0]
            for row in store.db.execute(
                "select annotator from judgements where prompt_id = ? union select s.annotator "
                "from scores s join candidates c on c.id = s.candidate_id where c.prompt_id = ? "
                "order by 1",
                [prompt.id, prompt.id],
            )
        ]
        for annotator in annotators:
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

    write_whole(out, write)
    return len(records)


def prompt_clusters(store: ProjectStore) -> dict[str, str]:
    """Prompt id -> the key of its near-duplicate cluster (the smallest id in it)."""
    ids = [row[0] for row in store.db.execute("select id from prompts order by rowid")]
    position = {pid: index for index, pid in enumerate(ids)}
    pairs = [
        SimilarPair(position[first], position[second], score)
        for first, second, score in store.near_duplicate_prompts()
    ]
    roots = clusters(len(ids), pairs)
    smallest: dict[int, str] = {}
    for pid, root in zip(ids, roots, strict=True):
        smallest[root] = min(smallest.get(root, pid), pid)
    return {pid: smallest[root] for pid, root in zip(ids, roots, strict=True)}


def export_dataset(
    store: ProjectStore,
    format_name: str,
    out: Path,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    policy: PairPolicyName | None = None,
    min_margin: float | None = None,
    conversational: bool = False,
    new_only: bool = False,
    force: bool = False,
) -> ExportRound:
    """Export the project's pairs as a new round: files, manifest, and a round record.

    All or nothing: under the project's write lock, the files and then manifest.json are
    written into a new folder beside `out`, which is renamed into place before the round is
    recorded. `out` must be missing or an empty folder; with `force`, whatever is there (a
    folder, a file, a link itself, never what it points to) is replaced whole."""
    target = Path(os.path.abspath(out))
    _check_export_target(store, out, target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staging_folder(target)
    placement: Placement | None = None
    try:
        with store.writing():
            entry = _write_round(
                store,
                format_name,
                staged,
                out_dir=str(out),
                title=target.name,
                val_fraction=val_fraction,
                seed=seed,
                limit=limit,
                policy=policy,
                min_margin=min_margin,
                conversational=conversational,
                new_only=new_only,
            )
            make_public(staged)
            placement = Placement.move(staged, target)
            recorded = store.record_round(entry)
            if recorded.number != entry.number:
                raise ProjectError(
                    f"{store.path}: recorded the export as round {recorded.number}, but its "
                    f"manifest says {entry.number}",
                    hint="report this as a bug; export again",
                )
    except BaseException as exc:
        if placement is not None:
            placement.undo()
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError):
            raise DpoError(
                f"{out}: cannot write the export ({exc}); the folder is as it was and no "
                "round was recorded",
                hint="free some disk space, or choose another --out, and export again",
            ) from exc
        raise
    placement.finish()
    return recorded


def _check_export_target(store: ProjectStore, out: Path, target: Path, force: bool) -> None:
    """Refuse an output path that holds anything but an empty folder, unless `force`; never
    one that holds the project file itself."""
    if not target.name:
        raise DpoError(f"{out}: not a folder an export can be written to", hint="name a folder")
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        what = "a symbolic link (it is never followed)"
    elif not target.is_dir():
        what = "a file"
    elif any(target.iterdir()):
        if store.path.resolve().is_relative_to(target.resolve()):
            raise DpoError(
                f"{out}: holds the project file {store.path}; an export never replaces it",
                hint=f"export into a folder of its own, e.g. --out {out / 'export'}",
            )
        what = "a folder that is not empty"
    else:
        return
    if not force:
        raise DpoError(
            f"{out}: already exists and is {what}",
            hint="export into a new or empty folder, or add --force to replace it whole "
            "(what is there is deleted)",
        )


def _write_round(
    store: ProjectStore,
    format_name: str,
    folder: Path,
    *,
    out_dir: str,
    title: str,
    val_fraction: float,
    seed: int,
    limit: int | None,
    policy: PairPolicyName | None,
    min_margin: float | None,
    conversational: bool,
    new_only: bool,
) -> ExportRound:
    """Write the next round's files, then its manifest.json, into `folder`; returns the round
    to record (called under the write lock, so its number is the one `record_round` gives)."""
    pair_set = collect_pairs(store, policy, min_margin)
    earlier_rounds = store.rounds()
    earlier = {key for r in earlier_rounds for key in r.pair_keys}
    pairs = pair_set.exportable
    if new_only:
        pairs = [p for p in pairs if pair_key(p) not in earlier]
    pairs = select_round(pairs, limit, earlier, seed)
    if not pairs:
        raise DpoError(
            "no pairs to export"
            + (" that earlier rounds did not already export" if new_only else ""),
            hint="score candidates with `dpo-tui annotate`; `dpo-tui report` says why items "
            "gave no pair",
        )
    train, validation = split_pairs(pairs, val_fraction, seed, prompt_clusters(store))
    written = write_split_files(
        format_name,
        {"train": train, "validation": validation},
        folder,
        conversational,
        title=title,
    )
    rubric = store.rubric
    entry = ExportRound(
        number=max((r.number for r in earlier_rounds), default=0) + 1,
        created_at=now(),
        format=format_name,
        out_dir=out_dir,
        policy=policy or rubric.pairs.policy,
        min_margin=rubric.pairs.min_margin if min_margin is None else min_margin,
        val_fraction=val_fraction,
        seed=seed,
        limit_pairs=limit,
        train_pairs=len(train),
        validation_pairs=len(validation),
        disputed_excluded=len(pair_set.disputed),
        rubric_sha256=store.meta.rubric_sha256,
        files=file_hashes(written, folder),
        pair_keys=[pair_key(p) for p in pairs],
    )
    manifest = entry.model_dump(exclude={"pair_keys"}) | {
        "dpo_tui_version": __version__,
        "project_id": store.meta.project_id,
        "rubric": rubric.name,
        "conversational": conversational,
        "new_only": new_only,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return entry


def open_backend(
    backend: str = "llama",
    *,
    model: Path | None = None,
    threads: int | None = None,
    n_gpu_layers: int = 0,
    repack: RepackSetting | None = None,
    n_ctx: int | None = None,
    template: str | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    api: str = "chat",
    concurrency: int = 4,
) -> Backend:
    """A generation backend: llama.cpp on a local GGUF (default: the bundled model), or an
    OpenAI-compatible server, checked to be up and to list the model before it is used."""
    if backend == "llama":
        from dpo_tui.generation.llama import DEFAULT_N_CTX, LlamaBackend

        return LlamaBackend(
            model,
            n_ctx=n_ctx or DEFAULT_N_CTX,
            n_threads=threads,
            n_gpu_layers=n_gpu_layers,
            prompt_template=template,
            repack=repack,
        )
    from dpo_tui.generation.openai import OpenAIBackend
    from dpo_tui.generation.templates import choose_template

    if not base_url or not model_name:
        raise DpoError(
            "the openai backend needs --base-url and --model-name",
            hint="e.g. --base-url http://127.0.0.1:8080/v1 --model-name my-model",
        )
    render = choose_template(None, template).render if api == "completions" else None
    server = OpenAIBackend(
        base_url,
        model_name,
        api=api,  # type: ignore[arg-type]
        render_prompt=render,
        concurrency=concurrency,
    )
    try:
        server.check()  # up, and has the model: some servers answer any name with their default
    except BaseException:
        server.close()
        raise
    return server


def demo_project(path: Path, annotator: str = "demo") -> tuple[ProjectStore, list[ImportResult]]:
    """Create (or reopen) a project holding every bundled sample prompt and the hand-written
    sample candidates."""
    store = ProjectStore.open(path) if path.exists() else init_project(path, DEMO_RUBRIC, annotator)
    samples = data_dir("sample_data")
    results = []
    for name, field in DEMO_FILES:
        results += import_prompts(store, [samples / name], ImportOptions(field=field))
    import_candidates(store, samples / DEMO_CANDIDATES)
    return store, results
