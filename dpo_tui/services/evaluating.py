"""Evaluate a model on a round's pairs: does it prefer the chosen responses to the rejected?

`select_pairs` recomputes a round's split (its pairs, policy, margin, validation fraction and
seed, and today's prompt clusters, as `export` made it); `evaluate` scores every chosen and
rejected response with a scorer (the generation template): llama.cpp's `LogprobScorer` for a GGUF
file, transformers' `HFScorer` for a Hugging Face checkpoint folder (`generation.scorers`),
reusing the log-probabilities stored in the project (keyed by model sha256, prompt, candidate,
template and scorer) and storing the
new ones after each prompt, so an interrupted run continues where it stopped; then it computes
the figures of `core.evaluation` overall, per deciding criterion and per round that first
exported the pairs, and records the run in the project (`store.evaluations`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from dpo_tui.config import RepackSetting
from dpo_tui.core.evaluation import (
    RESAMPLES,
    Figures,
    PairLogprobs,
    bootstrap_ci,
    deciding_criterion,
    figures,
    outcome,
)
from dpo_tui.core.export.select import PairKey, pair_key
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.models import Message, PreferencePair
from dpo_tui.errors import DpoError, GenerationError
from dpo_tui.generation.llama import DEFAULT_N_CTX
from dpo_tui.generation.logprob import ResponseLogprob
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.scorers import ScorerName, check_model, choose_scorer, open_scorer
from dpo_tui.services.exporting import prompt_clusters
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.store.evaluations import EvalRun, cached_logprobs, record_eval, save_logprobs
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import ExportRound, now

Split = Literal["validation", "train", "all"]


@dataclass(frozen=True)
class Selection:
    """The pairs to evaluate on: a split of a round (or of every exportable pair, no round)."""

    round: ExportRound | None
    split: Split
    pairs: list[PreferencePair]
    missing: int
    """Pairs of the round that the project no longer gives (annotations changed since)."""
    first_round: dict[PairKey, int] = field(default_factory=dict)
    """The round that first exported each pair."""


def select_pairs(
    store: ProjectStore, split: Split = "validation", round_number: int | None = None
) -> Selection:
    """The `split` pairs of round `round_number` (default: the latest round).

    With no round yet, only `split="all"` works: every exportable pair under the rubric's
    policy.
    """
    rounds = store.rounds()
    if not rounds:
        if round_number is not None or split != "all":
            raise DpoError(
                "no export rounds yet: export a round first (its validation split is what a "
                "model is evaluated on)",
                hint="run `dpo-tui export PROJECT --format trl --out DIR`, or evaluate on every "
                "current pair with --split all",
            )
        pairs = collect_pairs(store).exportable
        _require(pairs, "the project has no exportable pairs", "score candidates first")
        return Selection(None, split, pairs, 0)
    by_number = {r.number: r for r in rounds}
    if round_number is not None and round_number not in by_number:
        raise DpoError(
            f"no round {round_number}: the project has rounds 1 to {rounds[-1].number}",
            hint="`dpo-tui rounds PROJECT` lists them",
        )
    chosen = by_number[round_number] if round_number is not None else rounds[-1]
    first_round: dict[PairKey, int] = {}
    for entry in rounds:
        for key in entry.pair_keys:
            first_round.setdefault(key, entry.number)
    keys = set(chosen.pair_keys)
    pair_set = collect_pairs(store, chosen.policy, chosen.min_margin)
    in_round = [p for p in pair_set.exportable if pair_key(p) in keys]
    if split == "all":
        pairs = in_round
    else:
        train, validation = split_pairs(
            in_round, chosen.val_fraction, chosen.seed, prompt_clusters(store)
        )
        pairs = validation if split == "validation" else train
    _require(
        pairs,
        f"round {chosen.number} has no {split} pairs"
        + (f" ({len(keys)} of its pairs no longer exist)" if not in_round else ""),
        "choose another --split, or export a round with a validation share (--val)",
    )
    return Selection(chosen, split, pairs, len(keys) - len(in_round), first_round)


def _require(pairs: list[PreferencePair], problem: str, hint: str) -> None:
    if not pairs:
        raise DpoError(problem, hint=hint)


def model_file(path: Path | None) -> Path:
    """The model to evaluate: `path` checked (a GGUF file or a Hugging Face model folder), or
    the bundled model."""
    return default_model_path() if path is None else check_model(path)


@dataclass(frozen=True)
class ScorerOptions:
    """How to run the scorer: context size, CPU threads, GPU layers, a template override,
    llama.cpp's extra CPU buffer types (None: the config file's setting, else auto), and the
    engine (None: `choose_scorer`'s choice for the models evaluated together)."""

    n_ctx: int = DEFAULT_N_CTX
    threads: int | None = None
    n_gpu_layers: int = 0
    template: str | None = None
    repack: RepackSetting | None = None
    scorer: ScorerName | None = None


@dataclass
class EvalProgress:
    """Where the scoring of one model stands; passed to the callback after each prompt."""

    model_name: str
    total_pairs: int
    done_pairs: int = 0
    computed: int = 0
    """Responses scored by the model in this run."""
    cached: int = 0
    """Responses whose log-probability the project already held."""
    tokens: int = 0
    """Tokens decoded in this run (prompts once per group of responses, and the responses)."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.tokens else 0.0


OnProgress = Callable[[EvalProgress], None]


@dataclass(frozen=True)
class ModelLogprobs:
    """Every chosen and rejected response's log-probability under one model."""

    name: str
    sha256: str
    template: str
    template_sha256: str
    scorer: ScorerName
    logprobs: dict[str, ResponseLogprob]
    """candidate id -> its log-probability"""
    progress: EvalProgress


def score_model(
    store: ProjectStore,
    pairs: Sequence[PreferencePair],
    model: Path,
    options: ScorerOptions = ScorerOptions(),
    on_progress: OnProgress | None = None,
) -> ModelLogprobs:
    """Score every response of `pairs` under `model`, reusing and extending the project's
    cache; each prompt's new log-probabilities are committed together."""
    engine = options.scorer or choose_scorer([model], None)
    with open_scorer(
        model,
        engine,
        n_ctx=options.n_ctx,
        threads=options.threads,
        n_gpu_layers=options.n_gpu_layers,
        prompt_template=options.template,
        repack=options.repack,
    ) as scorer:
        known = {
            candidate: ResponseLogprob(tokens, logprob)
            for candidate, (tokens, logprob) in cached_logprobs(
                store, scorer.sha256, scorer.scoring_sha256
            ).items()
        }
        prompts: dict[str, list[PreferencePair]] = {}
        for pair in pairs:
            prompts.setdefault(pair.prompt_id, []).append(pair)
        progress = EvalProgress(scorer.model_name, len(pairs))
        if on_progress:
            on_progress(progress)
        logprobs: dict[str, ResponseLogprob] = {}
        for prompt_id, group in prompts.items():
            texts = {p.chosen_id: p.chosen for p in group} | {
                p.rejected_id: p.rejected for p in group
            }
            fresh = {cid: text for cid, text in texts.items() if cid not in known}
            progress.cached += len(texts) - len(fresh)
            if fresh:
                before = scorer.decoded_tokens
                scored = scorer.score(_messages(group[0]), list(fresh.values()))
                save_logprobs(
                    store,
                    scorer.sha256,
                    scorer.scoring_sha256,
                    [
                        (prompt_id, cid, result.tokens, result.logprob)
                        for cid, result in zip(fresh, scored, strict=True)
                    ],
                )
                known.update(zip(fresh, scored, strict=True))
                progress.computed += len(fresh)
                progress.tokens += scorer.decoded_tokens - before
            logprobs.update({cid: known[cid] for cid in texts})
            progress.done_pairs += len(group)
            if on_progress:
                on_progress(progress)
        return ModelLogprobs(
            scorer.model_name,
            scorer.sha256,
            scorer.template.text,
            scorer.scoring_sha256,
            engine,
            logprobs,
            progress,
        )


def _messages(pair: PreferencePair) -> tuple[Message, ...]:
    """The conversation the responses answer (as `generate` sent it)."""
    return pair.messages or (Message(role="user", content=pair.prompt),)


@dataclass(frozen=True)
class Evaluation:
    """One model's evaluation: the stored run, its figures and each pair's log-probabilities."""

    run: EvalRun
    overall: Figures
    by_criterion: dict[str, Figures]
    by_round: dict[int, Figures]
    items: list[PairLogprobs]
    model: ModelLogprobs


def evaluate(
    store: ProjectStore,
    selection: Selection,
    model: Path | None = None,
    *,
    reference: Path | None = None,
    options: ScorerOptions = ScorerOptions(),
    on_progress: OnProgress | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Evaluation:
    """Score `selection` under `model` (default: the bundled one) and, if given, `reference`
    (with the model's template, so both see the same tokens), with the same scorer; compute
    and store the figures."""
    model_path = model_file(model)
    reference_path = None if reference is None else model_file(reference)
    options = replace(options, scorer=choose_scorer([model_path, reference_path], options.scorer))
    scores = score_model(store, selection.pairs, model_path, options, on_progress)
    ref = None
    if reference_path is not None:
        ref_options = replace(options, template=scores.template)
        ref = score_model(store, selection.pairs, reference_path, ref_options, on_progress)
    items = [_pair_logprobs(pair, scores, ref) for pair in selection.pairs]
    overall = figures(items, resamples, seed)
    rubric = store.rubric
    criteria: dict[str, list[PairLogprobs]] = {}
    rounds: dict[int, list[PairLogprobs]] = {}
    for pair, item in zip(selection.pairs, items, strict=True):
        criteria.setdefault(deciding_criterion(pair, rubric), []).append(item)
        if pair_key(pair) in selection.first_round:
            rounds.setdefault(selection.first_round[pair_key(pair)], []).append(item)
    by_criterion = {key: figures(group, resamples, seed) for key, group in criteria.items()}
    by_round = {number: figures(group, resamples, seed) for number, group in sorted(rounds.items())}
    run = record_eval(
        store,
        EvalRun(
            created_at=now(),
            model_name=scores.name,
            model_sha256=scores.sha256,
            reference_name=ref.name if ref else None,
            reference_sha256=ref.sha256 if ref else None,
            round_number=selection.round.number if selection.round else None,
            split=selection.split,
            pairs=overall.pairs,
            accuracy=overall.accuracy,
            ci_low=overall.ci_low,
            ci_high=overall.ci_high,
            mean_accuracy=overall.mean_accuracy,
            mean_margin=overall.mean_margin,
            reward_accuracy=overall.reward_accuracy,
            reward_ci_low=overall.reward_ci_low,
            reward_ci_high=overall.reward_ci_high,
            details={
                "overall": overall.model_dump(),
                "by_criterion": {k: f.model_dump() for k, f in by_criterion.items()},
                "by_round": {str(k): f.model_dump() for k, f in by_round.items()},
                "missing_pairs": selection.missing,
                "template_sha256": scores.template_sha256,
                "scorer": scores.scorer,
                "responses_computed": scores.progress.computed,
                "responses_cached": scores.progress.cached,
                "tokens": scores.progress.tokens,
                "seconds": round(scores.progress.seconds, 3),
                "bootstrap": {"resamples": resamples, "seed": seed},
            },
        ),
    )
    return Evaluation(run, overall, by_criterion, by_round, items, scores)


def _pair_logprobs(
    pair: PreferencePair, model: ModelLogprobs, reference: ModelLogprobs | None
) -> PairLogprobs:
    chosen, rejected = model.logprobs[pair.chosen_id], model.logprobs[pair.rejected_id]
    margin = None
    if reference is not None:
        ref_chosen = reference.logprobs[pair.chosen_id]
        ref_rejected = reference.logprobs[pair.rejected_id]
        if (ref_chosen.tokens, ref_rejected.tokens) != (chosen.tokens, rejected.tokens):
            raise GenerationError(
                f"the reference model {reference.name} tokenizes the responses differently "
                f"from {model.name}: their log-ratios mean nothing",
                hint="use as reference the model the evaluated one was trained from",
            )
        margin = (chosen.logprob - ref_chosen.logprob) - (rejected.logprob - ref_rejected.logprob)
    return PairLogprobs(chosen.logprob, rejected.logprob, chosen.mean, rejected.mean, margin)


class MetricComparison(BaseModel):
    """One figure of two evaluations side by side."""

    metric: str
    a: float | None
    a_ci: tuple[float, float] | None
    b: float | None
    b_ci: tuple[float, float] | None
    difference: float | None
    """b - a"""
    ci_overlap: bool | None
    """Whether the two confidence intervals overlap (None for a figure without one)."""


class Comparison(BaseModel):
    """Two models evaluated on the same pairs."""

    a: str
    b: str
    pairs: int
    metrics: list[MetricComparison]
    accuracy_difference_ci: tuple[float, float]
    """Paired bootstrap interval of b's accuracy minus a's, over the same pairs."""


def compare(a: Evaluation, b: Evaluation, resamples: int = RESAMPLES, seed: int = 0) -> Comparison:
    """`a` and `b` side by side; they must have been evaluated on the same pairs."""
    if len(a.items) != len(b.items) or a.run.split != b.run.split:
        raise ValueError("compare needs two evaluations of the same pairs")
    differences = [
        outcome(q.chosen, q.rejected) - outcome(p.chosen, p.rejected)
        for p, q in zip(a.items, b.items, strict=True)
    ]
    return Comparison(
        a=a.run.model_name,
        b=b.run.model_name,
        pairs=a.overall.pairs,
        metrics=[
            _side_by_side(a.overall, b.overall, "accuracy", "accuracy", "ci_low", "ci_high"),
            _side_by_side(
                a.overall,
                b.overall,
                "per-token accuracy",
                "mean_accuracy",
                "mean_ci_low",
                "mean_ci_high",
            ),
            _side_by_side(a.overall, b.overall, "mean margin", "mean_margin"),
            _side_by_side(
                a.overall,
                b.overall,
                "reward accuracy",
                "reward_accuracy",
                "reward_ci_low",
                "reward_ci_high",
            ),
        ],
        accuracy_difference_ci=bootstrap_ci(differences, resamples, seed),
    )


def _side_by_side(
    a: Figures, b: Figures, metric: str, name: str, low: str = "", high: str = ""
) -> MetricComparison:
    """Figure `name` of a and b, their [`low`, `high`] intervals and whether they overlap."""
    x, y = getattr(a, name), getattr(b, name)
    a_ci = (getattr(a, low), getattr(a, high)) if low and x is not None else None
    b_ci = (getattr(b, low), getattr(b, high)) if low and y is not None else None
    return MetricComparison(
        metric=metric,
        a=x,
        a_ci=a_ci,
        b=y,
        b_ci=b_ci,
        difference=None if x is None or y is None else y - x,
        ci_overlap=None
        if a_ci is None or b_ci is None
        else a_ci[0] <= b_ci[1] and b_ci[0] <= a_ci[1],
    )
