"""LlamaBackend: the candidates for a prompt (or a judge's answers) decoded together, in one
llama.cpp context.

The tokens every prompt of a call shares at its start are evaluated once (sequence 0) and their
KV cache is shared with the other sequences; the rest of each distinct prompt is evaluated into
a sequence of its own, shared with the answers to the same prompt. For `generate` (one prompt,
N candidates) that is the prompt once; for a judge, the rubric and the conversation once and
each candidate's text once. Then every step decodes one batch holding the last token of each
unfinished answer, each sampled by its own sampler chain built from its DecodingPreset (and
checked against a JSON schema's grammar: see `constrained`).
"""

from __future__ import annotations

import ctypes
import functools
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from dpo_tui.config import RepackSetting
from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.errors import ContextOverflow, GenerationError
from dpo_tui.generation.base import FinishReason, GeneratedCandidate, OnToken, check_pairing
from dpo_tui.generation.constrained import GrammarGate, grammar_of
from dpo_tui.generation.loaded import LoadedModel
from dpo_tui.generation.models import check_model_file, default_model_path, model_sha256
from dpo_tui.generation.runtime import default_threads, llama_cpp
from dpo_tui.generation.templates import PromptTemplate
from dpo_tui.generation.text_stream import TextStream

MAX_CANDIDATES = 16
"""The most candidates (sequences) one generate() call can decode together."""

DEFAULT_N_CTX = 8192
"""Tokens of KV cache shared by a prompt and all its candidates (18 KB a token for the bundled
model, so 150 MB)."""

GROUP_TOKENS = 16
"""How many more first tokens than all prompts share make prompts of a call a group whose
shared start is evaluated once (see `_groups`)."""

PENALTY_LAST_N = 64
"""How many recent tokens (the prompt's included) the repeat penalty looks at."""


class LlamaBackend:
    """A local GGUF model run by llama.cpp, decoding all candidates of a prompt in one batch.

    A candidate never ends before it has some text: end-of-generation tokens are masked until
    then. Its text is stripped of surrounding whitespace and cut before the first stop string
    (the preset's, then the backend's `stop`).

    `model_path`: a .gguf file, or None for the bundled Gemma 3 270M. `n_ctx`: tokens of KV
    cache shared by a prompt and all its candidates (prompt + the sum of their max_tokens must
    fit). `n_threads`: CPU threads (default: `runtime.default_threads()`, every usable core
    unless llama.cpp's threads may spin; see `runtime`). `n_gpu_layers`: layers to
    offload to a GPU if llama.cpp was built with one (-1 = all). `prompt_template`: a Jinja2
    chat template used instead of the model's own (see `templates.PromptTemplate`); a model
    without one gets `templates.DEFAULT_TEMPLATE`. `stop`: strings that end every candidate,
    in addition to its preset's (default: `templates.DEFAULT_STOP` with the default template,
    none otherwise). `repack`: llama.cpp's extra CPU buffer types, auto/on/off (see `native`;
    None: the config file's setting, else auto).

    llama.cpp's log goes to the `dpo_tui.generation.runtime` logger, silent unless configured.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        prompt_template: str | None = None,
        stop: Sequence[str] | None = None,
        n_batch: int = 512,
        repack: RepackSetting | None = None,
    ) -> None:
        threads = default_threads() if n_threads is None else n_threads
        if threads < 1 or n_ctx < 1 or n_batch < 1 or n_gpu_layers < -1:
            raise GenerationError(
                f"invalid backend settings: n_threads={threads}, n_ctx={n_ctx}, "
                f"n_batch={n_batch}, n_gpu_layers={n_gpu_layers}",
                hint="n_threads, n_ctx and n_batch must be at least 1; n_gpu_layers at least "
                "-1 (all layers)",
            )
        path = default_model_path() if model_path is None else check_model_file(model_path)
        self.model_path = path
        self.model_name = path.stem
        self.origin = f"gguf:{model_sha256(path)}"
        self.n_threads = threads
        self.n_batch = n_batch

        self._model = LoadedModel(
            path,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_seq_max=MAX_CANDIDATES,
            batch_size=max(n_batch, MAX_CANDIDATES),
            threads=threads,
            n_gpu_layers=n_gpu_layers,
            repack=repack,
        )
        self._ctx = self._model.ctx
        self._memory, self._batch = self._model.memory, self._model.batch
        self._vocab, self._n_vocab = self._model.vocab, self._model.n_vocab
        self.n_ctx: int = self._model.n_ctx
        eog = [t for t in range(self._n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, t)]
        self._no_eog = (llama_cpp.llama_logit_bias * len(eog))(
            *(llama_cpp.llama_logit_bias(token, -math.inf) for token in eog)
        )
        self._piece = ctypes.create_string_buffer(64)
        self._cached: list[int] = []
        """the tokens sequence 0 holds from the last call (see `_keep_cached`)"""
        self.template: PromptTemplate = self._model.template(prompt_template, stop)

    def __enter__(self) -> LlamaBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the context and the model; the backend cannot generate afterwards."""
        self._model.close()

    def format_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text the model is given for `messages`."""
        if not messages or messages[-1].role != "user":
            raise GenerationError(
                "a conversation to generate for must end with a user turn",
                hint="remove trailing assistant turns, or add the user's next message",
            )
        return self.template.render(messages)

    def tokenize(self, text: str) -> list[int]:
        """`text` as tokens (see `LoadedModel.tokenize`): the same for generation and scoring."""
        return self._model.tokenize(text)

    def generate(
        self,
        messages: Sequence[Message],
        presets: Sequence[DecodingPreset],
        on_token: OnToken | None = None,
    ) -> list[GeneratedCandidate]:
        """One candidate per preset, decoded together; `on_token(slot, piece)` as they grow."""
        prompt = self.format_prompt(messages)
        return self._run([prompt] * len(presets), presets, on_token, None)

    def answer(
        self,
        conversations: Sequence[Sequence[Message]],
        presets: Sequence[DecodingPreset],
        schema: Mapping[str, object] | None = None,
    ) -> list[GeneratedCandidate]:
        """One answer per (conversation, preset), decoded together, each constrained to the
        JSON `schema` if given. The tokens the conversations share at their start are
        evaluated once, and a conversation given several times is evaluated once."""
        check_pairing(conversations, presets)
        prompts = [self.format_prompt(conversation) for conversation in conversations]
        return self._run(prompts, presets, None, None if schema is None else grammar_of(schema))

    def _run(
        self,
        prompts: Sequence[str],
        presets: Sequence[DecodingPreset],
        on_token: OnToken | None,
        grammar: str | None,
    ) -> list[GeneratedCandidate]:
        """Decode one answer per (prompt text, preset) together (see the module docstring)."""
        if not self._model.alive:
            raise GenerationError("this model was closed", hint="create a new LlamaBackend")
        if not 1 <= len(presets) <= MAX_CANDIDATES:
            raise GenerationError(
                f"asked for {len(presets)} candidates; one call takes 1 to {MAX_CANDIDATES}",
                hint="pass one decoding preset per candidate",
            )
        started = time.perf_counter()
        tokens = {text: self.tokenize(text) for text in dict.fromkeys(prompts)}
        leader = {text: prompts.index(text) for text in tokens}
        shared = _shared_prefix(list(tokens.values()))
        self._check_fits(shared + sum(len(t) - shared for t in tokens.values()), presets)
        slots: list[_Slot] = []
        try:
            for index, (text, preset) in enumerate(zip(prompts, presets, strict=True)):
                gate = None if grammar is None else GrammarGate(self._vocab, self._n_vocab, grammar)
                slots.append(_Slot(index, preset, self, on_token, tokens[text], gate))
            logits_of = self._decode_prompts(tokens, leader, shared)
            for slot, text in zip(slots, prompts, strict=True):
                if slot.index != leader[text]:
                    llama_cpp.llama_memory_seq_cp(self._memory, leader[text], slot.index, -1, -1)
            logits_at = [logits_of[text] for text in prompts]
            active = slots
            while True:
                for slot, at in zip(active, logits_at, strict=True):
                    slot.take(slot.sample(self._ctx, at), time.perf_counter() - started)
                active = [slot for slot in active if slot.finish_reason is None]
                if not active:
                    break
                self._decode([(s.last_token, s.position, s.index, True) for s in active])
                for slot in active:
                    slot.position += 1
                logits_at = list(range(len(active)))
        finally:
            for slot in slots:
                slot.free()
        return [slot.result() for slot in slots]

    def _check_fits(self, prompt_tokens: int, presets: Sequence[DecodingPreset]) -> None:
        new_tokens = sum(preset.max_tokens for preset in presets)
        if prompt_tokens + new_tokens > self.n_ctx:
            raise ContextOverflow(
                f"the prompts take {prompt_tokens} tokens and their {len(presets)} answers may "
                f"add up to {new_tokens} more (the sum of their max_tokens): "
                f"{prompt_tokens + new_tokens} tokens, over the context of {self.n_ctx} tokens "
                f"that they share (n_ctx)",
                hint="shorten the prompt, lower max_tokens or the number of candidates, or "
                "use a larger n_ctx",
            )

    def _decode_prompts(
        self, tokens: Mapping[str, list[int]], leader: Mapping[str, int], shared: int
    ) -> dict[str, int]:
        """Evaluate each distinct prompt into its leader's sequence, each token once where
        prompts share it: the `shared` first tokens of all (sequence 0, then copied; what the
        last call left there of them is kept), then what each group of prompts shares beyond
        them (a judge's conversation, shared by its candidates: see `_groups`), then the rest
        of each, in batches, every prompt's last token in the final batch; the batch index of
        each one's logits."""
        prefix = next(iter(tokens.values()))[:shared]
        kept = self._keep_cached(prefix)
        self._decode_chunked([(t, kept + i, 0, False) for i, t in enumerate(prefix[kept:])])
        self._cached = prefix
        groups = _groups(list(tokens.values()), shared)
        texts = list(tokens)
        heads = [(leader[texts[members[0]]], common) for members, common in groups]
        if shared:
            for head, _ in heads:
                if head != 0:
                    llama_cpp.llama_memory_seq_cp(self._memory, 0, head, -1, -1)
        self._decode_chunked(
            [
                (token, shared + i, head, False)
                for (members, _), (head, common) in zip(groups, heads, strict=True)
                for i, token in enumerate(tokens[texts[members[0]]][shared:common])
            ]
        )
        start = {}
        for (members, common), (head, _) in zip(groups, heads, strict=True):
            for member in members:
                start[texts[member]] = common
                if leader[texts[member]] != head:
                    llama_cpp.llama_memory_seq_cp(self._memory, head, leader[texts[member]], -1, -1)
        self._decode_chunked(
            [
                (token, start[text] + i, leader[text], False)
                for text, prompt in tokens.items()
                for i, token in enumerate(prompt[start[text] : -1])
            ]
        )
        last = [
            (prompt[-1], len(prompt) - 1, leader[text], True) for text, prompt in tokens.items()
        ]
        self._decode(last)
        return {text: i for i, text in enumerate(tokens)}

    def _keep_cached(self, prefix: list[int]) -> int:
        """How many first tokens of `prefix` sequence 0 still holds from the last call (the
        rubric and instructions a judge's questions all start with): those cells are kept,
        every other one is removed."""
        kept = min(_common_length(self._cached, prefix), len(prefix))
        self._cached = []  # until the new prefix is evaluated whole
        if kept:
            llama_cpp.llama_memory_seq_keep(self._memory, 0)
            if not llama_cpp.llama_memory_seq_rm(self._memory, 0, kept, -1):
                kept = 0  # a model whose cache cannot be cut part way (recurrent)
        if not kept:
            llama_cpp.llama_memory_clear(self._memory, True)
        return kept

    def _decode_chunked(self, entries: list[tuple[int, int, int, bool]]) -> None:
        for start in range(0, len(entries), self.n_batch):
            self._decode(entries[start : start + self.n_batch])

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Decode (token, position, sequence, keep its logits) entries as one batch."""
        batch = self._batch
        for i, (token, position, sequence, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            raise GenerationError(
                f"llama.cpp failed to decode a batch of {len(entries)} tokens (status {status})",
                hint="lower n_batch or the number of candidates; with status 1, raise n_ctx",
            )

    def token_bytes(self, token: int) -> bytes:
        """The bytes a token stands for (nothing for control tokens)."""
        size = llama_cpp.llama_token_to_piece(
            self._vocab, token, self._piece, len(self._piece), 0, False
        )
        if size < 0:
            self._piece = ctypes.create_string_buffer(-size)
            size = llama_cpp.llama_token_to_piece(
                self._vocab, token, self._piece, len(self._piece), 0, False
            )
        return self._piece.raw[:size]

    def _eog_ban(self) -> llama_cpp.llama_sampler_p:
        """A sampler that makes every end-of-generation token impossible."""
        sampler: llama_cpp.llama_sampler_p = llama_cpp.llama_sampler_init_logit_bias(
            self._n_vocab, len(self._no_eog), self._no_eog
        )
        return sampler


class _Slot:
    """One candidate being decoded: its sampler chain, text, token count and timing."""

    def __init__(
        self,
        index: int,
        preset: DecodingPreset,
        backend: LlamaBackend,
        on_token: OnToken | None,
        prompt: list[int],
        gate: GrammarGate | None = None,
    ) -> None:
        self.index = index
        self.preset = preset
        self._backend = backend
        self._gate = gate
        self.position = len(prompt)
        self.chain = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params()
        )
        # Until the candidate has some text, end-of-generation tokens are banned (sampler 0):
        # an empty candidate is of no use.
        self._eog_banned = True
        llama_cpp.llama_sampler_chain_add(self.chain, backend._eog_ban())
        for sampler in _samplers(preset):
            llama_cpp.llama_sampler_chain_add(self.chain, sampler)
        for token in prompt[-PENALTY_LAST_N:]:
            llama_cpp.llama_sampler_accept(self.chain, token)
        emit = None if on_token is None else functools.partial(on_token, index)
        self.stream = TextStream((*preset.stop, *backend.template.stop), emit)
        self.token_count = 0
        self.last_token = -1
        self.finish_reason: FinishReason | None = None
        self.first_token_seconds = 0.0
        self.seconds = 0.0

    def sample(self, ctx: llama_cpp.llama_context_p, at: int) -> int:
        """The next token, from the logits at batch index `at`; one the grammar allows, if
        any (a refused token is still seen by the repeat penalty: judges use none)."""
        token: int = llama_cpp.llama_sampler_sample(self.chain, ctx, at)
        if self._gate is not None:
            if not self._gate.check(token):
                token = self._gate.resample(self.chain, ctx, at)
                llama_cpp.llama_sampler_accept(self.chain, token)
            self._gate.accept(token)
        return token

    def take(self, token: int, elapsed: float) -> None:
        """Add a sampled token; finish on EOG, a stop string or max_tokens."""
        if self.last_token < 0:
            self.first_token_seconds = elapsed
        self.last_token = token
        reason: FinishReason | None = None
        if llama_cpp.llama_vocab_is_eog(self._backend._vocab, token):
            reason = "eog"
        else:
            self.token_count += 1
            if self.stream.feed(self._backend.token_bytes(token)):
                reason = "stop"
            elif self.token_count >= self.preset.max_tokens:
                reason = "length"
            if self._eog_banned and self.stream.text:
                llama_cpp.llama_sampler_free(llama_cpp.llama_sampler_chain_remove(self.chain, 0))
                self._eog_banned = False
        if reason is not None:
            self.stream.close()
            self.finish_reason = reason
            self.seconds = elapsed

    def result(self) -> GeneratedCandidate:
        assert self.finish_reason is not None
        return GeneratedCandidate(
            slot=self.index,
            preset=self.preset,
            text=self.stream.text,
            token_count=self.token_count,
            finish_reason=self.finish_reason,
            seconds=self.seconds,
            first_token_seconds=self.first_token_seconds,
        )

    def free(self) -> None:
        llama_cpp.llama_sampler_free(self.chain)
        if self._gate is not None:
            self._gate.free()


def _common_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many first tokens two token lists share."""
    size = min(len(first), len(second))
    return next((i for i in range(size) if first[i] != second[i]), size)


def _shared_prefix(prompts: list[list[int]]) -> int:
    """How many first tokens every prompt shares, short of the whole of any (each keeps one
    token of its own, whose logits start its answer)."""
    shared = min(len(prompt) for prompt in prompts) - 1
    for prompt in prompts[1:]:
        shared = min(shared, _common_length(prompts[0], prompt))
    return max(shared, 0)


def _groups(prompts: list[list[int]], shared: int) -> list[tuple[list[int], int]]:
    """The prompts (indexes) in groups of neighbours that share at least GROUP_TOKENS more
    first tokens than all do, each with how many first tokens its members share (short of
    the whole of any); a prompt alone shares `shared`."""
    groups: list[tuple[list[int], int]] = []
    for index, prompt in enumerate(prompts):
        if groups:
            members, common = groups[-1]
            first = prompts[members[0]]
            reach = min(_common_length(first, prompt), len(prompt) - 1, len(first) - 1)
            if reach >= shared + GROUP_TOKENS:
                limit = common if len(members) > 1 else len(first) - 1
                groups[-1] = ([*members, index], min(limit, reach))
                continue
        groups.append(([index], shared))
    return groups


def _samplers(preset: DecodingPreset) -> list[llama_cpp.llama_sampler_p]:
    """penalties -> greedy, or penalties -> top_k -> top_p -> min_p -> temperature -> dist."""
    samplers = []
    if preset.repeat_penalty != 1.0:
        samplers.append(
            llama_cpp.llama_sampler_init_penalties(PENALTY_LAST_N, preset.repeat_penalty, 0, 0)
        )
    if preset.temperature == 0:
        return [*samplers, llama_cpp.llama_sampler_init_greedy()]
    if preset.top_k > 0:
        samplers.append(llama_cpp.llama_sampler_init_top_k(preset.top_k))
    if preset.top_p < 1.0:
        samplers.append(llama_cpp.llama_sampler_init_top_p(preset.top_p, 1))
    if preset.min_p > 0.0:
        samplers.append(llama_cpp.llama_sampler_init_min_p(preset.min_p, 1))
    samplers.append(llama_cpp.llama_sampler_init_temp(preset.temperature))
    samplers.append(llama_cpp.llama_sampler_init_dist(preset.seed))
    return samplers
