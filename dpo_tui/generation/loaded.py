"""A GGUF model loaded into llama.cpp with one context of our own: what the generation backend
and the log-probability scorer share (loading, the context, the batch, freeing, the template).
The one place dpo-tui loads model weights."""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Sequence
from pathlib import Path

from dpo_tui.config import RepackSetting
from dpo_tui.errors import GenerationError
from dpo_tui.generation import smoke
from dpo_tui.generation.native import choose_repack
from dpo_tui.generation.runtime import llama_cpp
from dpo_tui.generation.templates import PromptTemplate, choose_template


class LoadedModel:
    """The weights (loaded with llama.cpp's C API, so that its extra buffer types can be
    chosen: see `native`), a context with `n_seq_max` sequences sharing one unified KV cache,
    and a batch of `batch_size` tokens; all freed by `close()` or when the object is collected.

    Before the weights are loaded in this process, `smoke.ensure_runs` checks in a child
    process that llama.cpp can run them on this machine with these settings (once per
    machine, model and settings), so that a native crash becomes a message."""

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
        repack: RepackSetting | None = None,
    ) -> None:
        self.repack = choose_repack(repack)
        smoke.ensure_runs(
            smoke.SmokeSettings(str(path), self.repack.extra_buffers, n_gpu_layers, threads)
        )
        model_params = llama_cpp.llama_model_default_params()
        # INT32_MAX: every layer (llama.cpp caps it at the model's count), as Llama() does
        model_params.n_gpu_layers = 0x7FFFFFFF if n_gpu_layers == -1 else n_gpu_layers
        model_params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP  # as Llama() loads by default
        model_params.use_extra_bufts = self.repack.extra_buffers
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode("utf-8"), model_params)
        if not self.model:
            raise GenerationError(
                f"{path}: llama.cpp could not load the model",
                hint="check that the file is a complete GGUF model of an architecture this "
                f"llama-cpp-python ({llama_cpp.__version__}) supports",
            )
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
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
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise GenerationError(
                f"{path}: llama.cpp could not create a context of {n_ctx} tokens",
                hint="lower n_ctx (its KV cache may not fit in memory)",
            )
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_ctx: int = llama_cpp.llama_n_ctx(self.ctx)
        self.batch = llama_cpp.llama_batch_init(batch_size, 0, 1)
        self._finalizer = weakref.finalize(self, _free, self.model, self.ctx, self.batch)

    def token_text(self, token: int) -> str:
        """A special token's text (BOS, EOS), '' for none."""
        if token < 0:
            return ""
        text: bytes = llama_cpp.llama_vocab_get_text(self.vocab, token)
        return text.decode("utf-8", "replace")

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
        return self.tokens(text, add_bos=not (bos and text.startswith(bos)))

    def tokens(self, text: str, *, add_bos: bool) -> list[int]:
        """`text` as tokens, special tokens parsed, the BOS token added if `add_bos` and the
        model uses one."""
        data = text.encode("utf-8")
        size = len(data) + 2  # a token covers at least one byte; BOS and EOS besides
        buffer = (llama_cpp.llama_token * size)()
        count = llama_cpp.llama_tokenize(self.vocab, data, len(data), buffer, size, add_bos, True)
        if count < 0:  # the buffer was short: -count tokens are needed
            size = -count
            buffer = (llama_cpp.llama_token * size)()
            count = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buffer, size, add_bos, True
            )
        if count < 0:
            raise GenerationError(f"llama.cpp could not tokenize a text of {len(data)} bytes")
        return list(buffer[:count])

    def metadata(self, key: str) -> str | None:
        """A GGUF metadata value as text, None if the model has no such key."""
        size = llama_cpp.llama_model_meta_val_str(self.model, key.encode(), None, 0)
        if size < 0:
            return None
        buffer = ctypes.create_string_buffer(size + 1)
        llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buffer, size + 1)
        return buffer.value.decode("utf-8", "replace")

    def template(self, override: str | None, stop: Sequence[str] | None = None) -> PromptTemplate:
        """`override`, else the model's own chat template, else the default (see templates)."""
        return choose_template(
            self.metadata("tokenizer.chat_template"),
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


def _free(model: llama_cpp.llama_model_p, ctx: llama_cpp.llama_context_p, batch: object) -> None:
    """Free the batch and the context, then the model (in that order)."""
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
