"""Team workflow: split a project into overlapping per-annotator files, and pack a file to send.

`assign` gives every prompt with candidates to one annotator, and a share of them (`overlap`)
to two, spread over every pair of annotators so each pair shares items for the agreement
figures; loads are balanced and the split is deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.annotation import AnnotationSession
from dpo_tui.core.rubric import parse_rubric
from dpo_tui.errors import ProjectError
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
    if len(annotators) < 2 or len(set(annotators)) != len(annotators):
        raise ProjectError("assign needs two or more distinct annotator names")
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
    """Write `out/<annotator>.dpo` for each annotator, each with its prompts and candidates."""
    with_candidates = [p.id for p in source.prompts() if source.candidates(p.id)]
    if not with_candidates:
        raise ProjectError(f"{source.path}: no prompt has candidates yet; nothing to assign")
    given = plan(with_candidates, annotators, overlap, seed)
    out.mkdir(parents=True, exist_ok=True)
    clashes = [out / f"{name}.dpo" for name in annotators if (out / f"{name}.dpo").exists()]
    if clashes:
        raise ProjectError(f"{clashes[0]}: already exists", hint="choose another --out folder")
    rubric = parse_rubric(source.meta.rubric_text, f"{source.path} (stored rubric)")
    assignment_id = uuid.uuid4().hex
    files = {}
    for name in annotators:
        path = out / f"{name}.dpo"
        with ProjectStore.create(path, rubric, name) as store:
            store.db["meta"].insert({"key": "assignment_id", "value": assignment_id})
            wanted = set(given[name])
            store.add_prompts([p for p in source.prompts() if p.id in wanted])
            for pid in given[name]:
                store.add_candidates(source.candidates(pid))
        files[name] = path
    shared = {
        (a, b): len(set(given[a]) & set(given[b])) for a, b in itertools.combinations(annotators, 2)
    }
    return Assignment(assignment_id, files, {n: len(given[n]) for n in annotators}, shared)


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
    mode DELETE, integrity-checked."""
    target = out or project.with_name(f"{project.stem}.packed.dpo")
    if target.exists():
        raise ProjectError(f"{target}: already exists", hint="remove it or name another with --out")
    with ProjectStore.open(project) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.db.execute("VACUUM INTO ?", [str(target)])
        meta = store.meta
        judged = store.db.execute("select count(*) from judgements").fetchone()[0]
        scores = store.score_count()
        done = AnnotationSession(store).progress().done
    conn = sqlite3.connect(target)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        if conn.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise ProjectError(f"{target}: the packed copy failed its integrity check")
    finally:
        conn.close()
    return Packed(target, meta.annotator, meta.rubric_sha256, judged, done, scores)
