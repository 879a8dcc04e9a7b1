"""What a rubric revision means for the scores already given, criterion by criterion.

A project keeps every rubric version it has had. Scores are stored as they were given, with the
version they were given under, and read through the versions since: `RevisionStep` is one
revision (version n to n+1), `Lineage` all of them, and `Lineage.translate` gives a score card
as it counts under the current version.

Per criterion of the new version, a revision is one of:
- kept: same key, same scale: the scores count as they are;
- renamed: `--map old=new`, same scale: the old key's scores count for the new key;
- rescaled: another scale (min or max): the old scores are stale and need scoring again, or,
  with the `linear` rule, are mapped linearly onto the new scale (rounded half up);
- added: no old criterion gives it scores: every judged candidate needs a score for it.
A criterion of the old version that gives no scores to the new one is removed: its scores stay
stored (history) and stop counting. Everything else (weights, vetoes, labels, questions,
guidance, pair policy and margin) needs no new scores: the pairs are recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dpo_tui.core.models import Criterion, Rubric, Scale

RescaleRule = Literal["stale", "linear"]
RESCALE_RULES: tuple[RescaleRule, ...] = ("stale", "linear")
ChangeKind = Literal["kept", "renamed", "rescaled", "added", "removed"]


class RevisionError(ValueError):
    """A revision that cannot be made (an unknown key in the mapping, a key mapped twice)."""


@dataclass(frozen=True)
class CriterionChange:
    """What one criterion's revision does to its scores."""

    kind: ChangeKind
    key: str
    """the key in the new version (for `removed`: the old key)"""
    source: str | None = None
    """the old key whose scores it takes (None for `added` and `removed`)"""
    old_scale: Scale | None = None
    new_scale: Scale | None = None
    rule: RescaleRule | None = None
    """for `rescaled`: whether old scores are stale or mapped linearly"""

    @property
    def needs_scores(self) -> bool:
        """Whether every judged candidate needs a new score for this criterion."""
        return self.kind == "added" or (self.kind == "rescaled" and self.rule == "stale")

    def describe(self) -> str:
        if self.kind == "kept":
            return f"{self.key}: kept"
        if self.kind == "renamed":
            return f"{self.source} -> {self.key}: renamed, its scores kept"
        if self.kind == "added":
            return f"{self.key}: added, needs a score on every judged candidate"
        if self.kind == "removed":
            return f"{self.key}: removed, its scores stay in history and stop counting"
        assert self.old_scale is not None and self.new_scale is not None
        scales = (
            f"{self.old_scale.min}..{self.old_scale.max} -> "
            f"{self.new_scale.min}..{self.new_scale.max}"
        )
        name = self.key if self.source == self.key else f"{self.source} -> {self.key}"
        if self.rule == "linear":
            return f"{name}: rescaled {scales}, old scores mapped linearly"
        return f"{name}: rescaled {scales}, old scores stale (need scoring again)"

    def carry(self, value: int) -> int | None:
        """The old score `value` as it counts under the new version (None: stale)."""
        if self.kind in ("kept", "renamed"):
            return value
        if self.kind != "rescaled" or self.rule != "linear":
            return None
        assert self.old_scale is not None and self.new_scale is not None
        old, new = self.old_scale, self.new_scale
        position = (value - old.min) / (old.max - old.min)
        mapped = math.floor(new.min + position * (new.max - new.min) + 0.5)
        return max(new.min, min(new.max, mapped))


@dataclass(frozen=True)
class RevisionStep:
    """One revision: how each criterion of the new version takes the old version's scores,
    and what else changed (needing no new scores)."""

    changes: tuple[CriterionChange, ...]
    other: tuple[str, ...]

    @property
    def needs_scores(self) -> tuple[str, ...]:
        """Keys of the new version that need a score again on every judged candidate."""
        return tuple(c.key for c in self.changes if c.needs_scores)

    @property
    def carried(self) -> tuple[CriterionChange, ...]:
        """The changes that give a new criterion (every kind but `removed`)."""
        return tuple(c for c in self.changes if c.kind != "removed")

    def translate(self, card: Mapping[str, int]) -> dict[str, int]:
        """An old version's card as it counts under the new one."""
        result = {}
        for change in self.carried:
            if change.source is not None and change.source in card:
                value = change.carry(card[change.source])
                if value is not None:
                    result[change.key] = value
        return result


def plan_step(
    old: Rubric, new: Rubric, mapping: Mapping[str, str], rule: RescaleRule = "stale"
) -> RevisionStep:
    """The revision from `old` to `new` with `mapping` (old key -> new key); RevisionError
    for a mapping that names a key its rubric lacks or maps two criteria to one."""
    old_by_key = {c.key: c for c in old.criteria}
    new_by_key = {c.key: c for c in new.criteria}
    for source, target in mapping.items():
        if source not in old_by_key:
            raise RevisionError(
                f"--map {source}={target}: the project's rubric has no criterion {source!r} "
                f"(it has {', '.join(old_by_key)})"
            )
        if target not in new_by_key:
            raise RevisionError(
                f"--map {source}={target}: the new rubric has no criterion {target!r} "
                f"(it has {', '.join(new_by_key)})"
            )
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise RevisionError(f"--map: {twice[0]!r} is given scores by more than one criterion")
    source_of = {target: source for source, target in mapping.items()}
    for key in new_by_key:
        if key not in source_of and key in old_by_key and key not in mapping:
            source_of[key] = key
    changes = [
        _change(key, new_by_key[key], old_by_key.get(source_of.get(key, "")), rule)
        for key in new_by_key
    ]
    used = set(source_of.values())
    changes += [
        CriterionChange("removed", key, old_scale=criterion.scale)
        for key, criterion in old_by_key.items()
        if key not in used
    ]
    return RevisionStep(tuple(changes), _other_changes(old, new, source_of))


def _change(
    key: str, criterion: Criterion, source: Criterion | None, rule: RescaleRule
) -> CriterionChange:
    if source is None:
        return CriterionChange("added", key, new_scale=criterion.scale)
    same = (source.scale.min, source.scale.max) == (criterion.scale.min, criterion.scale.max)
    kind: ChangeKind = ("kept" if source.key == key else "renamed") if same else "rescaled"
    return CriterionChange(
        kind,
        key,
        source=source.key,
        old_scale=source.scale,
        new_scale=criterion.scale,
        rule=None if same else rule,
    )


def _other_changes(old: Rubric, new: Rubric, source_of: Mapping[str, str]) -> tuple[str, ...]:
    """The changes that need no new scores, in words."""
    found = []
    if old.pairs.policy != new.pairs.policy:
        found.append(f"pair policy: {old.pairs.policy} -> {new.pairs.policy}")
    if old.pairs.min_margin != new.pairs.min_margin:
        found.append(f"min margin: {old.pairs.min_margin:g} -> {new.pairs.min_margin:g}")
    for field in ("name", "domain", "description", "success"):
        if getattr(old.rubric, field) != getattr(new.rubric, field):
            found.append(f"rubric {field} changed")
    old_by_key = {c.key: c for c in old.criteria}
    for criterion in new.criteria:
        source = old_by_key.get(source_of.get(criterion.key, ""))
        if source is None:
            continue
        key = criterion.key
        if source.weight != criterion.weight:
            found.append(f"{key}: weight {source.weight:g} -> {criterion.weight:g}")
        if source.veto_below != criterion.veto_below:
            found.append(f"{key}: veto below {source.veto_below} -> {criterion.veto_below}")
        for field in ("label", "question", "guidance"):
            if getattr(source, field) != getattr(criterion, field):
                found.append(f"{key}: {field} changed")
        if source.scale.labels != criterion.scale.labels:
            found.append(f"{key}: scale labels changed")
    after = [source_of[c.key] for c in new.criteria if c.key in source_of]
    if after != [c.key for c in old.criteria if c.key in set(after)]:
        found.append("criteria order changed")
    return tuple(found)


class Lineage:
    """Every rubric version of a project, oldest first, and the revisions between them;
    version numbers start at 1."""

    def __init__(self, rubrics: Sequence[Rubric], steps: Sequence[RevisionStep]) -> None:
        if len(steps) != len(rubrics) - 1 or not rubrics:
            raise ValueError("a lineage has one revision step between each two versions")
        self.rubrics = tuple(rubrics)
        self.steps = tuple(steps)

    @property
    def current(self) -> int:
        return len(self.rubrics)

    def rubric(self, version: int) -> Rubric:
        return self.rubrics[version - 1]

    def translate(self, card: Mapping[str, int], version: int) -> dict[str, int]:
        """A card given under `version`, as it counts under the current version."""
        values = dict(card)
        for step in self.steps[version - 1 :]:
            values = step.translate(values)
        return values

    def extended(self, rubric: Rubric, step: RevisionStep) -> Lineage:
        """This lineage with one more version."""
        return Lineage((*self.rubrics, rubric), (*self.steps, step))
