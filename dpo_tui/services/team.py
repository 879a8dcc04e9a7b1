"""Team workflow: split a project into overlapping per-annotator files, and pack a file to send.

`assign` gives every prompt with candidates to one annotator, and a share of them (`overlap`)
to two, spread over every pair of annotators so each pair shares items for the agreement
figures; loads are balanced and the split is deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.core.rubric import parse_rubric
from dpo_tui.errors import ProjectError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.atomic import staging
from dpo_tui.store.project import ProjectStore


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    files: dict[str, Path]
    items: dict[str, int]
    shared: dict[tuple[str, str], int]


def plan(
    prompt_ids: list[str], annotators: list[str], overlap: float, seed: int
) -> dict[str, list[str]]:
    """annotator -> prompt ids: each prompt once, an `overlap` share of them twice."""
    if len(annotators) < 2 or len({a.casefold() for a in annotators}) != len(annotators):
        raise ProjectError(
            "assign needs two or more distinct annotator names (distinct ignoring case too: "
            "each gets NAME.dpo, and some file systems ignore case)"
        )
    if not 0 <= overlap <= 1:
        raise ProjectError(f"--overlap must be between 0 and 1, got {overlap}")
    order = sorted(prompt_ids, key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).digest())
    doubled = round(len(order) * overlap)
    pairs = list(itertools.combinations(annotators, 2))
    load = dict.fromkeys(annotators, 0)
    given: dict[str, list[str]] = {name: [] for name in annotators}
    for index, pid in enumerate(order[:doubled]):
        for name in pairs[index % len(pairs)]:
            given[name].append(pid)
            load[name] += 1
    for pid in order[doubled:]:
        name = min(annotators, key=lambda n: (load[n], annotators.index(n)))
        given[name].append(pid)
        load[name] += 1
    return given


def assign(
    source: ProjectStore, annotators: list[str], overlap: float, out: Path, seed: int = 0
) -> Assignment:
    """Write `out/<annotator>.dpo` for each annotator, each with its prompts, candidates and
    the project's rubric versions: all built under temporary names in `out`, then renamed
    into place, or none at all."""
    with_candidates = [p.id for p in source.prompts() if source.candidates(p.id)]
    if not with_candidates:
        raise ProjectError(f"{source.path}: no prompt has candidates yet; nothing to assign")
    given = plan(with_candidates, annotators, overlap, seed)
    unsafe = [name for name in annotators if name in (".", "..") or Path(name).name != name]
    if unsafe:
        raise ProjectError(
            f"annotator {unsafe[0]!r}: not usable as a file name in {out}",
            hint="name annotators without / (each gets NAME.dpo)",
        )
    out.mkdir(parents=True, exist_ok=True)
    targets = {name: out / f"{name}.dpo" for name in annotators}
    _refuse_existing(list(targets.values()), "choose another --out folder")
    rubric = parse_rubric(source.meta.rubric_text, f"{source.path} (stored rubric)")
    history = source.rubric_versions()
    assignment_id = uuid.uuid4().hex
    try:
        with staging(out / "assign") as folder:
            for name in annotators:
                with ProjectStore.create(
                    folder / f"{name}.dpo",
                    rubric,
                    name,
                    assignment_id=assignment_id,
                    history=history,
                ) as store:
                    wanted = set(given[name])
                    store.add_prompts([p for p in source.prompts() if p.id in wanted])
                    for pid in given[name]:
                        store.add_candidates(source.candidates(pid))
            _move_all(
                {folder / f"{name}.dpo": target for name, target in targets.items()},
                "choose another --out folder",
            )
    except (OSError, sqlite3.Error) as exc:
        raise ProjectError(
            f"{out}: cannot write the annotator files ({exc}); none was left behind",
            hint="free some disk space (or choose another --out folder) and run assign again",
        ) from exc
    shared = {
        (a, b): len(set(given[a]) & set(given[b])) for a, b in itertools.combinations(annotators, 2)
    }
    return Assignment(assignment_id, targets, {n: len(given[n]) for n in annotators}, shared)


def _refuse_existing(paths: list[Path], hint: str) -> None:
    """Refuse a target that exists as anything, a dangling link included."""
    for path in paths:
        if os.path.lexists(path):
            raise ProjectError(f"{path}: already exists", hint=hint)


def _move_all(moves: dict[Path, Path], hint: str) -> None:
    """Rename each finished file onto its target, none if any target exists by now; on a
    failure, remove those already moved."""
    _refuse_existing(list(moves.values()), hint)
    moved: list[Path] = []
    try:
        for built, target in moves.items():
            os.replace(built, target)
            moved.append(target)
    except BaseException:
        for target in moved:
            target.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Packed:
    path: Path
    annotator: str
    rubric_sha256: str
    judged: int
    done: int
    scores: int


def pack(project: Path, out: Path | None = None) -> Packed:
    """One self-contained file to email: WAL checkpointed, copied with VACUUM INTO, journal
    mode DELETE, integrity-checked; built under a temporary name beside the target and
    renamed into place only when complete."""
    target = out or project.with_name(f"{project.stem}.packed.dpo")
    hint = "remove it or name another with --out"
    _refuse_existing([target], hint)
    if not target.parent.is_dir():
        raise ProjectError(
            f"{target.parent}: no such folder", hint="create it, or name another --out"
        )
    with ProjectStore.open(project) as store:
        try:
            with staging(target) as folder:
                built = folder / target.name
                store.copy_whole(built)
                _move_all({built: target}, hint)
        except (OSError, sqlite3.Error) as exc:
            raise ProjectError(
                f"{target}: cannot be written ({exc}); nothing was left behind",
                hint="free some disk space (or name another --out) and run pack again",
            ) from exc
        meta = store.meta
        judged = store.judgement_count()
        scores = store.score_count()
        done = AnnotationSession(store).progress().done
    return Packed(target, meta.annotator, meta.rubric_sha256, judged, done, scores)
