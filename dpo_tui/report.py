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
from dpo_tui.dataset import collect_pairs
from dpo_tui.store.project import ProjectStore


def project_report(
    store: ProjectStore, policy: PairPolicyName | None = None, min_margin: float | None = None
) -> QualityReport:
    """Every figure of the quality report for the project's current state."""
    pair_set = collect_pairs(store, policy, min_margin)
    prompts = [(p.id, p.text, p.messages is not None) for p in store.prompts()]
    candidates = [
        CandidateFacts(
            id=cid,
            prompt_id=pid,
            length=length,
            preset=preset or "",
            near_duplicate_of=duplicate,
            similarity=similarity,
        )
        for cid, pid, length, preset, duplicate, similarity in store.db.execute(
            "select id, prompt_id, length(text), preset, near_duplicate_of, similarity "
            "from candidates order by rowid"
        )
    ]
    judgements = []
    for pid, annotator in store.db.execute(
        "select prompt_id, annotator from judgements union "
        "select c.prompt_id, s.annotator from scores s join candidates c on c.id = s.candidate_id"
    ):
        judgement = store.judgement(pid, annotator)
        judgements.append(
            JudgementFacts(
                prompt_id=pid,
                annotator=annotator,
                flags=judgement.flags if judgement else (),
                display_order=judgement.display_order if judgement else (),
                seconds_spent=judgement.seconds_spent if judgement else 0.0,
                scores=store.scores(pid, annotator),
                updated_at=judgement.updated_at if judgement else "",
            )
        )
    data = ReportInput(
        prompts=prompts,
        candidates=candidates,
        judgements=judgements,
        pairs=pair_set.pairs,
        no_pair_reasons=dict(pair_set.no_pair_reasons),
    )
    return build_report(store.rubric, data)
