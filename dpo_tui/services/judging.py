"""Judging a project with a model: each candidate scored with the rubric (k samples), the
pair its scores form asked again with the two responses in both orders, all stored as the
annotator `judge:<model>@<sha12>`. The questions of neighbouring prompts are asked in one
backend call (up to MAX_SLOTS answers), then each prompt is committed on its own: an
interruption loses at most the prompts of the call in flight, and a rerun asks only what is
missing (a sample short, a verdict not yet asked)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.judging import (
    VERDICT_SCHEMA,
    AnswerError,
    combined_card,
    judge_name,
    read_scores,
    read_verdict,
    score_question,
    score_schema,
    verdict_pair,
    verdict_question,
)
from dpo_tui.core.models import CANDIDATE_LABELS, Candidate, Judgement, Message, Prompt, Rubric
from dpo_tui.errors import ContextOverflow, DpoError
from dpo_tui.generation.base import Backend, GeneratedCandidate
from dpo_tui.services.generating import messages_of
from dpo_tui.store.judge import JudgeSample, JudgeVerdict
from dpo_tui.store.project import ProjectStore

RETRIES = 2
"""How many times an answer that fails validation is asked again before it is recorded as a
failure."""
MAX_SLOTS = 16
"""The most answers one backend call decodes together."""
SAMPLE_TEMPERATURE = 0.7
"""The temperature of sampled answers (--samples above 1, and retries); one sample is greedy."""


@dataclass
class JudgeProgress:
    """Where a judging run stands; passed to the progress callback after each prompt."""

    judge: str
    total_prompts: int
    done_prompts: int = 0
    candidates: int = 0
    answers: int = 0
    failures: int = 0
    verdicts: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def candidates_per_minute(self) -> float:
        return 60 * self.candidates / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class _Job:
    """One answer to get: a candidate's sample, or a verdict (`second` set), about the
    conversation `messages`."""

    messages: tuple[Message, ...]
    first: Candidate
    sample: int
    second: Candidate | None = None


def judge_project(
    store: ProjectStore,
    backend: Backend,
    *,
    samples: int = 1,
    temperature: float = SAMPLE_TEMPERATURE,
    max_tokens: int | None = None,
    base_seed: int = 0,
    retries: int = RETRIES,
    verdicts: bool = True,
    limit: int | None = None,
    on_progress: Callable[[JudgeProgress], None] | None = None,
) -> JudgeProgress:
    """Judge every prompt with candidates (at most `limit`) that the judge has not finished:
    a candidate needs `samples` valid answers under the current rubric version, a prompt the
    verdicts on its pair in both orders (if `verdicts`). A reply that fails validation is
    asked again up to `retries` times (sampled), then recorded as a failure with the reply."""
    if not 1 <= samples <= MAX_SLOTS:
        raise DpoError(f"--samples must be from 1 to {MAX_SLOTS}, got {samples}")
    judge = judge_name(backend.model_name, backend.origin)
    rubric = store.rubric
    asker = _Asker(backend, rubric, samples, temperature, base_seed, retries, max_tokens)
    held = store.judge_cards(judge)
    asked: dict[str, set[tuple[str, str]]] = {}
    for verdict in store.judge_verdicts(judge):
        asked.setdefault(verdict.prompt_id, set()).add((verdict.first_id, verdict.second_id))
    pending = []
    for prompt, candidates in _prompts_with_candidates(store):
        cards = held.get(prompt.id, {})
        messages = messages_of(prompt)
        jobs = [
            _Job(messages, c, sample)
            for c in candidates
            for sample in range(len(cards.get(c.id, [])), samples)
        ]
        pair = verdict_pair(rubric, {cid: combined_card(found) for cid, found in cards.items()})
        unasked = pair is not None and not {pair, pair[::-1]} <= asked.get(prompt.id, set())
        if jobs or (verdicts and unasked):
            pending.append((prompt, candidates, jobs))
    pending = pending[:limit] if limit is not None else pending
    progress = JudgeProgress(judge=judge, total_prompts=len(pending))
    if on_progress:
        on_progress(progress)
    for batch in _batches(pending):
        made_all = asker.scores([job for _, _, jobs in batch for job in jobs])
        results = []
        orders: list[tuple[tuple[Message, ...], Candidate, Candidate]] = []
        for prompt, candidates, _ in batch:
            ids = {c.id for c in candidates}
            made = [sample for sample in made_all if sample.candidate_id in ids]
            cards = {c.id: list(held.get(prompt.id, {}).get(c.id, [])) for c in candidates}
            for sample in made:
                if sample.card is not None:
                    cards[sample.candidate_id].append(sample.card)
            combined = {cid: combined_card(found) for cid, found in cards.items() if found}
            pair = verdict_pair(rubric, combined)
            if verdicts and pair is not None:
                by_id = {c.id: c for c in candidates}
                messages = messages_of(prompt)
                orders += [
                    (messages, by_id[a], by_id[b])
                    for a, b in (pair, pair[::-1])
                    if (a, b) not in asked.get(prompt.id, set())
                ]
            results.append((prompt, candidates, made, combined))
        new_verdicts = asker.verdicts(orders)
        for prompt, candidates, made, combined in results:
            mine = [v for v in new_verdicts if v[0] == prompt.id]
            store.save_judged(
                judge,
                backend.model_name,
                backend.origin,
                made,
                combined if made else {},
                _judgement(prompt, judge, candidates, made) if made else None,
                mine,
            )
            progress.done_prompts += 1
            progress.candidates += len({s.candidate_id for s in made if s.card is not None})
            progress.answers += len(made) + len(mine)
            progress.failures += len(_unanswered(made, [v for _, v in mine]))
            progress.verdicts += sum(1 for _, v in mine if v.winner_id is not None)
            if on_progress:
                on_progress(progress)
    return progress


def _batches(
    pending: list[tuple[Prompt, list[Candidate], list[_Job]]],
) -> list[list[tuple[Prompt, list[Candidate], list[_Job]]]]:
    """Neighbouring prompts whose questions fit one backend call (MAX_SLOTS answers), so the
    model decodes more answers at once; a prompt with more questions is a batch alone."""
    batches: list[list[tuple[Prompt, list[Candidate], list[_Job]]]] = []
    held = MAX_SLOTS
    for item in pending:
        if held + len(item[2]) > MAX_SLOTS:
            batches.append([])
            held = 0
        batches[-1].append(item)
        held += len(item[2])
    return batches


def _unanswered(
    made: Sequence[JudgeSample], verdicts: Sequence[JudgeVerdict]
) -> set[tuple[str, object]]:
    """The samples and verdict orders that got no valid answer, retries included."""
    failed = {(s.candidate_id, s.sample) for s in made if s.card is None}
    failed -= {(s.candidate_id, s.sample) for s in made if s.card is not None}
    orders = {(v.first_id, v.second_id) for v in verdicts if v.winner_id is None}
    orders -= {(v.first_id, v.second_id) for v in verdicts if v.winner_id is not None}
    return {*failed, *orders}


def _prompts_with_candidates(store: ProjectStore) -> list[tuple[Prompt, list[Candidate]]]:
    """Every prompt with candidates, in import order, with them in the order added."""
    by_prompt = store.candidates_by_prompt()
    return [(p, by_prompt[p.id]) for p in store.prompts() if by_prompt.get(p.id)]


def _judgement(
    prompt: Prompt, judge: str, candidates: Sequence[Candidate], made: Sequence[JudgeSample]
) -> Judgement:
    """The judge's judgement of a prompt: its first reasons for each candidate, by label."""
    reasons: dict[str, str] = {}
    for sample in made:
        if sample.card is not None:
            reasons.setdefault(sample.candidate_id, sample.reasons)
    lines = [
        f"{CANDIDATE_LABELS[i]}: {reasons[c.id]}"
        for i, c in enumerate(candidates)
        if reasons.get(c.id)
    ]
    return Judgement(
        prompt_id=prompt.id,
        annotator=judge,
        diagnosis="\n".join(lines),
        display_order=tuple(c.id for c in candidates),
    )


class _Asker:
    """Asks a backend the questions of one prompt, in calls of at most MAX_SLOTS answers,
    asking again (sampled, a new seed) what fails validation."""

    def __init__(
        self,
        backend: Backend,
        rubric: Rubric,
        samples: int,
        temperature: float,
        base_seed: int,
        retries: int,
        max_tokens: int | None,
    ) -> None:
        self.backend, self.rubric, self.samples = backend, rubric, samples
        self.temperature, self.base_seed, self.retries = temperature, base_seed, retries
        self.max_tokens = max_tokens or 160 + 8 * len(rubric.criteria)
        self.schema = score_schema(rubric)

    def scores(self, jobs: Sequence[_Job]) -> list[JudgeSample]:
        """Every answer to the samples in `jobs`: failures (each kept, with its reply), and a
        valid card for each sample that got one."""
        found: list[JudgeSample] = []
        for job, answer, attempt, error in self._ask(jobs, self.schema):
            card, reasons = None, ""
            if not error:
                checked = read_scores(self.rubric, answer.text)
                card, reasons = checked.card, checked.reasons
            found.append(
                JudgeSample(
                    job.first.id,
                    job.sample,
                    attempt,
                    card,
                    reasons,
                    answer.text.replace("\x00", "\ufffd"),
                    error,
                    answer.preset.model_dump(),
                    answer.seconds,
                )
            )
        return found

    def verdicts(
        self, orders: Sequence[tuple[tuple[Message, ...], Candidate, Candidate]]
    ) -> list[tuple[str, JudgeVerdict]]:
        """Every answer to each (conversation, shown as A, shown as B): failures and a
        verdict, each with its prompt's id."""
        jobs = [_Job(messages, first, 0, second) for messages, first, second in orders]
        found = []
        for job, answer, _, error in self._ask(jobs, VERDICT_SCHEMA):
            assert job.second is not None
            winner = None
            if not error:
                winner = job.first.id if read_verdict(answer.text) == "A" else job.second.id
            verdict = JudgeVerdict(job.first.id, job.second.id, winner, answer.text, error)
            found.append((job.first.prompt_id, verdict))
        return found

    def _ask(
        self, jobs: Sequence[_Job], schema: Mapping[str, object]
    ) -> list[tuple[_Job, GeneratedCandidate, int, str]]:
        """(job, answer, attempt, '' or why it failed) for every answer got: each job's
        failed attempts, then its valid answer or its last failure."""
        got: list[tuple[_Job, GeneratedCandidate, int, str]] = []
        waiting = list(jobs)
        for attempt in range(self.retries + 1):
            failed = []
            chunks = [waiting[i : i + MAX_SLOTS] for i in range(0, len(waiting), MAX_SLOTS)]
            while chunks:
                chunk = chunks.pop(0)
                questions = [self._question(job) for job in chunk]
                presets = [self._preset(job, attempt) for job in chunk]
                try:
                    answers = self.backend.answer(questions, presets, schema)
                except ContextOverflow as overflow:
                    if len(chunk) > 1:  # fewer answers at once may fit
                        half = len(chunk) // 2
                        chunks[:0] = [chunk[:half], chunk[half:]]
                    else:  # asking again cannot help: kept as a failure with no reply
                        got.append((chunk[0], _unasked(presets[0]), attempt, overflow.message))
                    continue
                for job, answer in zip(chunk, answers, strict=True):
                    problem = _problem(answer, schema, self.rubric)
                    got.append((job, answer, attempt, problem))
                    if problem:
                        failed.append(job)
            waiting = failed
            if not waiting:
                break
        return got

    def _question(self, job: _Job) -> list[Message]:
        if job.second is None:
            return score_question(self.rubric, job.messages, job.first.text)
        return verdict_question(self.rubric, job.messages, job.first.text, job.second.text)

    def _preset(self, job: _Job, attempt: int) -> DecodingPreset:
        """Greedy for a single sample's first try and for verdicts' first try; else sampled
        with a seed of its own (candidate, sample, order, attempt)."""
        sampled = attempt > 0 or (job.second is None and self.samples > 1)
        material = f"{self.base_seed}:{job.first.id}:{job.second and job.second.id}:"
        material += f"{job.sample}:{attempt}"
        seed = int.from_bytes(hashlib.sha256(material.encode()).digest()[:4], "big") % 2**31
        return DecodingPreset(
            name="judge",
            temperature=self.temperature if sampled else 0.0,
            max_tokens=self.max_tokens,
            seed=seed,
        )


def _unasked(preset: DecodingPreset) -> GeneratedCandidate:
    """The record of a question that could not be asked: no reply, no time."""
    return GeneratedCandidate(0, preset, "", 0, "length", 0.0, 0.0)


def _problem(answer: GeneratedCandidate, schema: Mapping[str, object], rubric: Rubric) -> str:
    """Why an answer is not valid, '' if it is."""
    if answer.finish_reason == "length":
        return f"the answer was cut at {answer.token_count} tokens (max_tokens)"
    try:
        if schema is VERDICT_SCHEMA:
            read_verdict(answer.text)
        else:
            read_scores(rubric, answer.text)
    except AnswerError as error:
        return str(error)
    return ""
