"""The quality report of a project, and its rubric health: gathers facts from the store for
`core.quality` and `core.rubric_health`."""

from __future__ import annotations

from dpo_tui.core.annotator_cards import AnnotatorCards, CardInput, WorkedItem, annotator_cards
from dpo_tui.core.models import PairPolicyName
from dpo_tui.core.quality import (
    CandidateFacts,
    JudgementFacts,
    QualityReport,
    ReportInput,
    build_report,
)
from dpo_tui.core.rubric_health import HealthInput, RubricHealth, rubric_health
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
    judgements = []
    for key in annotations.judged():
        judgement = annotations.judgements.get(key)
        judgements.append(
            JudgementFacts(
                prompt_id=key[0],
                annotator=key[1],
                flags=judgement.flags if judgement else (),
                display_order=judgement.display_order if judgement else (),
                seconds_spent=judgement.seconds_spent if judgement else 0.0,
                scores=annotations.scores.get(key, {}),
                updated_at=judgement.updated_at if judgement else "",
                totals=annotations.totals.get(key, {}),
            )
        )
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
    items = []
    for key in annotations.judged():
        judgement = annotations.judgements.get(key)
        items.append(
            WorkedItem(
                prompt_id=key[0],
                annotator=key[1],
                candidates=annotations.candidate_ids.get(key[0], []),
                scores=annotations.scores.get(key, {}),
                flags=judgement.flags if judgement else (),
                display_order=judgement.display_order if judgement else (),
                seconds_spent=judgement.seconds_spent if judgement else 0.0,
                diagnosis=judgement.diagnosis if judgement else "",
                updated_at=judgement.updated_at if judgement else "",
            )
        )
    data = CardInput(items=items, lengths=store.candidate_lengths(), gold=store.gold())
    return annotator_cards(store.rubric, data)
