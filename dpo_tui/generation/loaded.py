"""A GGUF model loaded into llama.cpp with one context of our own: what the generation backend
and the log-probability scorer share (loading, the context, the batch, freeing, the template)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path

from dpo_tui.errors import GenerationError
from dpo_tui.generation.runtime import llama_cpp
from dpo_tui.generation.templates import PromptTemplate, choose_template


class LoadedModel:
    """The weights (through `llama_cpp.Llama`, used to load and tokenize only), a context with
    `n_seq_max` sequences sharing one unified KV cache, and a batch of `batch_size` tokens; all
    freed by `close()` or when the object is collected."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int,
        n_batch: int,
        n_seq_max: int,
        batch_size: int,
        threads: int,
        n_gpu_layers: int,
        flash_attention: bool = True,
    ) -> None:
        try:
            # Its own context is minimal and unused: decoding runs in the context made below.
            self.llama = llama_cpp.Llama(
                str(path),
                n_gpu_layers=n_gpu_layers,
                n_ctx=256,
                n_batch=1,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise GenerationError(
                f"{path}: llama.cpp could not load the model: {error}",
                hint="check that the file is a complete GGUF model of an architecture this "
                f"llama-cpp-python ({llama_cpp.__version__}) supports",
            ) from error
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self.n_vocab: int = llama_cpp.llama_vocab_n_tokens(self.vocab)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq_max
        params.kv_unified = True  # a prompt's cells are shared by all sequences, not copied
        if not flash_attention:
            params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.llama.model, params)
        if not self.ctx:
            self.llama.close()
            raise GenerationError(
                f"{path}: llama.cpp could not create a context of {n_ctx} tokens",
                hint="lower n_ctx (its KV cache may not fit in memory)",
            )
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_ctx: int = llama_cpp.llama_n_ctx(self.ctx)
        self.batch = llama_cpp.llama_batch_init(batch_size, 0, 1)
        self._finalizer = weakref.finalize(self, _free, self.llama, self.ctx, self.batch)

    def token_text(self, token: int) -> str:
        """A special token's text (BOS, EOS), '' for none."""
        if token < 0:
            return ""
        return llama_cpp.llama_vocab_get_text(self.vocab, token).decode("utf-8", "replace")

    @property
    def bos_text(self) -> str:
        return self.token_text(llama_cpp.llama_vocab_bos(self.vocab))

    @property
    def eos_text(self) -> str:
        return self.token_text(llama_cpp.llama_vocab_eos(self.vocab))

    def tokenize(self, text: str) -> list[int]:
        """`text` as tokens, with special tokens parsed and the BOS token added once if the
        model uses one (a rendered template may already start with it)."""
        bos = self.bos_text
        add_bos = not (bos and text.startswith(bos))
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def template(self, override: str | None, stop: Sequence[str] | None = None) -> PromptTemplate:
        """`override`, else the model's own chat template, else the default (see templates)."""
        return choose_template(
            self.llama.metadata.get("tokenizer.chat_template"),
            override,
            stop,
            bos_token=self.bos_text,
            eos_token=self.eos_text,
        )

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def close(self) -> None:
        self._finalizer()


def _free(llama: llama_cpp.Llama, ctx: llama_cpp.llama_context_p, batch: object) -> None:
    """Free the batch and the context, then the model (in that order)."""
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama.close()
