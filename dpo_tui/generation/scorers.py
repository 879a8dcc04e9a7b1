"""Which engine scores responses under a model: llama.cpp (`LogprobScorer`) for a GGUF file,
transformers (`HFScorer`) for a Hugging Face checkpoint folder, or for a GGUF file on request.

Both compute the same figures (see `logprob`): the summed log-probability of each response's
tokens after the prompt, in the same template, tokenized the same way. They differ slightly
in arithmetic (llama.cpp multiplies quantized weights by 8-bit-quantized activations;
transformers dequantizes a GGUF to float32), so each scorer's `scoring_sha256` carries its
name: log-probabilities cached under one are never read back as the other's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from dpo_tui.config import RepackSetting
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.llama import DEFAULT_N_CTX
from dpo_tui.generation.logprob import LogprobScorer, ResponseLogprob
from dpo_tui.generation.models import check_model_file
from dpo_tui.generation.templates import PromptTemplate

ScorerName = Literal["llama", "transformers"]
SCORERS: tuple[ScorerName, ...] = ("llama", "transformers")


class Scorer(Protocol):
    """What `eval` needs of a scorer (`LogprobScorer`, `HFScorer`)."""

    model_name: str
    sha256: str
    """The model's identity: a GGUF file's sha256, or a checkpoint folder's (`HFScorer`)."""
    scoring_sha256: str
    """The template, tokenization rule and engine: with `sha256`, the key of cached results."""
    decoded_tokens: int
    template: PromptTemplate

    def __enter__(self) -> Scorer: ...

    def __exit__(self, *_: object) -> None: ...

    def score(
        self, messages: Sequence[Message], responses: Sequence[str]
    ) -> list[ResponseLogprob]: ...


def is_checkpoint(path: Path) -> bool:
    """Whether `path` is a folder (a Hugging Face checkpoint), not a model file."""
    return path.is_dir()


def check_model(path: Path | str) -> Path:
    """`path` resolved if it is a GGUF file or a Hugging Face model folder (a `config.json`
    beside the weights); a GenerationError saying what is wrong otherwise."""
    model = Path(path).expanduser()
    if not model.is_dir():
        return check_model_file(model)
    if not (model / "config.json").is_file():
        hint = "pass a .gguf file, or a folder written by save_pretrained (config.json, weights)"
        if (model / "adapter_config.json").is_file():
            hint = (
                "this is a LoRA adapter alone: merge it into its base model "
                "(peft's merge_and_unload, then save_pretrained) and pass that folder"
            )
        raise GenerationError(
            f"{model}: a folder without config.json: not a Hugging Face model folder", hint=hint
        )
    return model.resolve()


def choose_scorer(paths: Iterable[Path | None], requested: ScorerName | None) -> ScorerName:
    """The scorer for models evaluated together (a model, its reference, a comparison):
    `requested`, else llama.cpp, or transformers when any of them is a checkpoint folder (so
    that their figures come from the same engine). llama.cpp refuses a folder."""
    folders = [path for path in paths if path is not None and is_checkpoint(path)]
    if requested == "llama" and folders:
        raise GenerationError(
            f"{folders[0]}: llama.cpp reads only GGUF files, not a Hugging Face checkpoint",
            hint="use --scorer transformers, or convert the checkpoint with llama.cpp's "
            "convert_hf_to_gguf.py",
        )
    if requested is not None:
        return requested
    return "transformers" if folders else "llama"


def open_scorer(
    path: Path,
    scorer: ScorerName,
    *,
    n_ctx: int = DEFAULT_N_CTX,
    threads: int | None = None,
    n_gpu_layers: int = 0,
    prompt_template: str | None = None,
    repack: RepackSetting | None = None,
) -> Scorer:
    """The scorer `scorer` on the model at `path` (checked by `check_model`), loaded.

    llama.cpp takes every setting; transformers takes the threads and the template (it runs
    each response in its own row, on a GPU when torch sees one).
    """
    choose_scorer([path], scorer)
    if scorer == "llama":
        return LogprobScorer(
            path,
            n_ctx=n_ctx,
            n_threads=threads,
            n_gpu_layers=n_gpu_layers,
            prompt_template=prompt_template,
            repack=repack,
        )
    from dpo_tui.generation.hf_scorer import HFScorer

    return HFScorer(path, prompt_template=prompt_template, threads=threads)
