"""The quality report of a project, its rubric health, its annotators' cards and its judges'
calibration: gathers facts from the store for `core.quality`, `core.rubric_health`,
`core.annotator_cards` and `core.judge_calibration`."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from dpo_tui.core.annotator_cards import AnnotatorCards, CardInput, WorkedItem, annotator_cards
from dpo_tui.core.judge_calibration import (
    CalibrationInput,
    JudgeFacts,
    VerdictFacts,
    judge_calibration,
)
from dpo_tui.core.judge_figures import JudgeCalibration
from dpo_tui.core.judging import is_judge
from dpo_tui.core.models import Judgement, PairPolicyName
from dpo_tui.core.quality import (
    CandidateFacts,
    JudgementFacts,
    QualityReport,
    ReportInput,
    build_report,
)
from dpo_tui.core.rubric_health import HealthInput, RubricHealth, rubric_health
from dpo_tui.errors import DpoError
from dpo_tui.services.pairing import ProjectAnnotations, judge_pairs
from dpo_tui.store.bulk import collector_paused
from dpo_tui.store.project import ProjectStore


@collector_paused()
def project_report(
    store: ProjectStore, policy: PairPolicyName | None = None, min_margin: float | None = None
) -> QualityReport:
    """Every figure of the quality report for the project's current state."""
    annotations = ProjectAnnotations.load(store)
    judged = judge_pairs(store, policy, min_margin, annotations)
    judgements = [
        JudgementFacts(
            prompt_id=judgement.prompt_id,
            annotator=judgement.annotator,
            flags=judgement.flags,
            display_order=judgement.display_order,
            seconds_spent=judgement.seconds_spent,
            scores=scores,
            updated_at=judgement.updated_at,
            totals=annotations.totals.get((judgement.prompt_id, judgement.annotator), {}),
        )
        for judgement, scores in _judged(annotations)
    ]
    data = ReportInput(
        prompts=[(p.id, p.text, p.messages is not None) for p in store.prompts()],
        candidates=[CandidateFacts(*row) for row in store.candidate_facts()],
        judgements=judgements,
        pairs=judged.pairs,
        no_pair_reasons=dict(judged.no_pair_reasons),
        near_duplicate_prompts=store.near_duplicate_prompts(),
    )
    return build_report(store.rubric, data)


@collector_paused()
def rubric_health_report(store: ProjectStore) -> RubricHealth:
    """Per criterion of the current rubric: agreement, discrimination, how often it decides
    a pair, correlations, length, disputes, and advice (`core.rubric_health`)."""
    annotations = ProjectAnnotations.load(store)
    judged = judge_pairs(store, annotations=annotations)
    data = HealthInput(
        cards=annotations.scores, lengths=store.candidate_lengths(), pairs=judged.pairs
    )
    return rubric_health(store.rubric, store.rubric_version, data)


@collector_paused()
def annotator_cards_report(store: ProjectStore) -> AnnotatorCards:
    """One report card per annotator (`core.annotator_cards`), against the gold items."""
    annotations = ProjectAnnotations.load(store)
    items = [
        WorkedItem(
            prompt_id=judgement.prompt_id,
            annotator=judgement.annotator,
            candidates=annotations.candidate_ids.get(judgement.prompt_id, []),
            scores=scores,
            flags=judgement.flags,
            display_order=judgement.display_order,
            seconds_spent=judgement.seconds_spent,
            diagnosis=judgement.diagnosis,
            updated_at=judgement.updated_at,
        )
        for judgement, scores in _judged(annotations)
    ]
    data = CardInput(items=items, lengths=store.candidate_lengths(), gold=store.gold())
    return annotator_cards(store.rubric, data)


def _judged(
    annotations: ProjectAnnotations,
) -> Iterator[tuple[Judgement, dict[str, dict[str, int]]]]:
    """Each (prompt, annotator) with a score or a judgement, sorted: its judgement (a blank
    one where the annotator only scored) and its scores (candidate id -> card)."""
    for key in annotations.judged():
        judgement = annotations.judgements.get(key)
        if judgement is None:
            judgement = Judgement(prompt_id=key[0], annotator=key[1])
        yield judgement, annotations.scores.get(key, {})


def project_judges(store: ProjectStore) -> list[str]:
    """Every judge model that answered or scored in the project, sorted."""
    named = {a for a in store.annotator_names() if is_judge(a)}
    return sorted(named | set(store.judge_names()))


@collector_paused()
def judge_report(store: ProjectStore) -> JudgeCalibration:
    """How far to trust each judge of the project (`core.judge_calibration`), against its
    human annotators; a DpoError if no judge has scored it."""
    if not project_judges(store):
        raise DpoError(
            f"{store.path}: no judge model has scored this project yet",
            hint=f"run `dpo-tui judge {store.path}` first, then this report",
        )
    return calibrate(store, ProjectAnnotations.load(store, judges=True))


def calibrate(
    store: ProjectStore, annotations: ProjectAnnotations, judges: Collection[str] | None = None
) -> JudgeCalibration:
    """The calibration of `judges` (default: every judge of the project) on `annotations`
    (loaded from `store` with the judges)."""
    names = sorted(judges) if judges is not None else project_judges(store)
    data = CalibrationInput(
        cards=annotations.scores,
        judgements=annotations.judgements,
        judges=[
            JudgeFacts(
                name=name,
                samples=store.judge_cards(name),
                verdicts=[VerdictFacts(*v) for v in store.judge_verdicts(name)],
                failures=store.judge_failures(name),
            )
            for name in names
        ],
        lengths=store.candidate_lengths(),
        totals=annotations.totals,
    )
    return judge_calibration(store.rubric, data)
