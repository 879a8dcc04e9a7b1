"""The quality report of a project: gathers facts from the store for `core.quality`."""

from __future__ import annotations

from dpo_tui.core.models import PairPolicyName
from dpo_tui.core.quality import (
    CandidateFacts,
    JudgementFacts,
    QualityReport,
    ReportInput,
    build_report,
)
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
        prompts=[(p.id, p.text, p.messages is not None) for p in annotations.prompts],
        candidates=[CandidateFacts(*row) for row in store.candidate_facts()],
        judgements=judgements,
        pairs=judged.pairs,
        no_pair_reasons=dict(judged.no_pair_reasons),
        near_duplicate_prompts=store.near_duplicate_prompts(),
    )
    return build_report(store.rubric, data)
