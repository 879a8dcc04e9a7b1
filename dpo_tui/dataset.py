"""A project's judgements as preference pairs, across annotators.

Each annotator's scores give pairs under the policy (`core.pairs`). Where several annotators
judged a prompt, a pair is `agreed` when every other annotator who fully scored both
candidates ranks them the same way (or vetoes the rejected one), and `disputed` otherwise
(or when another annotator flagged the item tie, all bad or unclear); disputed pairs are
kept out of exports. A pair only one annotator judged is `single`. An adjudicated prompt
gives the resolver's pair (`adjudicated`), or none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from dpo_tui.bulk import collector_paused
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
from dpo_tui.core.pairs import PairChoice, extract_pairs
from dpo_tui.core.scoring import Scores, total, vetoes
from dpo_tui.store.project import ProjectStore


@dataclass
class PairSet:
    """Every pair of a project, and why judged items gave none."""

    pairs: list[PreferencePair] = field(default_factory=list)
    no_pair_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def exportable(self) -> list[PreferencePair]:
        return [p for p in self.pairs if p.status != "disputed"]

    @property
    def disputed(self) -> list[PreferencePair]:
        return [p for p in self.pairs if p.status == "disputed"]


@dataclass(frozen=True)
class ProjectAnnotations:
    """Everything annotators recorded in a project, read in a few whole-table queries:
    per-prompt queries cost minutes on a merged team project."""

    prompts: list[Prompt]
    candidates: dict[str, list[Candidate]]
    """prompt id -> its candidates, in the order they were added"""
    scores: dict[tuple[str, str], dict[str, dict[str, int]]]
    """(prompt id, annotator) -> candidate id -> criterion -> value"""
    judgements: dict[tuple[str, str], Judgement]
    """(prompt id, annotator) -> judgement"""

    @classmethod
    def load(cls, store: ProjectStore) -> ProjectAnnotations:
        return cls(
            prompts=list(store.prompts()),
            candidates=store.candidates_by_prompt(),
            scores=store.scores_by_item(),
            judgements=store.judgements_by_item(),
        )

    def judged(self) -> list[tuple[str, str]]:
        """Every (prompt id, annotator) with a score or a judgement, sorted."""
        return sorted(self.scores.keys() | self.judgements.keys())


@dataclass(frozen=True)
class _Judged:
    annotator: str
    scores: dict[str, dict[str, int]]
    diagnosis: str
    flags: tuple[Flag, ...]


@collector_paused()
def collect_pairs(
    store: ProjectStore,
    policy: PairPolicyName | None = None,
    min_margin: float | None = None,
    annotations: ProjectAnnotations | None = None,
) -> PairSet:
    """Pairs from every judged prompt of the project, in prompt import order; pass
    `annotations` already loaded from `store` to read them only once."""
    rubric = store.rubric
    resolutions = store.resolutions()
    result = PairSet()
    for prompt, candidates, judged in _judged_items(annotations or ProjectAnnotations.load(store)):
        outcomes: dict[str, tuple[PairChoice, ...]] = {}
        for one in judged:
            table = [(c.id, one.scores.get(c.id, {})) for c in candidates]
            outcome = extract_pairs(rubric, table, one.flags, policy, min_margin)
            if outcome.reason:
                result.no_pair_reasons[outcome.reason.split(":")[0]] += 1
            outcomes[one.annotator] = outcome.pairs
        resolution = resolutions.get(prompt.id)
        if resolution is None:
            result.pairs += _combine(rubric, prompt, candidates, judged, outcomes)
        else:
            result.pairs += _adjudicated(rubric, prompt, candidates, judged, resolution)
    return result


def _judged_items(
    annotations: ProjectAnnotations,
) -> Iterator[tuple[Prompt, list[Candidate], list[_Judged]]]:
    annotators: dict[str, list[str]] = {}
    for pid, annotator in annotations.judged():
        annotators.setdefault(pid, []).append(annotator)
    for prompt in annotations.prompts:
        candidates = annotations.candidates.get(prompt.id, [])
        if len(candidates) < 2 or prompt.id not in annotators:
            continue
        judged = []
        for annotator in annotators[prompt.id]:
            judgement = annotations.judgements.get((prompt.id, annotator))
            judged.append(
                _Judged(
                    annotator,
                    annotations.scores.get((prompt.id, annotator), {}),
                    judgement.diagnosis if judgement else "",
                    judgement.flags if judgement else (),
                )
            )
        yield prompt, candidates, judged


def _combine(
    rubric: Rubric,
    prompt: Prompt,
    candidates: list[Candidate],
    judged: list[_Judged],
    outcomes: dict[str, tuple[PairChoice, ...]],
) -> list[PreferencePair]:
    by_id = {c.id: c for c in candidates}
    makers: dict[tuple[str, str], list[tuple[str, PairChoice]]] = {}
    for annotator, choices in outcomes.items():
        for choice in choices:
            makers.setdefault((choice.chosen, choice.rejected), []).append((annotator, choice))
    pairs = []
    for (chosen, rejected), made in makers.items():
        names = {annotator for annotator, _ in made}
        others = [j for j in judged if j.annotator not in names]
        if not others and len(names) == 1:
            status: PairStatus = "single"
        elif all(_agrees(rubric, j, chosen, rejected) for j in others):
            status = "agreed"
        else:
            status = "disputed"
        margin = round(sum(c.margin for _, c in made) / len(made), 4)
        by_veto = any(c.by_veto for _, c in made)
        voters = [j for j in judged if j.annotator in names]
        pairs.append(_pair(prompt, by_id, chosen, rejected, voters, margin, by_veto, status))
    return pairs


def _pair(
    prompt: Prompt,
    by_id: dict[str, Candidate],
    chosen: str,
    rejected: str,
    voters: list[_Judged],
    margin: float,
    by_veto: bool,
    status: PairStatus,
    note: str = "",
) -> PreferencePair:
    diagnoses = [
        f"{j.annotator}: {j.diagnosis.strip()}" if len(voters) > 1 else j.diagnosis.strip()
        for j in voters
        if j.diagnosis.strip()
    ]
    return PreferencePair(
        prompt_id=prompt.id,
        prompt=prompt.text,
        messages=prompt.messages,
        source=prompt.source,
        chosen_id=chosen,
        rejected_id=rejected,
        chosen=by_id[chosen].text,
        rejected=by_id[rejected].text,
        diagnosis="\n\n".join(([note.strip()] if note.strip() else []) + diagnoses),
        chosen_scores=_mean_scores(voters, chosen),
        rejected_scores=_mean_scores(voters, rejected),
        margin=margin,
        by_veto=by_veto,
        annotators=tuple(sorted(j.annotator for j in voters)),
        status=status,
        chosen_origin=by_id[chosen].origin,
        rejected_origin=by_id[rejected].origin,
        chosen_params=by_id[chosen].params,
        rejected_params=by_id[rejected].params,
    )


def _adjudicated(
    rubric: Rubric,
    prompt: Prompt,
    candidates: list[Candidate],
    judged: list[_Judged],
    resolution: Resolution,
) -> list[PreferencePair]:
    """The resolver's pair (or none) in place of the annotators' pairs for this prompt."""
    by_id = {c.id: c for c in candidates}
    chosen, rejected = resolution.chosen_id, resolution.rejected_id
    if chosen is None or rejected is None or chosen not in by_id or rejected not in by_id:
        return []
    margins = []
    for one in judged:
        high = total(rubric, one.scores.get(chosen, {}))
        low = total(rubric, one.scores.get(rejected, {}))
        if high is not None and low is not None:
            margins.append(high - low)
    margin = round(sum(margins) / len(margins), 4) if margins else 0.0
    by_veto = any(vetoes(rubric, one.scores.get(rejected, {})) for one in judged)
    note = f"adjudicated by {resolution.resolver}: {resolution.note}".rstrip(": ")
    return [_pair(prompt, by_id, chosen, rejected, judged, margin, by_veto, "adjudicated", note)]


def _agrees(rubric: Rubric, other: _Judged, chosen: str, rejected: str) -> bool:
    """Does an annotator who did not make this pair rank `chosen` above `rejected` too?
    Abstaining (skip, or not fully scoring both) counts as agreeing; calling the item a tie,
    all bad or unclear does not."""
    if {"unclear", "tie", "all_bad"} & set(other.flags):
        return False
    if "skip" in other.flags:
        return True
    high: Scores = other.scores.get(chosen, {})
    low: Scores = other.scores.get(rejected, {})
    high_total, low_total = total(rubric, high), total(rubric, low)
    if high_total is None or low_total is None:
        return True
    if vetoes(rubric, high):
        return False
    return bool(vetoes(rubric, low)) or high_total > low_total


def _mean_scores(voters: list[_Judged], candidate: str) -> dict[str, float]:
    keys = {k for j in voters for k in j.scores.get(candidate, {})}
    mean = {}
    for key in sorted(keys):
        values = [j.scores[candidate][key] for j in voters if key in j.scores.get(candidate, {})]
        mean[key] = round(sum(values) / len(values), 3)
    return mean
