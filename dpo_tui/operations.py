"""The Python API: what each CLI verb does, callable without the CLI."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from dpo_tui import __version__
from dpo_tui.config import RepackSetting
from dpo_tui.core.dedup import SimilarPair, clusters
from dpo_tui.core.export.select import pair_key, select_round
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.export.write import file_hashes, write_split_files
from dpo_tui.core.importers import FORMATS, detect_format, read_prompts
from dpo_tui.core.importers.annotations import to_annotations
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.importers.candidates import to_candidates
from dpo_tui.core.models import Candidate, Judgement, PairPolicyName, Prompt
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.dataset import collect_pairs
from dpo_tui.errors import DpoError
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
    with store.db.atomic():
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


def import_annotations(
    store: ProjectStore, path: Path, format_name: str | None = None, encoding: str = "utf-8"
) -> AnnotationImport:
    """Import scores, diagnoses and flags made elsewhere, validated against the rubric; all or
    nothing. Prompts and responses given as text that the project lacks are added."""
    fmt = detect_format(path, format_name)
    known = dict(store.db.execute("select id, prompt_id from candidates").fetchall())
    rows = to_annotations(
        path,
        FORMATS[fmt](path, ImportOptions(encoding=encoding)),
        store.rubric,
        store.prompt_ids(),
        known,
        unit="row" if fmt == "parquet" else "line",
    )
    with store.db.atomic():
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
        for (pid, annotator), (diagnosis, flags) in rows.judgements.items():
            judgement = store.judgement(pid, annotator) or Judgement(
                prompt_id=pid, annotator=annotator
            )
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
        prompts_added, candidates_added, len(rows.scores), replaced, len(rows.judgements)
    )


def export_annotations(store: ProjectStore, out: Path) -> int:
    """Write every annotation as import-annotations reads it (CSV, or JSONL by suffix): a row
    per candidate and annotator; returns the number of rows."""
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
    if out.suffix.lower() == ".jsonl":
        out.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
    else:
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle,
                fieldnames=[
                    "prompt_id",
                    "prompt",
                    "candidate_id",
                    "response",
                    "annotator",
                    *criteria,
                    "diagnosis",
                    "flags",
                ],
            )
            writer.writeheader()
            writer.writerows(records)
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
) -> ExportRound:
    """Export the project's pairs as a new round: files, manifest, and a round record."""
    pair_set = collect_pairs(store, policy, min_margin)
    earlier = {key for r in store.rounds() for key in r.pair_keys}
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
    out.mkdir(parents=True, exist_ok=True)
    written = write_split_files(
        format_name, {"train": train, "validation": validation}, out, conversational
    )
    rubric = store.rubric
    entry = ExportRound(
        number=0,
        created_at=now(),
        format=format_name,
        out_dir=str(out),
        policy=policy or rubric.pairs.policy,
        min_margin=rubric.pairs.min_margin if min_margin is None else min_margin,
        val_fraction=val_fraction,
        seed=seed,
        limit_pairs=limit,
        train_pairs=len(train),
        validation_pairs=len(validation),
        disputed_excluded=len(pair_set.disputed),
        rubric_sha256=store.meta.rubric_sha256,
        files=file_hashes(written, out),
        pair_keys=[pair_key(p) for p in pairs],
    )
    entry = store.record_round(entry)
    manifest = entry.model_dump(exclude={"pair_keys"}) | {
        "dpo_tui_version": __version__,
        "project_id": store.meta.project_id,
        "rubric": rubric.name,
        "conversational": conversational,
        "new_only": new_only,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
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
