"""Exporting a round of pairs for a trainer, written whole and recorded."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from dpo_tui import __version__
from dpo_tui.core.dedup import SimilarPair, clusters
from dpo_tui.core.export.formats import JUDGE_ORIGIN, origin
from dpo_tui.core.export.select import pair_key, select_round
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.export.write import file_hashes, write_split_files
from dpo_tui.core.judge_figures import judge_pairs_refusal
from dpo_tui.core.judging import is_judge
from dpo_tui.core.models import PairPolicyName
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.services.atomic import Placement, make_public, staging_folder
from dpo_tui.services.pairing import ProjectAnnotations, collect_pairs
from dpo_tui.services.reporting import calibrate, project_judges
from dpo_tui.store.connection import project_files
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import ExportRound, now


class ExportedRound(ExportRound):
    """A round as recorded, with what only its manifest keeps."""

    judge_pairs: int = 0
    """pairs a judge model's scores made, on prompts no human judged (`--judge-pairs`)"""


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
    judge_pairs: bool = False,
    judge: str | None = None,
    judge_min_agreement: float | None = None,
) -> ExportedRound:
    """Export the project's pairs as a new round: files, manifest, and a round record.

    All or nothing: under the project's write lock, the files and then manifest.json are
    written into a new folder beside `out`, which is renamed into place before the round is
    recorded. `out` must be missing or an empty folder; with `force`, whatever is there (a
    folder, a file, a link itself, never what it points to) is replaced whole.

    With `judge_pairs`, a judge model's scores (`judge`, needed when the project has several)
    add pairs on the prompts no human judged, split with the humans' pairs, if the judge
    agrees with the humans on pair directions at least as often as `judge_min_agreement`
    (default: as they agree with each other) on enough shared items; else nothing is written.
    """
    target = Path(os.path.abspath(out))
    unknown = sorted(set(exclude_annotators) - set(store.annotator_names()))
    if unknown:
        raise DpoError(
            f"--exclude-annotator {unknown[0]}: no such annotator in {store.path}",
            hint=f"its annotators: {', '.join(store.annotator_names()) or 'none yet'}",
        )
    chosen_judge = _chosen_judge(store, judge_pairs, judge, judge_min_agreement)
    _check_export_target(store, out, target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = staging_folder(target)
    placement: Placement | None = None
    try:
        with store.writing():
            entry, judged = _write_round(
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
                judge=chosen_judge,
                judge_min_agreement=judge_min_agreement,
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
    return ExportedRound(**recorded.model_dump(), judge_pairs=judged)


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
    judge: str | None = None,
    judge_min_agreement: float | None = None,
) -> tuple[ExportRound, int]:
    """Write the next round's files, then its manifest.json, into `folder`; returns the round
    to record (called under the write lock, so its number is the one `record_round` gives)
    and how many of its pairs a judge made."""
    annotations = ProjectAnnotations.load(store, judges=judge is not None)
    annotations = annotations.without(exclude_annotators)
    judge_manifest: dict[str, object] = {}
    if judge is not None:
        annotations, judge_manifest = _with_judge(store, annotations, judge, judge_min_agreement)
    pair_set = collect_pairs(store, policy, min_margin, annotations=annotations)
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
        mark_origin=judge is not None,
    )
    judged = [p for p in pairs if origin(p) == JUDGE_ORIGIN]
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
        "judge_pairs": len(judged),
    }
    if judge is not None:
        validation_keys = {pair_key(p) for p in validation}
        manifest["judge"] = judge_manifest | {
            "validation_pairs": sum(1 for p in judged if pair_key(p) in validation_keys)
        }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return entry, len(judged)


def _chosen_judge(
    store: ProjectStore, judge_pairs: bool, judge: str | None, min_agreement: float | None
) -> str | None:
    """The judge whose pairs `--judge-pairs` adds (None without it), checked against the
    project's judges."""
    if not judge_pairs:
        if judge is not None or min_agreement is not None:
            raise DpoError(
                "--judge and --judge-min-agreement choose the judge pairs --judge-pairs adds",
                hint="add --judge-pairs, or leave them out",
            )
        return None
    judges = project_judges(store)
    quoted = shlex.quote(str(store.path))
    if not judges:
        raise DpoError(
            f"--judge-pairs: no judge model has scored {store.path}",
            hint=f"run `dpo-tui judge {quoted}` first, then `dpo-tui report {quoted} --judge`",
        )
    if judge is None and len(judges) > 1:
        raise DpoError(
            f"--judge-pairs: {store.path} holds {len(judges)} judges; say whose pairs with "
            "--judge NAME",
            hint=f"its judges: {', '.join(judges)} (compare them: dpo-tui report {quoted} --judge)",
        )
    if judge is not None and judge not in judges:
        raise DpoError(
            f"--judge {judge}: no such judge in {store.path}",
            hint=f"its judges: {', '.join(judges)}",
        )
    return judge or judges[0]


def _with_judge(
    store: ProjectStore,
    annotations: ProjectAnnotations,
    judge: str,
    min_agreement: float | None,
) -> tuple[ProjectAnnotations, dict[str, object]]:
    """The humans' annotations plus the judge's on the prompts no human judged, and what the
    manifest says of the judge; a DpoError (nothing written) where the judge agrees with the
    humans too rarely, or on too few shared items, to trust its pairs."""
    [figures] = calibrate(store, annotations, [judge]).judges
    refusal = judge_pairs_refusal(figures, min_agreement, shlex.quote(str(store.path)))
    if refusal is not None:
        message, hint = refusal
        raise DpoError(f"--judge-pairs: {message}", hint=hint)
    humans = {pid for pid, annotator in annotations.judged() if not is_judge(annotator)}

    def kept(key: tuple[str, str]) -> bool:
        pid, annotator = key
        return not is_judge(annotator) or (annotator == judge and pid not in humans)

    combined = dataclasses.replace(
        annotations,
        scores={k: v for k, v in annotations.scores.items() if kept(k)},
        judgements={k: v for k, v in annotations.judgements.items() if kept(k)},
        totals={k: v for k, v in annotations.totals.items() if kept(k)},
    )
    human_agreement = figures.shared_human_human.percent
    return combined, {
        "name": judge,
        "shared_items": figures.shared_items,
        "judge_human_agreement": figures.shared_judge_human.percent,
        "human_human_agreement": human_agreement,
        "min_agreement": human_agreement if min_agreement is None else min_agreement,
        "judge_only_prompts": figures.judge_only_prompts,
    }
