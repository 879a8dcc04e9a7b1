"""Exporting a round of pairs for a trainer, written whole and recorded."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from dpo_tui import __version__
from dpo_tui.core.dedup import SimilarPair, clusters
from dpo_tui.core.export.select import pair_key, select_round
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.export.write import file_hashes, write_split_files
from dpo_tui.core.models import PairPolicyName
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.services.atomic import Placement, make_public, staging_folder
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.store.connection import project_files
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import ExportRound, now


def prompt_clusters(store: ProjectStore) -> dict[str, str]:
    """Prompt id -> the key of its near-duplicate cluster (the smallest id in it)."""
    ids = store.prompt_ids_in_order()
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
    exclude_annotators: Sequence[str] = (),
) -> ExportRound:
    """Export the project's pairs as a new round: files, manifest, and a round record.

    All or nothing: under the project's write lock, the files and then manifest.json are
    written into a new folder beside `out`, which is renamed into place before the round is
    recorded. `out` must be missing or an empty folder; with `force`, whatever is there (a
    folder, a file, a link itself, never what it points to) is replaced whole."""
    target = Path(os.path.abspath(out))
    unknown = sorted(set(exclude_annotators) - set(store.annotator_names()))
    if unknown:
        raise DpoError(
            f"--exclude-annotator {unknown[0]}: no such annotator in {store.path}",
            hint=f"its annotators: {', '.join(store.annotator_names()) or 'none yet'}",
        )
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
                exclude_annotators=exclude_annotators,
            )
            make_public(staged)
            # checked again under the lock: another export of this project may have written
            # the folder since the check above
            _check_export_target(store, out, target, force)
            placement = Placement.move(staged, target, replace=force)
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
    if target.resolve() in project_files(store.path) or store.path.resolve().is_relative_to(
        target.resolve()
    ):
        raise DpoError(
            f"{out}: is or holds the project file {store.path}; an export never replaces it",
            hint="export into a folder of its own, e.g. --out round1",
        )
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        what = "a symbolic link (it is never followed)"
    elif not target.is_dir():
        what = "a file"
    elif any(target.iterdir()):
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
    exclude_annotators: Sequence[str],
) -> ExportRound:
    """Write the next round's files, then its manifest.json, into `folder`; returns the round
    to record (called under the write lock, so its number is the one `record_round` gives)."""
    pair_set = collect_pairs(store, policy, min_margin, exclude_annotators)
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
        rubric_version=store.rubric_version,
        files=file_hashes(written, folder),
        pair_keys=[pair_key(p) for p in pairs],
    )
    manifest = entry.model_dump(exclude={"pair_keys"}) | {
        "dpo_tui_version": __version__,
        "project_id": store.meta.project_id,
        "rubric": rubric.name,
        "conversational": conversational,
        "new_only": new_only,
        "excluded_annotators": sorted(exclude_annotators),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return entry
