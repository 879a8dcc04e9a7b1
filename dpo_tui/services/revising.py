"""Revising a project's rubric: what a new version would change (pairs kept, flipped, lost
and new; items to score again per annotator; rounds whose pairs would differ), worked out
before anything is written, and the revision itself (a new version, the old ones kept)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from dpo_tui.core.revision import Lineage, RescaleRule, RevisionError, RevisionStep, plan_step
from dpo_tui.core.rubric import LoadedRubric
from dpo_tui.core.safe_text import storable
from dpo_tui.errors import DpoError
from dpo_tui.services.pairing import ProjectAnnotations, exportable_pair_keys
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import RubricVersion

MAX_NOTE_CHARS = 2000
PairKey = tuple[str, str, str]
"""(prompt id, chosen id, rejected id)"""


@dataclass(frozen=True)
class PairChanges:
    """How the exportable pairs move from one version to the next."""

    before: int
    after: int
    kept: int
    flipped: int
    lost: int
    new: int


@dataclass(frozen=True)
class CriterionCounts:
    """How many scores of a criterion count, before and after (None: not in that version)."""

    key: str
    before: int | None
    after: int | None


@dataclass(frozen=True)
class RevisionImpact:
    """What a revision changes, worked out without writing anything."""

    from_version: int
    to_version: int
    step: RevisionStep
    pairs: PairChanges
    rescore: dict[str, int]
    """annotator -> items they would need to score again"""
    criteria: list[CriterionCounts]
    rounds_changed: list[int]
    """export rounds holding a pair the new version would not give"""
    entry: RubricVersion | None = field(default=None)
    """the version written (None for a dry run)"""


def parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    """`old=new` options as a mapping; DpoError for a malformed or repeated one."""
    mapping: dict[str, str] = {}
    for item in pairs:
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise DpoError(f"--map {item!r}: expected OLD=NEW, two criterion keys")
        if old in mapping:
            raise DpoError(f"--map: {old!r} is mapped twice")
        mapping[old] = new
    return mapping


def revise_rubric(
    store: ProjectStore,
    rubric: LoadedRubric,
    mapping: dict[str, str],
    rescale: RescaleRule = "stale",
    note: str = "",
    author: str | None = None,
    dry_run: bool = False,
) -> RevisionImpact:
    """Work out what revising the project's rubric to `rubric` changes and, unless
    `dry_run`, make it the project's current version. Refused (nothing written) for a
    rubric identical to the current one or a mapping that does not fit."""
    if len(note) > MAX_NOTE_CHARS or storable(note):
        raise DpoError(f"--note: at most {MAX_NOTE_CHARS:,} characters, and no NUL character")
    if rubric.sha256 == store.meta.rubric_sha256:
        raise DpoError(f"{rubric.origin}: this is already the project's current rubric")
    try:
        step = plan_step(store.rubric, rubric.rubric, mapping, rescale)
    except RevisionError as exc:
        raise DpoError(str(exc)) from None
    before = store.lineage
    old_annotations = ProjectAnnotations.load(store)
    old_pairs = exportable_pair_keys(store, old_annotations)
    new_annotations = old_annotations.revised(rubric.rubric, step)
    with _previewed(store, rubric, before.extended(rubric.rubric, step)):
        new_pairs = exportable_pair_keys(store, new_annotations)
    rescore = _rescore(new_annotations, [c.key for c in rubric.rubric.criteria])
    impact = RevisionImpact(
        from_version=before.current,
        to_version=before.current + 1,
        step=step,
        pairs=_pair_changes(old_pairs, new_pairs),
        rescore=rescore,
        criteria=_criterion_counts(before, step, old_annotations, new_annotations),
        rounds_changed=[
            entry.number
            for entry in store.rounds()
            if not {tuple(key) for key in entry.pair_keys} <= new_pairs
        ],
    )
    if dry_run:
        return impact
    entry = store.add_rubric_version(
        rubric, mapping, rescale, author or store.meta.annotator, note.strip()
    )
    return dataclasses.replace(impact, entry=entry)


@contextlib.contextmanager
def _previewed(store: ProjectStore, rubric: LoadedRubric, lineage: Lineage) -> Iterator[None]:
    """The store read as if `rubric` were its current version (nothing is written)."""
    saved = store.preview_rubric(rubric, lineage)
    try:
        yield
    finally:
        store.preview_rubric(*saved)


def _rescore(annotations: ProjectAnnotations, keys: list[str]) -> dict[str, int]:
    """annotator -> items whose cards, read under the new version (all made under an older
    one), lack one of its criteria: what `needs_rescore` will list once it is written."""
    wanted = set(keys)
    found: dict[str, int] = {}
    for (_, annotator), cards in annotations.scores.items():
        if any(not wanted <= card.keys() for card in cards.values()):
            found[annotator] = found.get(annotator, 0) + 1
    return found


def _pair_changes(before: set[PairKey], after: set[PairKey]) -> PairChanges:
    flipped = {(pid, rejected, chosen) for pid, chosen, rejected in before} & after
    kept = before & after
    return PairChanges(
        before=len(before),
        after=len(after),
        kept=len(kept),
        flipped=len(flipped),
        lost=len(before) - len(kept) - len(flipped),
        new=len(after) - len(kept) - len(flipped),
    )


def _criterion_counts(
    lineage: Lineage,
    step: RevisionStep,
    old: ProjectAnnotations,
    new: ProjectAnnotations,
) -> list[CriterionCounts]:
    """Per criterion of either version: how many scores count before and after."""

    def counts(annotations: ProjectAnnotations) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in annotations.scores.values():
            for values in item.values():
                for key in values:
                    found[key] = found.get(key, 0) + 1
        return found

    before, after = counts(old), counts(new)
    old_keys = [c.key for c in lineage.rubric(lineage.current).criteria]
    new_keys = [c.key for c in step.carried]
    return [
        CriterionCounts(
            key,
            before.get(key, 0) if key in old_keys else None,
            after.get(key, 0) if key in new_keys else None,
        )
        for key in dict.fromkeys([*new_keys, *old_keys])
    ]
