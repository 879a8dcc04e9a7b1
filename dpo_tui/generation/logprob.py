"""LogprobScorer: the log-probability of responses given their prompt, under a local GGUF model.

The prompt is evaluated once (sequence 0) and its KV cache is copied to sequences 1..N-1 with
`llama_memory_seq_cp` (a unified KV cache: the cells are shared, not duplicated); then the
responses' tokens are decoded together, each in its own sequence, in batches of `max_logits`
rows. Logits are kept only where a next token's probability is needed (the prompt's last
token, and every response token but the last), and each batch's rows are log-softmaxed with
numpy: a row is n_vocab floats (1 MiB for Gemma 3's 262,144 tokens), so `max_logits` bounds
llama.cpp's logits buffer.

Batch-invariant on purpose. llama.cpp's CPU kernels give a token slightly different logits
(up to 0.4 in a response's log-probability with the bundled model) depending on how it was
batched: matrix products take a batch's rows in groups, with another kernel for leftover rows,
and attention sums over KV cells in SIMD lanes, so where a token's cell falls changes the
rounding. So every batch is a multiple of ALIGN rows and every token's KV cell is congruent to
its position modulo ALIGN (tokens of a throwaway sequence fill the gaps), and flash attention
is off: a response then scores the same alone, with others, or in a resumed run, and the same
as a plain evaluation of prompt + response in one batch.

Tokenization follows generation: the prompt is `template.render(messages)` (with the
generation prompt, as `LlamaBackend` renders it), tokenized with special tokens parsed and BOS
added once. The response is the text the same template writes for an assistant turn after that
prompt: the conversation with the response appended as an assistant turn, rendered without a
generation prompt, minus the prompt text, with trailing whitespace dropped. With the default
template that is `" " + response` (the space the model produced after "Answer:"); with a chat
template like Gemma's it is `response + "<end_of_turn>"` (ending the turn is scored too).
Prompt and response are tokenized together and the prompt's tokens must be a prefix of the
result; when they are not (a token merged across the boundary), or the template does not
extend the prompt that way, the response text alone is tokenized, without BOS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpo_tui.config import RepackSetting
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.llama import DEFAULT_N_CTX
from dpo_tui.generation.loaded import LoadedModel
from dpo_tui.generation.models import check_model_file, default_model_path, model_sha256
from dpo_tui.generation.response_tokens import ResponseTokens
from dpo_tui.generation.runtime import default_threads, llama_cpp
from dpo_tui.generation.templates import PromptTemplate

LOGPROB_FORMAT = 2
"""Version of the tokenization and batching rules above (2: ALIGN 16): part of
`scoring_sha256`, so changing a rule makes earlier cached log-probabilities stale instead of
slightly different from new ones."""

MAX_SEQUENCES = 8
"""The most responses scored together on one copy of a prompt's KV cache."""

ALIGN = 16
"""Batch rows and KV cells are aligned to this (see the module's doc): enough for the kernels
measured. 8 was enough for AVX2; on an AVX-512 CPU (AMD EPYC) with llama.cpp's repacked Q4_K
weights, 8 left responses differing by up to 0.015 in log-probability between batchings, 16
none. A machine whose kernels need more alignment loses the invariance (a response's score then
depends slightly on its batching), not the correctness."""

PADDING = MAX_SEQUENCES
"""The sequence of the throwaway tokens that keep the alignment."""

DEFAULT_MAX_LOGITS = 64
"""Tokens (and logits rows) per batch of responses: 64 MiB of logits for Gemma 3."""


@dataclass(frozen=True)
class ResponseLogprob:
    """A response's summed log-probability (natural log) over its `tokens` tokens."""

    tokens: int
    logprob: float

    @property
    def mean(self) -> float:
        """The per-token mean log-probability (0 for an empty response)."""
        return self.logprob / self.tokens if self.tokens else 0.0


class LogprobScorer:
    """A local GGUF model (None: the bundled one) that scores responses to a prompt.

    `prompt_template` must be the template the candidates were generated with, if one was
    given to `generate` (`--template`); otherwise the model's own or the default, as there.
    `n_ctx` must hold a prompt and the responses scored with it (they are split into groups
    that fit). `scoring_sha256` identifies the template and tokenization rule, for caching.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        prompt_template: str | None = None,
        n_batch: int = 512,
        max_logits: int = DEFAULT_MAX_LOGITS,
        repack: RepackSetting | None = None,
    ) -> None:
        path = default_model_path() if model_path is None else check_model_file(model_path)
        threads = default_threads() if n_threads is None else n_threads
        if (
            threads < 1
            or n_ctx < 1
            or n_batch % ALIGN
            or max_logits % ALIGN
            or not 1 <= max_logits <= n_batch
            or n_gpu_layers < -1
        ):
            raise GenerationError(
                f"invalid scorer settings: n_threads={threads}, n_ctx={n_ctx}, "
                f"n_batch={n_batch}, max_logits={max_logits}, n_gpu_layers={n_gpu_layers}",
                hint=f"n_threads and n_ctx must be at least 1, n_batch and max_logits multiples "
                f"of {ALIGN}, max_logits at most n_batch, "
                "n_gpu_layers at least -1 (all layers)",
            )
        self.model_path = path
        self.model_name = path.stem
        self.sha256 = model_sha256(path)
        self.n_batch = n_batch
        self.max_logits = max_logits
        self.decoded_tokens = 0
        """Prompt and response tokens decoded so far (a prompt once per group of responses
        scored with it; alignment padding not counted)."""
        self._model = LoadedModel(
            path,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_seq_max=MAX_SEQUENCES + 1,  # and PADDING
            batch_size=n_batch,
            threads=threads,
            n_gpu_layers=n_gpu_layers,
            flash_attention=False,
            repack=repack,
        )
        self._ctx = self._model.ctx
        self._memory, self._batch = self._model.memory, self._model.batch
        self.n_vocab: int = self._model.n_vocab
        self.n_ctx: int = self._model.n_ctx
        self._exp = np.empty((max_logits, self.n_vocab), dtype=np.float32)
        self._cells = self._pads = 0
        self.template: PromptTemplate = self._model.template(prompt_template)
        self._tokens = ResponseTokens(
            self.template, self.tokenize, lambda text: self._model.tokens(text, add_bos=False)
        )
        self.scoring_sha256 = hashlib.sha256(
            f"logprob-format-{LOGPROB_FORMAT}\n{self.template.text}".encode()
        ).hexdigest()

    def __enter__(self) -> LogprobScorer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the context and the model; the scorer cannot score afterwards."""
        self._model.close()

    def tokenize(self, text: str) -> list[int]:
        """`text` as tokens (see `LoadedModel.tokenize`): the same for generation and scoring."""
        return self._model.tokenize(text)

    def encode(
        self, messages: Sequence[Message], responses: Sequence[str]
    ) -> tuple[list[int], list[list[int]]]:
        """The prompt's tokens and each response's tokens after it (see the module's doc)."""
        return self._tokens.encode(messages, responses)

    def score(self, messages: Sequence[Message], responses: Sequence[str]) -> list[ResponseLogprob]:
        """Each response's summed log-probability given the conversation `messages`."""
        if not self._model.alive:
            raise GenerationError("this model was closed", hint="create a new LogprobScorer")
        prompt, encoded = self.encode(messages, responses)
        sums = [0.0] * len(encoded)
        group: list[int] = []
        for index, tokens in enumerate(encoded):
            if _cells(prompt, [tokens]) > self.n_ctx:
                raise GenerationError(
                    f"a prompt of {len(prompt)} tokens and a response of {len(tokens)} do not "
                    f"fit in the context of {self.n_ctx} tokens",
                    hint="use a larger context (--ctx)",
                )
            if not tokens:
                continue
            if (
                len(group) == MAX_SEQUENCES
                or _cells(prompt, [encoded[i] for i in [*group, index]]) > self.n_ctx
            ):
                self._score_group(prompt, encoded, group, sums)
                group = []
            group.append(index)
        if group:
            self._score_group(prompt, encoded, group, sums)
        return [ResponseLogprob(len(t), s) for t, s in zip(encoded, sums, strict=True)]

    def _score_group(
        self, prompt: list[int], encoded: list[list[int]], group: list[int], sums: list[float]
    ) -> None:
        """Add to `sums[i]` the log-probability of `encoded[i]` for each i in `group`, decoded
        as sequences 0..len(group)-1 sharing the prompt."""
        llama_cpp.llama_memory_clear(self._memory, True)
        self._cells = self._pads = 0
        last = len(prompt) - 1
        for _ in self._decode([(t, i, 0, i == last) for i, t in enumerate(prompt)], self.n_batch):
            pass
        firsts = np.array([encoded[i][0] for i in group])
        for sequence, (index, value) in enumerate(
            zip(group, self._log_probs(1, firsts), strict=True)
        ):
            sums[index] += float(value)
            if sequence:
                llama_cpp.llama_memory_seq_cp(self._memory, 0, sequence, -1, -1)
        entries: list[tuple[int, int, int, bool]] = []
        owners: list[int] = []
        targets: list[int] = []
        for sequence, index in enumerate(group):
            tokens = encoded[index]
            for j, token in enumerate(tokens):
                entries.append((token, len(prompt) + j, sequence, j + 1 < len(tokens)))
            owners += [index] * (len(tokens) - 1)
            targets += tokens[1:]
        done = 0
        for rows in self._decode(entries, self.max_logits):
            if not rows:
                continue
            values = self._log_probs(rows, np.array(targets[done : done + rows]))
            for index, value in zip(owners[done : done + rows], values, strict=True):
                sums[index] += float(value)
            done += rows

    def _decode(self, entries: list[tuple[int, int, int, bool]], rows: int) -> Iterator[int]:
        """Decode (token, position, sequence, keep its logits) entries in order, in batches of
        `rows` rows (the last padded to a multiple of ALIGN), throwaway tokens put before an
        entry whose position is not congruent to its cell; yields each batch's logits rows."""
        batch: list[tuple[int, int, int, bool]] = []
        for entry in entries:
            gap = (entry[1] - self._cells) % ALIGN
            for item in [*[(0, -1, PADDING, False)] * gap, entry]:
                batch.append(item)
                self._cells += 1
                if len(batch) == rows:
                    yield self._decode_batch(batch)
                    batch = []
        if batch:
            self._cells += -len(batch) % ALIGN
            batch += [(0, -1, PADDING, False)] * (-len(batch) % ALIGN)
            yield self._decode_batch(batch)

    def _decode_batch(self, entries: list[tuple[int, int, int, bool]]) -> int:
        """Decode entries as one batch (PADDING ones numbered on); how many keep logits."""
        batch = self._batch
        outputs = 0
        for i, (token, position, sequence, logits) in enumerate(entries):
            if sequence == PADDING:
                position, self._pads = self._pads, self._pads + 1
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = logits
            outputs += logits
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            raise GenerationError(
                f"llama.cpp failed to decode a batch of {len(entries)} tokens (status {status})",
                hint="with status 1, use a larger context (--ctx)",
            )
        self.decoded_tokens += len(entries) - sum(e[2] == PADDING for e in entries)
        return outputs

    def _log_probs(self, rows: int, targets: np.ndarray) -> np.ndarray:
        """log p(targets[i]) under logits row i of the last batch (llama.cpp keeps the rows in
        batch order); one row serves every target."""
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits(self._ctx), shape=(rows, self.n_vocab)
        )
        at = np.arange(len(targets)) if rows > 1 else np.zeros(len(targets), dtype=np.intp)
        log_probs: np.ndarray = logits[at, targets] - _log_sum_exp(logits, self._exp)[at]
        return log_probs


def _cells(prompt: list[int], responses: list[list[int]]) -> int:
    """KV cells that a prompt and responses scored together may take, padding included."""
    return len(prompt) + sum(map(len, responses)) + ALIGN * (len(responses) + 2)


def _log_sum_exp(rows: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """log(sum(exp(row))) of each row in float32, unshifted (one pass less), falling back to
    the max-shifted form for a row whose sum overflows or is so small that terms underflow."""
    exp = scratch[: len(rows)]
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        np.exp(rows, out=exp)
        result = np.log(exp.sum(axis=1))
    unsafe = ~np.isfinite(result) | (result < -60)
    for row in np.flatnonzero(unsafe):
        peak = rows[row].max()
        result[row] = peak + np.log(np.exp(rows[row] - peak).sum())
    sums: np.ndarray = result
    return sums
