"""The quality report's figures, from plain data: counts, duplicates, distributions, biases,
annotator load, and warnings in plain words with the number behind each."""

from __future__ import annotations

import itertools
import statistics
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from dpo_tui.core.agreement import DEFAULT_TARGET, pair_direction_agreement
from dpo_tui.core.agreement_report import AgreementReport, agreement_report
from dpo_tui.core.dedup import NEAR_DUPLICATE
from dpo_tui.core.models import CANDIDATE_LABELS, Rubric
from dpo_tui.core.pairs import ProjectPair
from dpo_tui.core.scoring import JudgedTotals, total

MARGIN_BINS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0001)
LEVELS = (("low", 0.0, 1 / 3), ("medium", 1 / 3, 2 / 3), ("high", 2 / 3, 1.0001))
MIN_PAIRS_FOR_BIAS = 20
LENGTH_BIAS_WARNING = 0.7
"""A share of pairs whose chosen response is the longer one that warrants a warning."""
FIRST_ROUND = 100


@dataclass(frozen=True)
class CandidateFacts:
    id: str
    prompt_id: str
    length: int
    preset: str
    near_duplicate_of: str | None
    similarity: float | None


@dataclass(frozen=True)
class JudgementFacts:
    prompt_id: str
    annotator: str
    flags: tuple[str, ...]
    display_order: tuple[str, ...]
    seconds_spent: float
    scores: dict[str, dict[str, int]]
    """candidate id -> criterion -> value"""
    updated_at: str = ""
    totals: dict[str, float | None] | None = None
    """candidate id -> `scoring.total` of its scores, when already computed"""


@dataclass(frozen=True)
class ReportInput:
    prompts: Sequence[tuple[str, str, bool]]
    """(id, text, is a conversation)"""
    candidates: Sequence[CandidateFacts]
    judgements: Sequence[JudgementFacts]
    pairs: Sequence[ProjectPair]
    no_pair_reasons: dict[str, int]
    near_duplicate_prompts: Sequence[tuple[str, str, float]] = ()
    """(first id, second id, similarity), e.g. `core.dedup.near_duplicate_pairs` by id"""


class ReportWarning(BaseModel):
    code: str
    message: str
    value: float


class AnnotatorLoad(BaseModel):
    annotator: str
    items: int
    share: float
    hours: float
    items_per_hour: float | None


class DriftPeriod(BaseModel):
    """Pair-direction agreement on the shared items judged in one period."""

    first: str
    last: str
    items: int
    percent: float | None


class QualityReport(BaseModel):
    counts: dict[str, int]
    flags: dict[str, int]
    no_pair_reasons: dict[str, int]
    near_duplicate_prompts: list[dict[str, object]]
    near_identical_candidates: list[dict[str, object]]
    score_histograms: dict[str, dict[int, int]]
    margin_histogram: dict[str, int]
    quality_levels: dict[str, dict[str, int]]
    length_bias: dict[str, float]
    position_bias: dict[str, float]
    presets: dict[str, dict[str, float]]
    annotators: list[AnnotatorLoad]
    agreement: AgreementReport | None
    """On items judged by 2+ annotators; None when no item was."""
    agreement_drift: list[DriftPeriod]
    """The shared items in up to four consecutive periods of when they were judged."""
    warnings: list[ReportWarning]


def build_report(rubric: Rubric, data: ReportInput) -> QualityReport:
    """Every figure of the report; `warnings` say in words where the data is weak."""
    exportable = [p for p in data.pairs if p.status != "disputed"]
    judged_prompts = {j.prompt_id for j in data.judgements}
    candidates = {c.id: c for c in data.candidates}
    totals: JudgedTotals = {
        (j.prompt_id, j.annotator): (
            {cid: total(rubric, s) for cid, s in j.scores.items()} if j.totals is None else j.totals
        )
        for j in data.judgements
    }
    counts = {
        "prompts": len(data.prompts),
        "conversational_prompts": sum(1 for _, _, convo in data.prompts if convo),
        "candidates": len(data.candidates),
        "prompts_with_candidates": len({c.prompt_id for c in data.candidates}),
        "judged_prompts": len(judged_prompts),
        "judgements": len(data.judgements),
        "pairs": len(data.pairs),
        "exportable_pairs": len(exportable),
        "disputed_pairs": len(data.pairs) - len(exportable),
        "agreed_pairs": sum(1 for p in data.pairs if p.status == "agreed"),
    }
    report = QualityReport(
        counts=counts,
        flags=dict(Counter(flag for j in data.judgements for flag in j.flags)),
        no_pair_reasons=dict(data.no_pair_reasons),
        near_duplicate_prompts=_near_duplicate_prompts(data),
        near_identical_candidates=[
            {
                "candidate_id": c.id,
                "prompt_id": c.prompt_id,
                "duplicate_of": c.near_duplicate_of,
                "similarity": c.similarity,
            }
            for c in data.candidates
            if c.near_duplicate_of
        ],
        score_histograms=_score_histograms(rubric, data.judgements),
        margin_histogram=_histogram([p.margin for p in exportable], MARGIN_BINS),
        quality_levels=_quality_levels(rubric, data.judgements, totals, exportable),
        length_bias=_length_bias(exportable, candidates),
        position_bias=_position_bias(exportable, data.judgements),
        presets=_presets(exportable, candidates),
        annotators=_annotators(data.judgements),
        agreement=_agreement(rubric, data.judgements, totals),
        agreement_drift=_drift(rubric, data.judgements, totals),
        warnings=[],
    )
    report.warnings = _warnings(report)
    return report


def _near_duplicate_prompts(data: ReportInput) -> list[dict[str, object]]:
    text = {pid: prompt for pid, prompt, _ in data.prompts}
    return [
        {
            "first_id": first,
            "second_id": second,
            "similarity": round(score, 3),
            "first_text": text[first][:100],
            "second_text": text[second][:100],
        }
        for first, second, score in data.near_duplicate_prompts
    ]


def _score_histograms(
    rubric: Rubric, judgements: Sequence[JudgementFacts]
) -> dict[str, dict[int, int]]:
    histograms = {c.key: dict.fromkeys(c.scale.points, 0) for c in rubric.criteria}
    for judgement in judgements:
        for scores in judgement.scores.values():
            for key, value in scores.items():
                if key in histograms and value in histograms[key]:
                    histograms[key][value] += 1
    return histograms


def _histogram(values: Sequence[float], bins: Sequence[float]) -> dict[str, int]:
    """Counts per bin; values below the first bin (veto pairs' negative margins) get their own."""
    below = sum(1 for v in values if v < bins[0])
    result = {f"below {bins[0]:.2f} (veto)": below} if below else {}
    for low, high in itertools.pairwise(bins):
        label = f"{low:.2f}-{min(high, 1.0):.2f}"
        result[label] = sum(1 for v in values if low <= v < high)
    return result


_LEVEL_NAMES = [name for name, _, _ in LEVELS]
_LEVEL_TOPS = [high for _, _, high in LEVELS[:-1]]


def _level(value: float) -> str:
    return _LEVEL_NAMES[bisect_right(_LEVEL_TOPS, value)]


def _quality_levels(
    rubric: Rubric,
    judgements: Sequence[JudgementFacts],
    totals: JudgedTotals,
    pairs: Sequence[ProjectPair],
) -> dict[str, dict[str, int]]:
    """How candidates, chosen and rejected responses spread over low/medium/high totals."""
    levels: dict[str, dict[str, int]] = {
        role: {name: 0 for name, _, _ in LEVELS} for role in ("candidates", "chosen", "rejected")
    }
    for judgement in judgements:
        for value in totals[judgement.prompt_id, judgement.annotator].values():
            if value is not None:
                levels["candidates"][_level(value)] += 1
    for pair in pairs:
        for role, scores in (("chosen", pair.chosen_scores), ("rejected", pair.rejected_scores)):
            value = total(rubric, {k: round(v) for k, v in scores.items()})
            if value is not None:
                levels[role][_level(value)] += 1
    return levels


def _length_bias(
    pairs: Sequence[ProjectPair], candidates: dict[str, CandidateFacts]
) -> dict[str, float]:
    known = [p for p in pairs if p.chosen_id in candidates and p.rejected_id in candidates]
    if not known:
        return {"pairs": 0}
    chosen = [candidates[p.chosen_id].length for p in known]
    rejected = [candidates[p.rejected_id].length for p in known]
    longer = sum(1 for c, r in zip(chosen, rejected, strict=True) if c > r)
    return {
        "pairs": len(known),
        "chosen_longer_share": round(longer / len(known), 3),
        "mean_chosen_chars": round(statistics.fmean(chosen), 1),
        "mean_rejected_chars": round(statistics.fmean(rejected), 1),
    }


def _position_bias(
    pairs: Sequence[ProjectPair], judgements: Sequence[JudgementFacts]
) -> dict[str, float]:
    """Share of chosen responses shown at each position (A, B ...), against an even spread."""
    orders = {(j.prompt_id, j.annotator): j.display_order for j in judgements}
    positions: Counter[int] = Counter()
    expected = 0.0
    counted = 0
    for pair in pairs:
        for annotator in pair.annotators:
            order = orders.get((pair.prompt_id, annotator), ())
            if pair.chosen_id in order:
                positions[order.index(pair.chosen_id)] += 1
                expected += 1 / len(order)
                counted += 1
    if not counted:
        return {"pairs": 0}
    result: dict[str, float] = {"pairs": counted, "even_share_of_a": round(expected / counted, 3)}
    for index in sorted(positions):
        result[f"chosen_at_{CANDIDATE_LABELS[index]}"] = round(positions[index] / counted, 3)
    return result


def _presets(
    pairs: Sequence[ProjectPair], candidates: dict[str, CandidateFacts]
) -> dict[str, dict[str, float]]:
    """Per decoding preset: how often its candidates were chosen and rejected."""
    tally: dict[str, Counter[str]] = {}
    for pair in pairs:
        for role, cid in (("chosen", pair.chosen_id), ("rejected", pair.rejected_id)):
            preset = candidates[cid].preset if cid in candidates else ""
            tally.setdefault(preset or "(imported)", Counter())[role] += 1
    return {
        preset: {
            "chosen": c["chosen"],
            "rejected": c["rejected"],
            "win_rate": round(c["chosen"] / (c["chosen"] + c["rejected"]), 3),
        }
        for preset, c in sorted(tally.items())
    }


def _annotators(judgements: Sequence[JudgementFacts]) -> list[AnnotatorLoad]:
    items: Counter[str] = Counter(j.annotator for j in judgements)
    seconds: dict[str, float] = defaultdict(float)
    for judgement in judgements:
        seconds[judgement.annotator] += judgement.seconds_spent
    everyone = sum(items.values())
    return [
        AnnotatorLoad(
            annotator=name,
            items=count,
            share=round(count / everyone, 3),
            hours=round(seconds[name] / 3600, 2),
            items_per_hour=round(count / (seconds[name] / 3600), 1) if seconds[name] else None,
        )
        for name, count in items.most_common()
    ]


def _agreement(
    rubric: Rubric, judgements: Sequence[JudgementFacts], totals: JudgedTotals
) -> AgreementReport | None:
    """Agreement on the items two or more annotators judged (fully scored items only count
    for pair direction and chosen; every shared score counts for the criteria)."""
    annotators_of: dict[str, set[str]] = {}
    for judgement in judgements:
        annotators_of.setdefault(judgement.prompt_id, set()).add(judgement.annotator)
    shared = [j for j in judgements if len(annotators_of[j.prompt_id]) >= 2]
    if not shared:
        return None
    records = [  # plain tuples in ScoreRecord's order: 800,000 NamedTuples cost seconds
        (j.prompt_id, cid, j.annotator, criterion, value)
        for j in shared
        for cid, scores in j.scores.items()
        for criterion, value in scores.items()
    ]
    shared_totals = {(j.prompt_id, j.annotator): totals[j.prompt_id, j.annotator] for j in shared}
    return agreement_report(records, shared_totals, tolerance=rubric.pairs.min_margin)


DRIFT_PERIODS = 4
DRIFT_MIN_ITEMS = 3


def _drift(
    rubric: Rubric, judgements: Sequence[JudgementFacts], totals: JudgedTotals
) -> list[DriftPeriod]:
    """Is agreement changing as annotation goes on? Shared items ordered by when their last
    judgement was made, cut into up to four periods of at least three items each."""
    by_item: dict[str, list[JudgementFacts]] = {}
    for judgement in judgements:
        by_item.setdefault(judgement.prompt_id, []).append(judgement)
    shared = sorted(
        (
            (max(j.updated_at for j in group), group)
            for group in by_item.values()
            if len({j.annotator for j in group}) >= 2
        ),
        key=lambda entry: entry[0],
    )
    periods = min(DRIFT_PERIODS, len(shared) // DRIFT_MIN_ITEMS)
    if periods < 2:
        return []
    size = len(shared) / periods
    drift = []
    for index in range(periods):
        chunk = shared[round(index * size) : round((index + 1) * size)]
        items = [
            {j.annotator: totals[j.prompt_id, j.annotator] for j in group} for _, group in chunk
        ]
        agreement = pair_direction_agreement(items, rubric.pairs.min_margin)
        drift.append(
            DriftPeriod(
                first=chunk[0][0], last=chunk[-1][0], items=len(chunk), percent=agreement.percent
            )
        )
    return drift


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _warnings(report: QualityReport) -> list[ReportWarning]:
    found: list[ReportWarning] = []

    def warn(code: str, message: str, value: float) -> None:
        found.append(ReportWarning(code=code, message=message, value=value))

    pairs = report.counts["exportable_pairs"]
    if pairs < FIRST_ROUND:
        warn(
            "few_pairs",
            f"Only {pairs} exportable pairs: the guides' first round is {FIRST_ROUND}.",
            pairs,
        )
    length = report.length_bias
    if (
        length.get("pairs", 0) >= MIN_PAIRS_FOR_BIAS
        and length["chosen_longer_share"] >= LENGTH_BIAS_WARNING
    ):
        share = length["chosen_longer_share"]
        warn(
            "length_bias",
            f"{share:.0%} of chosen responses are longer than the rejected "
            "ones: length bias (a model trained on this learns to be long).",
            share,
        )
    position = report.position_bias
    if position.get("pairs", 0) >= MIN_PAIRS_FOR_BIAS:
        even = position["even_share_of_a"]
        share_a = position.get("chosen_at_A", 0.0)
        if share_a >= 1.5 * even or share_a <= 0.5 * even:
            warn(
                "position_bias",
                f"The candidate shown first (A) was chosen in {share_a:.0%} "
                f"of pairs, against {even:.0%} if position did not matter: position bias.",
                share_a,
            )
    if report.near_duplicate_prompts:
        count = len(report.near_duplicate_prompts)
        warn(
            "near_duplicate_prompts",
            f"Near-duplicate prompts (>= {NEAR_DUPLICATE} similar): {count} "
            f"pair{_s(count)}; the split keeps them on one side; consider removing copies.",
            count,
        )
    if report.near_identical_candidates:
        count = len(report.near_identical_candidates)
        warn(
            "near_identical_candidates",
            f"Near-identical candidates of one prompt: {count}; "
            "a pair of them carries no preference signal.",
            count,
        )
    all_pairs = report.counts["pairs"]
    disputed = report.counts["disputed_pairs"]
    if all_pairs and disputed / all_pairs > 0.2:
        share = disputed / all_pairs
        warn(
            "disputed",
            f"{share:.0%} of pairs are disputed between annotators (target: "
            f"{DEFAULT_TARGET:.0%}+ "
            "agreement): tighten the rubric or adjudicate.",
            share,
        )
    if report.agreement is not None and report.agreement.meets_target is False:
        percent = report.agreement.pair_direction.percent or 0.0
        warn("agreement", report.agreement.verdict, percent)
    busiest = report.annotators[0] if report.annotators else None
    if busiest and busiest.share >= 0.8 and report.counts["judgements"] >= 10:
        warn(
            "annotator_load",
            f"{busiest.annotator} did {busiest.share:.0%} of the judging: "
            "have a second annotator take ~20% of the items.",
            busiest.share,
        )
    levels = report.quality_levels["candidates"]
    scored = sum(levels.values())
    if scored >= MIN_PAIRS_FOR_BIAS:
        for name, count in levels.items():
            if count / scored < 0.1:
                warn(
                    "quality_levels",
                    f"Only {count / scored:.0%} of scored candidates are of "
                    f"{name} quality: aim for a spread across quality levels.",
                    count / scored,
                )
    margins = report.margin_histogram
    small = sum(v for k, v in margins.items() if k.startswith(("below", "0.00", "0.10")))
    if pairs >= MIN_PAIRS_FOR_BIAS and small / pairs > 0.5:
        warn(
            "small_margins",
            f"{small / pairs:.0%} of pairs have a margin under 0.20: weak "
            "preferences are noisy training signal.",
            small / pairs,
        )
    return found
