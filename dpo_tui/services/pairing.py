"""A project's judgements as preference pairs, across annotators.

Each annotator's scores give pairs under the policy (`core.pairs`). Where several annotators
judged a prompt, a pair is `agreed` when every other annotator who fully scored both
candidates ranks them the same way (or vetoes the rejected one), and `disputed` otherwise
(or when another annotator flagged the item tie, all bad or unclear); disputed pairs are
kept out of exports. A pair only one annotator judged is `single`. An adjudicated prompt
gives the resolver's pair (`adjudicated`), or none.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from dpo_tui.core.judging import is_judge
from dpo_tui.core.models import (
    Candidate,
    Flag,
    Judgement,
    PairPolicyName,
    PairStatus,
    PreferencePair,
    Prompt,
    Resolution,
    Rubric,
)
from dpo_tui.core.pairs import AnnotatorPair, ProjectPair, extract_pairs
from dpo_tui.core.revision import RevisionStep
from dpo_tui.core.scoring import JudgedTotals, total, vetoes
from dpo_tui.store.bulk import collector_paused
from dpo_tui.store.project import ProjectStore


@dataclass
class PreferencePairs:
    """Every pair of a project, and why judged items gave none."""

    pairs: list[PreferencePair] = field(default_factory=list)
    no_pair_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def exportable(self) -> list[PreferencePair]:
        return [p for p in self.pairs if p.status != "disputed"]

    @property
    def disputed(self) -> list[PreferencePair]:
        return [p for p in self.pairs if p.status == "disputed"]


@dataclass
class ProjectPairs:
    """Every pair of a project by candidate id (no texts), and why judged items gave none."""

    pairs: list[ProjectPair] = field(default_factory=list)
    no_pair_reasons: Counter[str] = field(default_factory=Counter)

    def disputed_prompts(self) -> set[str]:
        return {p.prompt_id for p in self.pairs if p.status == "disputed"}


@dataclass(frozen=True)
class ProjectAnnotations:
    """Everything annotators recorded in a project, read in a few whole-table queries
    (per-prompt queries cost minutes on a merged team project), without candidate texts."""

    prompt_ids: list[str]
    """every prompt id, in import order"""
    candidate_ids: dict[str, list[str]]
    """prompt id -> its candidates' ids, in the order they were added"""
    scores: dict[tuple[str, str], dict[str, dict[str, int]]]
    """(prompt id, annotator) -> candidate id -> criterion -> value"""
    judgements: dict[tuple[str, str], Judgement]
    """(prompt id, annotator) -> judgement"""
    totals: JudgedTotals
    """each scored candidate's weighted total, computed once for pairs and the report"""

    @classmethod
    def load(cls, store: ProjectStore, *, judges: bool = False) -> ProjectAnnotations:
        """The project's annotations; a judge model's only if `judges` (they form no pairs
        and count in no human agreement unless asked: `report --judge`, `--judge-pairs`)."""
        rubric = store.rubric
        scores = store.scores_by_item()
        loaded = cls(
            prompt_ids=store.prompt_ids_in_order(),
            candidate_ids=store.candidate_ids_by_prompt(),
            scores=scores,
            judgements=store.judgements_by_item(),
            totals={
                key: {cid: total(rubric, values) for cid, values in item.items()}
                for key, item in scores.items()
            },
        )
        return loaded if judges else loaded.without(loaded.judges())

    def judges(self) -> set[str]:
        """The judge models among the annotators."""
        return {a for _, a in self.scores.keys() | self.judgements.keys() if is_judge(a)}

    def revised(self, rubric: Rubric, step: RevisionStep) -> ProjectAnnotations:
        """These annotations as they count after the revision `step` to `rubric` (each
        distinct card translated once), without reading the project again."""
        translated: dict[int, dict[str, int]] = {}
        scores: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for key, item in self.scores.items():
            cards = {}
            for cid, card in item.items():
                done = translated.get(id(card))
                if done is None:
                    done = translated[id(card)] = step.translate(card)
                cards[cid] = done
            scores[key] = cards
        return ProjectAnnotations(
            prompt_ids=self.prompt_ids,
            candidate_ids=self.candidate_ids,
            scores=scores,
            judgements=self.judgements,
            totals={
                key: {cid: total(rubric, values) for cid, values in item.items()}
                for key, item in scores.items()
            },
        )

    def without(self, annotators: Collection[str]) -> ProjectAnnotations:
        """These annotations less everything `annotators` recorded (an item several judged
        is then decided by the others)."""
        if not annotators:
            return self
        left = set(annotators)
        return dataclasses.replace(
            self,
            scores={k: v for k, v in self.scores.items() if k[1] not in left},
            judgements={k: v for k, v in self.judgements.items() if k[1] not in left},
            totals={k: v for k, v in self.totals.items() if k[1] not in left},
        )

    def judged(self) -> list[tuple[str, str]]:
        """Every (prompt id, annotator) with a score or a judgement, sorted."""
        return sorted(self.scores.keys() | self.judgements.keys())


@dataclass(frozen=True)
class _Judged:
    annotator: str
    scores: dict[str, dict[str, int]]
    totals: dict[str, float | None]
    diagnosis: str
    flags: tuple[Flag, ...]


@collector_paused()
def judge_pairs(
    store: ProjectStore,
    policy: PairPolicyName | None = None,
    min_margin: float | None = None,
    annotations: ProjectAnnotations | None = None,
) -> ProjectPairs:
    """Pairs from every judged prompt of the project, in prompt import order, by candidate
    id; pass `annotations` already loaded from `store` to read them only once."""
    rubric = store.rubric
    resolutions = store.resolutions()
    result = ProjectPairs()
    for prompt_id, candidates, judged in _judged_items(
        annotations or ProjectAnnotations.load(store)
    ):
        outcomes: dict[str, tuple[AnnotatorPair, ...]] = {}
        for one in judged:
            table = [(cid, one.scores.get(cid, {})) for cid in candidates]
            outcome = extract_pairs(rubric, table, one.flags, policy, min_margin, one.totals)
            if outcome.reason:
                result.no_pair_reasons[outcome.reason.split(":")[0]] += 1
            outcomes[one.annotator] = outcome.pairs
        resolution = resolutions.get(prompt_id)
        if resolution is None:
            result.pairs += _combine(rubric, prompt_id, judged, outcomes)
        else:
            result.pairs += _adjudicated(rubric, prompt_id, candidates, judged, resolution)
    return result


@collector_paused()
def collect_pairs(
    store: ProjectStore,
    policy: PairPolicyName | None = None,
    min_margin: float | None = None,
    exclude: Collection[str] = (),
    annotations: ProjectAnnotations | None = None,
) -> PreferencePairs:
    """`judge_pairs` with the prompts' and candidates' texts: what export writes; without
    what the annotators in `exclude` recorded. Pass `annotations` already loaded from `store`
    to form pairs from those (e.g. with a judge's)."""
    annotations = (annotations or ProjectAnnotations.load(store)).without(exclude)
    judged = judge_pairs(store, policy, min_margin, annotations)
    prompts = {p.id: p for p in store.prompts()}
    candidates = {c.id: c for group in store.candidates_by_prompt().values() for c in group}
    return PreferencePairs(
        [_preference(pair, prompts[pair.prompt_id], candidates) for pair in judged.pairs],
        judged.no_pair_reasons,
    )


def _judged_items(
    annotations: ProjectAnnotations,
) -> Iterator[tuple[str, list[str], list[_Judged]]]:
    """(prompt id, its candidate ids, each annotator's view) of every judged prompt with
    two or more candidates, in import order."""
    annotators: dict[str, list[str]] = {}
    for pid, annotator in annotations.judged():
        annotators.setdefault(pid, []).append(annotator)
    for prompt_id in annotations.prompt_ids:
        candidates = annotations.candidate_ids.get(prompt_id, [])
        if len(candidates) < 2 or prompt_id not in annotators:
            continue
        judged = []
        for annotator in annotators[prompt_id]:
            key = (prompt_id, annotator)
            judgement = annotations.judgements.get(key)
            judged.append(
                _Judged(
                    annotator,
                    annotations.scores.get(key, {}),
                    annotations.totals.get(key, {}),
                    judgement.diagnosis if judgement else "",
                    judgement.flags if judgement else (),
                )
            )
        yield prompt_id, candidates, judged


@collector_paused()
def exportable_pair_keys(
    store: ProjectStore, annotations: ProjectAnnotations
) -> set[tuple[str, str, str]]:
    """(prompt id, chosen id, rejected id) of every pair `judge_pairs` gives that is not
    disputed, without making the pairs themselves: to compare two rubric versions quickly."""
    rubric = store.rubric
    resolutions = store.resolutions()
    keys = set()
    for prompt_id, candidates, judged in _judged_items(annotations):
        resolution = resolutions.get(prompt_id)
        if resolution is not None:
            resolved = _resolved(candidates, resolution)
            if resolved is not None:
                keys.add((prompt_id, *resolved))
            continue
        outcomes = {
            one.annotator: extract_pairs(
                rubric,
                [(cid, one.scores.get(cid, {})) for cid in candidates],
                one.flags,
                totals=one.totals,
            ).pairs
            for one in judged
        }
        keys |= {
            (prompt_id, chosen, rejected)
            for (chosen, rejected), _, status in _decided(rubric, judged, outcomes)
            if status != "disputed"
        }
    return keys


def _decided(
    rubric: Rubric, judged: list[_Judged], outcomes: dict[str, tuple[AnnotatorPair, ...]]
) -> Iterator[tuple[tuple[str, str], list[tuple[str, AnnotatorPair]], PairStatus]]:
    """Each pair some annotator made: (chosen, rejected), who made it and how, its status."""
    makers: dict[tuple[str, str], list[tuple[str, AnnotatorPair]]] = {}
    for annotator, choices in outcomes.items():
        for choice in choices:
            makers.setdefault((choice.chosen, choice.rejected), []).append((annotator, choice))
    for (chosen, rejected), made in makers.items():
        names = {annotator for annotator, _ in made}
        others = [j for j in judged if j.annotator not in names]
        if not others and len(names) == 1:
            status: PairStatus = "single"
        elif all(_agrees(rubric, j, chosen, rejected) for j in others):
            status = "agreed"
        else:
            status = "disputed"
        yield (chosen, rejected), made, status


def _combine(
    rubric: Rubric,
    prompt_id: str,
    judged: list[_Judged],
    outcomes: dict[str, tuple[AnnotatorPair, ...]],
) -> list[ProjectPair]:
    pairs = []
    for (chosen, rejected), made, status in _decided(rubric, judged, outcomes):
        names = {annotator for annotator, _ in made}
        margin = round(sum(c.margin for _, c in made) / len(made), 4)
        by_veto = any(c.by_veto for _, c in made)
        voters = [j for j in judged if j.annotator in names]
        pairs.append(_pair(prompt_id, chosen, rejected, voters, margin, by_veto, status))
    return pairs


def _resolved(candidates: list[str], resolution: Resolution) -> tuple[str, str] | None:
    """The resolver's (chosen, rejected), or None for "no pair" (or a candidate gone)."""
    chosen, rejected = resolution.chosen_id, resolution.rejected_id
    if chosen is None or rejected is None or chosen not in candidates or rejected not in candidates:
        return None
    return chosen, rejected


def _pair(
    prompt_id: str,
    chosen: str,
    rejected: str,
    voters: list[_Judged],
    margin: float,
    by_veto: bool,
    status: PairStatus,
    note: str = "",
) -> ProjectPair:
    diagnoses = [
        f"{j.annotator}: {j.diagnosis.strip()}" if len(voters) > 1 else j.diagnosis.strip()
        for j in voters
        if j.diagnosis.strip()
    ]
    return ProjectPair(
        prompt_id=prompt_id,
        chosen_id=chosen,
        rejected_id=rejected,
        margin=margin,
        by_veto=by_veto,
        status=status,
        annotators=tuple(sorted(j.annotator for j in voters)),
        chosen_scores=_mean_scores(voters, chosen),
        rejected_scores=_mean_scores(voters, rejected),
        diagnosis="\n\n".join(([note.strip()] if note.strip() else []) + diagnoses),
    )


def _preference(
    pair: ProjectPair, prompt: Prompt, candidates: dict[str, Candidate]
) -> PreferencePair:
    chosen, rejected = candidates[pair.chosen_id], candidates[pair.rejected_id]
    return PreferencePair(
        prompt_id=pair.prompt_id,
        prompt=prompt.text,
        messages=prompt.messages,
        source=prompt.source,
        chosen_id=pair.chosen_id,
        rejected_id=pair.rejected_id,
        chosen=chosen.text,
        rejected=rejected.text,
        diagnosis=pair.diagnosis,
        chosen_scores=pair.chosen_scores,
        rejected_scores=pair.rejected_scores,
        margin=pair.margin,
        by_veto=pair.by_veto,
        annotators=pair.annotators,
        status=pair.status,
        chosen_origin=chosen.origin,
        rejected_origin=rejected.origin,
        chosen_params=chosen.params,
        rejected_params=rejected.params,
    )


def _adjudicated(
    rubric: Rubric,
    prompt_id: str,
    candidates: list[str],
    judged: list[_Judged],
    resolution: Resolution,
) -> list[ProjectPair]:
    """The resolver's pair (or none) in place of the annotators' pairs for this prompt."""
    resolved = _resolved(candidates, resolution)
    if resolved is None:
        return []
    chosen, rejected = resolved
    margins = []
    for one in judged:
        high, low = one.totals.get(chosen), one.totals.get(rejected)
        if high is not None and low is not None:
            margins.append(high - low)
    margin = round(sum(margins) / len(margins), 4) if margins else 0.0
    by_veto = any(vetoes(rubric, one.scores.get(rejected, {})) for one in judged)
    note = f"adjudicated by {resolution.resolver}: {resolution.note}".rstrip(": ")
    return [_pair(prompt_id, chosen, rejected, judged, margin, by_veto, "adjudicated", note)]


def _agrees(rubric: Rubric, other: _Judged, chosen: str, rejected: str) -> bool:
    """Does an annotator who did not make this pair rank `chosen` above `rejected` too?
    Abstaining (skip, or not fully scoring both) counts as agreeing; calling the item a tie,
    all bad or unclear does not."""
    if {"unclear", "tie", "all_bad"} & set(other.flags):
        return False
    if "skip" in other.flags:
        return True
    high_total, low_total = other.totals.get(chosen), other.totals.get(rejected)
    if high_total is None or low_total is None:
        return True
    if vetoes(rubric, other.scores[chosen]):
        return False
    return bool(vetoes(rubric, other.scores[rejected])) or high_total > low_total


def _mean_scores(voters: list[_Judged], candidate: str) -> dict[str, float]:
    if len(voters) == 1:  # most pairs: the mean of one score is that score
        scores = voters[0].scores.get(candidate, {})
        return {key: float(scores[key]) for key in sorted(scores)}
    keys = {k for j in voters for k in j.scores.get(candidate, {})}
    mean = {}
    for key in sorted(keys):
        values = [j.scores[candidate][key] for j in voters if key in j.scores.get(candidate, {})]
        mean[key] = round(sum(values) / len(values), 3)
    return mean
