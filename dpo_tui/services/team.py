"""Team workflow: split a project into overlapping per-annotator files, and pack a file to send.

`assign` gives every prompt with candidates to one annotator, and a share of them (`overlap`)
to two, spread over every pair of annotators so each pair shares items for the agreement
figures; loads are balanced and the split is deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dpo_tui.core.judge_order import ItemOrder, judge_margins, ordered
from dpo_tui.core.models import Prompt
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.services.atomic import move_all, refuse_existing, staging
from dpo_tui.services.ordering import chosen_judge
from dpo_tui.store.assigned_order import record_assigned_order
from dpo_tui.store.judge_copy import copy_judge_rows
from dpo_tui.store.project import ProjectStore


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    files: dict[str, Path]
    items: dict[str, int]
    shared: dict[tuple[str, str], int]
    gold: int = 0
    """gold items in every file"""
    order: ItemOrder = "file"
    judge: str | None = None
    """the judge whose cards ordered the items (`order` uncertain)"""
    judge_rows: dict[str, int] = field(default_factory=dict)
    """annotator -> the judge rows copied into their file (`with_judge`)"""


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
    source: ProjectStore,
    annotators: list[str],
    overlap: float,
    out: Path,
    seed: int = 0,
    gold: int = 0,
    order: ItemOrder = "file",
    judge: str | None = None,
    with_judge: bool = False,
) -> Assignment:
    """Write `out/<annotator>.dpo` for each annotator, each with its prompts, candidates and
    the project's rubric versions: all built under temporary names in `out`, then renamed
    into place, or none at all. With `gold`, that many of the project's gold items (the same
    in every file, at places of their own in each) join the prompts; their reference stays
    in the project. `order`: each file's prompts in the project's order (`file`), shuffled
    (`random`, by `seed` and the annotator), or those a judge is least sure about first
    (`uncertain`: by the cards of `judge`, or of the project's only judge), recorded in the
    file. A judge's cards, judgements, samples and verdicts stay in the project unless
    `with_judge`."""
    with_candidates = [p.id for p in source.prompts() if source.candidates(p.id)]
    if not with_candidates:
        raise ProjectError(f"{source.path}: no prompt has candidates yet; nothing to assign")
    margins = None
    if order == "uncertain":
        judge, cards = chosen_judge(source, judge)
        margins = judge_margins(source.rubric, cards)
    elif judge is not None:
        raise DpoError("--judge chooses the judge of --order uncertain; give both")
    if with_judge and not source.judge_names():
        raise DpoError(
            f"{source.path}: --with-judge, but no judge model has scored its items",
            hint=f"run `dpo-tui judge {source.path}` first",
        )
    seeded = _gold_items(source, with_candidates, gold, seed)
    regular = [pid for pid in with_candidates if pid not in set(seeded)]
    given = plan(regular, annotators, overlap, seed)
    place = {pid: index for index, pid in enumerate(with_candidates)}
    for name in annotators:  # the project's order, the gold items at places of their own
        placed = _placed(sorted(given[name], key=place.__getitem__), seeded, f"{seed}:{name}")
        given[name] = ordered(placed, order, seed=f"{seed}:{name}", margins=margins)
    unsafe = [name for name in annotators if name in (".", "..") or Path(name).name != name]
    if unsafe:
        raise ProjectError(
            f"annotator {unsafe[0]!r}: not usable as a file name in {out}",
            hint="name annotators without / (each gets NAME.dpo)",
        )
    out.mkdir(parents=True, exist_ok=True)
    targets = {name: out / f"{name}.dpo" for name in annotators}
    refuse_existing(list(targets.values()), "choose another --out folder")
    prompts = {p.id: p for p in source.prompts()}
    assignment_id = uuid.uuid4().hex
    copied: dict[str, int] = {}
    try:
        with staging(out / "assign") as folder:
            for name in annotators:
                with new_file_for(
                    source, folder / f"{name}.dpo", name, given[name], prompts, assignment_id
                ) as made:
                    if with_judge:
                        copied[name] = copy_judge_rows(source, made, given[name])
                    if order != "file":
                        record_assigned_order(made, order)
            move_all(
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
    return Assignment(
        assignment_id,
        targets,
        {n: len(given[n]) for n in annotators},
        shared,
        len(seeded),
        order,
        judge,
        copied,
    )


def new_file_for(
    source: ProjectStore,
    path: Path,
    annotator: str,
    prompt_ids: list[str],
    prompts: Mapping[str, Prompt],
    assignment_id: str | None = None,
) -> ProjectStore:
    """A new project file at `path` for `annotator`, with `source`'s rubric and its versions
    and these prompts (`prompts` holds them by id), in this order, with their candidates;
    returned open."""
    store = ProjectStore.create(
        path,
        source.loaded_rubric,
        annotator,
        assignment_id=assignment_id,
        history=source.rubric_versions(),
    )
    try:
        store.add_prompts([prompts[pid] for pid in prompt_ids])
        for pid in prompt_ids:
            store.add_candidates(source.candidates(pid))
    except BaseException:
        store.close()
        raise
    return store


def _gold_items(
    source: ProjectStore, with_candidates: list[str], count: int, seed: int
) -> list[str]:
    """`count` of the project's gold items (those with candidates), chosen by `seed`."""
    if not count:
        return []
    held = set(with_candidates)
    usable = [pid for pid in source.gold() if pid in held]
    if len(usable) < count:
        raise ProjectError(
            f"{source.path}: --gold {count}, but the project has {len(usable)} gold items "
            "with candidates",
            hint="add more with `dpo-tui gold add`, or ask for fewer",
        )
    return sorted(usable, key=lambda p: hashlib.sha256(f"gold:{seed}:{p}".encode()).digest())[
        :count
    ]


def _placed(prompts: list[str], seeded: list[str], seed: str) -> list[str]:
    """`prompts` with each of `seeded` put at a random place (the same seed, the same places)."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    placed = list(prompts)
    for pid in seeded:
        placed.insert(rng.randint(0, len(placed)), pid)
    return placed


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
    refuse_existing([target], hint)
    if not target.parent.is_dir():
        raise ProjectError(
            f"{target.parent}: no such folder", hint="create it, or name another --out"
        )
    with ProjectStore.open(project) as store:
        try:
            with staging(target) as folder:
                built = folder / target.name
                store.copy_whole(built)
                move_all({built: target}, hint)
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
