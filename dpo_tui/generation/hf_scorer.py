"""HFScorer: the log-probability of responses given their prompt, under a model run by
Hugging Face transformers: a checkpoint folder (what `save_pretrained` and TRL write), or a
GGUF file (dequantized to float32 by transformers).

The definitions are `LogprobScorer`'s (see `logprob`): the prompt is the template rendered with
the generation prompt, tokenized with special tokens parsed and the BOS token added once; each
response is the text the template writes for an assistant turn after that prompt, tokenized
with the prompt (or alone when the prompt's tokens are not a prefix of the whole); its figure
is the sum, over its tokens, of the token's log-probability after the prompt and the tokens
before it. Log-softmax is taken in float64. The template is the same choice: `--template`,
else the tokenizer's chat template, else dpo-tui's default one.

Each response of a prompt is a row of one batch: the prompt then the response (its last token
dropped: nothing is predicted after it), padded on the right. No row attends to a padding
token (causal attention, padding only after a row's end), so no attention mask is needed and a
row computes what it would alone. Logits are kept only for the response positions
(`logits_to_keep`), and a batch holds at most `max_logits` of them (rows x longest response):
a row of Gemma 3's 262,144-token vocabulary is 1 MiB in float32.

torch and transformers are the optional `train` extra: they are imported when a scorer is
opened, never when this module is, and their absence is a GenerationError saying what to
install. They are used through `Any` (imported by name): their own typing is not checked here.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.logprob import ResponseLogprob
from dpo_tui.generation.models import model_sha256
from dpo_tui.generation.response_tokens import ResponseTokens
from dpo_tui.generation.scorers import check_model
from dpo_tui.generation.templates import PromptTemplate, choose_template

HF_LOGPROB_FORMAT = 1
"""Version of this scorer's rules: part of `scoring_sha256` with the engine's name, so its
results and llama.cpp's are cached apart (they differ by up to a few hundredths of a nat per
token on a quantized GGUF)."""

DEFAULT_MAX_LOGITS = 256
"""Logits rows per batch (rows x longest response): 256 MiB of float32 for Gemma 3. A single
response longer than this is scored alone, its rows all kept."""

CHUNK_ROWS = 64
"""Logits rows turned to float64 at a time (128 MiB for Gemma 3)."""

INSTALL_EXTRAS = (
    "install the training extras: `pip install -e '.[train]'` in dpo-tui's folder "
    "(`pip install 'dpo-tui[train]'` for an installed package). They bring torch>=2.6, which "
    "pip may take as a CUDA build of several GB: for the CPU only, first run `pip install "
    "torch --index-url https://download.pytorch.org/whl/cpu`"
)
INSTALL = f"{INSTALL_EXTRAS}. Or score a GGUF file with llama.cpp (--scorer llama)"

WEIGHT_SUFFIXES = (".safetensors", ".bin")
IDENTITY_FILES = {
    "config.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
}
"""Besides the weights, the files whose contents make a checkpoint's identity: what changes
the model's figures (its configuration, its tokenizer and template)."""


def import_extra(name: str, *, use: str = "the transformers scorer", hint: str = INSTALL) -> Any:
    """The module `name` of the training extras, or a GenerationError saying that `use`
    needs it and (`hint`) what to install."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise GenerationError(
            f"{use} needs the package {name}, which is not installed ({error})", hint=hint
        ) from error


def _weights(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix in WEIGHT_SUFFIXES
        and (path.suffix == ".safetensors" or path.name.startswith("pytorch_model"))
    )


def checkpoint_sha256(folder: Path) -> str:
    """A checkpoint folder's identity: the sha256 of the list of its weight files and
    `IDENTITY_FILES`, each with its name and the sha256 of its contents."""
    weights = _weights(folder)
    if not weights:
        raise GenerationError(
            f"{folder}: no weights (*.safetensors or pytorch_model*.bin) in this model folder",
            hint="pass a folder written by save_pretrained, with its weights",
        )
    files = sorted([*weights, *(p for p in folder.iterdir() if p.name in IDENTITY_FILES)])
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\t{model_sha256(path)}\n".encode())
    return digest.hexdigest()


TRAIN_MANIFEST = "dpo-tui-train.json"
"""The file `dpo-tui train` writes in its output folder (what the run was started with)."""


def checkpoint_name(folder: Path) -> str:
    """A folder's name, with its parent's for a trainer's `checkpoint-N` and for the model
    folder of a `dpo-tui train` run (`runs/round1-<time>/model`)."""
    trained = folder.name == "model" and (folder.parent / TRAIN_MANIFEST).is_file()
    if folder.name.startswith("checkpoint-") or trained:
        return f"{folder.parent.name}/{folder.name}"
    return folder.name


def tokenizer_template(tokenizer: Any, override: str | None) -> PromptTemplate:
    """The template a transformers model is scored and trained in: `override`, else its
    tokenizer's chat template, else dpo-tui's default (`templates.choose_template`)."""
    chat_template = tokenizer.chat_template
    if isinstance(chat_template, dict):
        chat_template = chat_template.get("default")
    return choose_template(
        chat_template or None,
        override,
        bos_token=str(tokenizer.bos_token or ""),
        eos_token=str(tokenizer.eos_token or ""),
    )


class HFScorer:
    """A model run by transformers that scores responses to a prompt (see the module's doc):
    `model` is a Hugging Face model folder or a GGUF file. Runs on a GPU when torch sees
    one, else on the CPU with `threads` (default: torch's)."""

    def __init__(
        self,
        model: Path | str,
        *,
        prompt_template: str | None = None,
        threads: int | None = None,
        device: str = "auto",
        max_logits: int = DEFAULT_MAX_LOGITS,
    ) -> None:
        path = check_model(model)
        if max_logits < 1 or (threads is not None and threads < 1):
            raise GenerationError(
                f"invalid scorer settings: max_logits={max_logits}, threads={threads}",
                hint="both must be at least 1",
            )
        torch = import_extra("torch")
        transformers = import_extra("transformers")
        if threads is not None:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        gguf = not path.is_dir()
        folder, where = (path.parent, {"gguf_file": path.name}) if gguf else (path, {})
        if gguf:
            import_extra("gguf")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                folder, local_files_only=True, **where
            )
            loaded = transformers.AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32, **where
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
            raise GenerationError(
                f"{path}: transformers could not load this model: {error}",
                hint="pass a causal language model folder written by save_pretrained, or a "
                "GGUF file of an architecture transformers reads (or use --scorer llama)",
            ) from error
        if gguf and getattr(loaded, "hf_quantizer", None) is not None:
            # transformers dequantized the GGUF to plain float32 weights; it leaves a
            # quantization config behind that would make the model look quantized
            loaded.hf_quantizer.remove_quantization_config(loaded)
        self._torch = torch
        self._model: Any = loaded.to(device).eval()
        self._tokenizer = tokenizer
        self.device: str = device
        self.model_path = path
        self.model_name = f"{path.stem} (transformers)" if gguf else checkpoint_name(path)
        self.sha256 = model_sha256(path) if gguf else checkpoint_sha256(path)
        self.max_logits = max_logits
        self.decoded_tokens = 0
        """Prompt and response tokens run so far (a prompt once per batch of responses)."""
        config = loaded.config.get_text_config()
        self.max_positions: int | None = getattr(config, "max_position_embeddings", None)
        self._pad = int(tokenizer.pad_token_id or 0)
        self._bos = str(tokenizer.bos_token or "")
        with_special = self._ids("x", special=True)
        plain = self._ids("x", special=False)
        cut = len(with_special) - len(plain)
        self._prefix = with_special[:cut] if with_special[cut:] == plain else []
        """The tokens the tokenizer puts before a text (BOS), if any."""
        self._use_template(prompt_template)

    def _use_template(self, prompt_template: str | None) -> None:
        """Score in `prompt_template`, else the tokenizer's chat template, else the default."""
        self.template: PromptTemplate = tokenizer_template(self._tokenizer, prompt_template)
        self._tokens = ResponseTokens(
            self.template, self.tokenize, lambda text: self.tokens(text, add_bos=False)
        )
        self.scoring_sha256 = hashlib.sha256(
            f"transformers-logprob-format-{HF_LOGPROB_FORMAT}\n{self.template.text}".encode()
        ).hexdigest()

    def with_template(self, prompt_template: str | None) -> HFScorer:
        """This loaded model scoring in another template (closing it leaves this one open)."""
        other = copy.copy(self)
        other._use_template(prompt_template)
        return other

    def __enter__(self) -> HFScorer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the model; the scorer cannot score afterwards."""
        self._model = None

    def _ids(self, text: str, *, special: bool) -> list[int]:
        ids = self._tokenizer(text, add_special_tokens=special)["input_ids"]
        return [int(token) for token in ids]

    def tokens(self, text: str, *, add_bos: bool) -> list[int]:
        """`text` as tokens, special tokens parsed, the BOS token put first if `add_bos` and
        the model uses one."""
        return (self._prefix if add_bos else []) + self._ids(text, special=False)

    def tokenize(self, text: str) -> list[int]:
        """`text` as tokens, the BOS token added once (a rendered template may start with it)."""
        return self.tokens(text, add_bos=not (self._bos and text.startswith(self._bos)))

    def encode(
        self, messages: Sequence[Message], responses: Sequence[str]
    ) -> tuple[list[int], list[list[int]]]:
        """The prompt's tokens and each response's tokens after it (`LogprobScorer.encode`)."""
        return self._tokens.encode(messages, responses)

    def score(self, messages: Sequence[Message], responses: Sequence[str]) -> list[ResponseLogprob]:
        """Each response's summed log-probability given the conversation `messages`."""
        if self._model is None:
            raise GenerationError("this model was closed", hint="create a new HFScorer")
        prompt, encoded = self.encode(messages, responses)
        if not prompt:
            raise GenerationError("the prompt template rendered no tokens to score after")
        for tokens in encoded:
            if self.max_positions and len(prompt) + len(tokens) > self.max_positions:
                raise GenerationError(
                    f"a prompt of {len(prompt)} tokens and a response of {len(tokens)} do not "
                    f"fit in the model's {self.max_positions} positions",
                    hint="leave out pairs this long",
                )
        sums = [0.0] * len(encoded)
        group: list[int] = []
        for index in (i for i, tokens in enumerate(encoded) if tokens):
            width = max(len(encoded[i]) for i in [*group, index])
            if group and (len(group) + 1) * width > self.max_logits:
                self._score_rows(prompt, encoded, group, sums)
                group = []
            group.append(index)
        if group:
            self._score_rows(prompt, encoded, group, sums)
        return [ResponseLogprob(len(t), s) for t, s in zip(encoded, sums, strict=True)]

    def _score_rows(
        self, prompt: list[int], encoded: list[list[int]], group: list[int], sums: list[float]
    ) -> None:
        """Set `sums[i]` to the log-probability of `encoded[i]` for each i in `group`, the
        responses run as the rows of one batch."""
        torch = self._torch
        rows = [encoded[i] for i in group]
        width = max(map(len, rows))
        inputs = [prompt + r[:-1] + [self._pad] * (width - len(r)) for r in rows]
        with torch.inference_mode():
            ids = torch.tensor(inputs, dtype=torch.long, device=self.device)
            try:
                logits = self._logits(ids, width)
            except RuntimeError as error:  # out of memory, among others
                raise GenerationError(
                    f"transformers failed on {len(rows)} responses of up to {width} tokens "
                    f"after a prompt of {len(prompt)}: {error}",
                    hint="free memory, or score on another device",
                ) from error
            for index, row, tokens in zip(group, logits, rows, strict=True):
                targets = torch.tensor(tokens, dtype=torch.long, device=self.device)
                total = 0.0
                for start in range(0, len(tokens), CHUNK_ROWS):
                    chunk = row[start : start + CHUNK_ROWS][: len(tokens) - start].double()
                    picked = chunk.gather(1, targets[start : start + len(chunk), None])[:, 0]
                    total += float((picked - torch.logsumexp(chunk, dim=-1)).sum())
                sums[index] = total
        self.decoded_tokens += len(prompt) + sum(map(len, rows))

    def _logits(self, ids: Any, width: int) -> Any:
        """The logits of the last `width` positions of each row: the prompt's last token and
        the response's tokens but its last, each predicting the next response token."""
        try:
            return self._model(input_ids=ids, logits_to_keep=width, use_cache=False).logits
        except TypeError:  # an architecture without logits_to_keep: every position's logits
            return self._model(input_ids=ids, use_cache=False).logits[:, -width:]
