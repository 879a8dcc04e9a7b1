"""Generating candidates: a backend opened (llama.cpp on a GGUF, or an OpenAI-compatible server)
and a project filled with its candidates: resumable, one commit per prompt, near-duplicates
flagged."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dpo_tui.config import RepackSetting
from dpo_tui.core.decoding import DEFAULT_PRESETS, DecodingPreset, presets_for
from dpo_tui.core.ids import candidate_id
from dpo_tui.core.models import Candidate, Message, Prompt
from dpo_tui.errors import DpoError
from dpo_tui.generation.base import Api, Backend, GeneratedCandidate, OnToken
from dpo_tui.store.project import ProjectStore


@dataclass
class RunProgress:
    """Where a generation run stands; passed to the progress callback after each prompt."""

    total_prompts: int
    done_prompts: int = 0
    candidates: int = 0
    tokens: int = 0
    empty: int = 0
    near_duplicates: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_token_seconds: list[float] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.elapsed if self.elapsed > 0 else 0.0


def stored_candidate(
    prompt_id: str, made: GeneratedCandidate, backend: Backend, slot: object, **params: object
) -> Candidate:
    """A generated candidate as stored: who made it, its preset's sampling parameters, its
    slot and finish reason (then `params`), tokens and time. A NUL character a model wrote
    (which the store refuses) becomes U+FFFD, the replacement character."""
    text = made.text.replace("\x00", "\ufffd")
    return Candidate(
        id=candidate_id(prompt_id, text),
        prompt_id=prompt_id,
        text=text,
        origin=backend.origin,
        model=backend.model_name,
        preset=made.preset.name,
        params={
            **made.preset.model_dump(),
            "slot": slot,
            "finish_reason": made.finish_reason,
            **params,
        },
        token_count=made.token_count,
        gen_seconds=round(made.seconds, 4),
    )


def messages_of(prompt: Prompt) -> tuple[Message, ...]:
    """The conversation to send for a prompt: its turns, or one user turn."""
    return prompt.messages or (Message(role="user", content=prompt.text),)


def generate_candidates(
    store: ProjectStore,
    backend: Backend,
    count: int,
    *,
    base_seed: int = 0,
    max_tokens: int | None = None,
    presets: tuple[DecodingPreset, ...] = DEFAULT_PRESETS,
    prompt_ids: Sequence[str] | None = None,
    limit: int | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
    on_token: OnToken | None = None,
) -> RunProgress:
    """Give every prompt (or those in `prompt_ids`) `count` candidates.

    Prompts that already hold `count` are skipped, so running again continues where an
    interrupted run stopped; only the missing slots are generated, each with its own preset
    and seed. Each prompt's candidates are committed together, so an interruption
    (KeyboardInterrupt) loses at most the prompt being generated.
    """
    pending = store.prompts_with_fewer_candidates(count)
    if prompt_ids is not None:
        wanted = set(prompt_ids)
        pending = [(p, held) for p, held in pending if p.id in wanted]
    if limit is not None:
        pending = pending[:limit]
    progress = RunProgress(total_prompts=len(pending))
    if on_progress:
        on_progress(progress)
    for prompt, held in pending:
        slots = presets_for(count, prompt.id, base_seed, max_tokens, presets)[held:]
        generated = backend.generate(messages_of(prompt), slots, on_token)
        _store(store, backend, prompt, held, generated, progress)
        progress.done_prompts += 1
        if on_progress:
            on_progress(progress)
    return progress


def _store(
    store: ProjectStore,
    backend: Backend,
    prompt: Prompt,
    held: int,
    generated: list[GeneratedCandidate],
    progress: RunProgress,
) -> None:
    fresh = [g for g in generated if g.text.strip()]
    progress.empty += len(generated) - len(fresh)
    for made in generated:
        progress.tokens += made.token_count
        progress.first_token_seconds.append(made.first_token_seconds)
    rows = [
        stored_candidate(
            prompt.id,
            made,
            backend,
            held + made.slot,
            first_token_seconds=round(made.first_token_seconds, 4),
        )
        for made in fresh
    ]
    result = store.add_candidates(rows)
    progress.candidates += result.added
    progress.near_duplicates += result.near_duplicates


def open_backend(
    backend: str = "llama",
    *,
    model: Path | None = None,
    threads: int | None = None,
    n_gpu_layers: int = 0,
    repack: RepackSetting | None = None,
    n_ctx: int | None = None,
    template: str | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    api: Api = "chat",
    concurrency: int = 4,
) -> Backend:
    """A generation backend: llama.cpp on a local GGUF (default: the bundled model), or an
    OpenAI-compatible server, checked to be up and to list the model before it is used."""
    if backend == "llama":
        from dpo_tui.generation.llama import DEFAULT_N_CTX, LlamaBackend

        return LlamaBackend(
            model,
            n_ctx=n_ctx or DEFAULT_N_CTX,
            n_threads=threads,
            n_gpu_layers=n_gpu_layers,
            prompt_template=template,
            repack=repack,
        )
    from dpo_tui.generation.openai import OpenAIBackend
    from dpo_tui.generation.templates import choose_template

    if not base_url or not model_name:
        raise DpoError(
            "the openai backend needs --base-url and --model-name",
            hint="e.g. --base-url http://127.0.0.1:8080/v1 --model-name my-model",
        )
    render = choose_template(None, template).render if api == "completions" else None
    server = OpenAIBackend(
        base_url,
        model_name,
        api=api,
        render_prompt=render,
        concurrency=concurrency,
    )
    try:
        server.check()  # up, and has the model: some servers answer any name with their default
    except BaseException:
        server.close()
        raise
    return server
