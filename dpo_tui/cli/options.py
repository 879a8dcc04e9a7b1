"""Options that several commands take, declared once."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

import click

from dpo_tui.config import REPACK_VALUES, RepackSetting
from dpo_tui.core.judge_order import ITEM_ORDERS
from dpo_tui.core.models import PairPolicyName
from dpo_tui.generation.base import Api, Backend


class Fraction(click.FloatRange):
    """A number in a range, never NaN or infinite (click's FloatRange lets NaN through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


MODEL_FILE = click.Path(dir_okay=False, path_type=Path)
"""A GGUF model file (checked when the model is opened, with a message saying what is wrong)."""


class ModelPath(click.Path):
    """A GGUF file or a Hugging Face checkpoint folder (checked when opened), or `bundled` for
    the bundled model (unless a file or folder of that name exists)."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == BUNDLED and not Path(value).exists():
            from dpo_tui.generation.models import default_model_path

            return default_model_path()
        return super().convert(value, param, ctx)


BUNDLED = "bundled"
MODEL = ModelPath()

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def model_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--model FILE.gguf`: a GGUF model file, default the bundled one (said in `help_text`)."""
    return click.option("--model", type=MODEL_FILE, help=help_text)


threads_option = click.option(
    "--threads", type=click.IntRange(min=1), help="CPU threads (default: the usable cores)."
)
gpu_layers_option = click.option(
    "--n-gpu-layers",
    default=0,
    show_default=True,
    type=click.IntRange(min=-1),
    help="Layers to offload to a GPU (-1: all), if llama.cpp was built with one.",
)
repack_option = click.option(
    "--repack",
    type=click.Choice(REPACK_VALUES),
    help="llama.cpp's extra CPU buffer types (weight repacking): auto turns them off on CPUs "
    "with AMX, whose kernel crashes (default: [generation] repack in config.toml, else auto).",
)
record_format_option = click.option(
    "--format",
    "format_name",
    type=click.Choice(["jsonl", "json", "csv", "tsv", "parquet"]),
    help="Input format (default: from the file suffix).",
)
policy_option = click.option(
    "--policy",
    type=click.Choice(get_args(PairPolicyName)),
    help="Pair policy (default: the rubric's).",
)
min_margin_option = click.option(
    "--min-margin", type=Fraction(0, 1), help="Minimum margin (default: rubric's)."
)
encoding_option = click.option(
    "--encoding", default="utf-8", show_default=True, help="Text encoding of the file."
)


def order_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--order file|random|uncertain` (given as `item_order`): the order items are walked in."""
    return click.option(
        "--order",
        "item_order",
        type=click.Choice(ITEM_ORDERS),
        default="file",
        show_default=True,
        help=help_text,
    )


def template_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--template FILE`: a Jinja2 chat template file."""
    return click.option(
        "--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text
    )


@dataclass(frozen=True)
class BackendSettings:
    """The model backend a command was told to use (`backend_options`)."""

    backend: str
    model: Path | None
    threads: int | None
    n_gpu_layers: int
    repack: RepackSetting | None
    ctx: int | None
    template: Path | None
    base_url: str | None
    model_name: str | None
    api: Api
    concurrency: int

    def open(self) -> Backend:
        """The backend, opened (a local model loaded, or a server checked)."""
        from dpo_tui.services.generating import open_backend

        return open_backend(
            self.backend,
            model=self.model,
            threads=self.threads,
            n_gpu_layers=self.n_gpu_layers,
            repack=self.repack,
            n_ctx=self.ctx,
            template=self.template.read_text(encoding="utf-8") if self.template else None,
            base_url=self.base_url,
            model_name=self.model_name,
            api=self.api,
            concurrency=self.concurrency,
        )


_BACKEND_OPTIONS = (
    click.option(
        "--backend",
        type=click.Choice(["llama", "openai"]),
        default="llama",
        show_default=True,
        help="llama.cpp on a local GGUF, or an OpenAI-compatible server.",
    ),
    model_option("GGUF model file (default: the bundled Gemma 3 270M)."),
    threads_option,
    gpu_layers_option,
    repack_option,
    click.option(
        "--ctx",
        type=click.IntRange(min=256),
        help="Context size shared by a prompt and its answers (default 8192).",
    ),
    template_option("A Jinja2 chat template file to use instead of the model's own."),
    click.option("--base-url", help="openai backend: the server, e.g. http://127.0.0.1:8080/v1."),
    click.option("--model-name", help="openai backend: the model name the server knows."),
    click.option(
        "--api",
        type=click.Choice(["chat", "completions"]),
        default="chat",
        show_default=True,
        help="openai backend: which endpoint to use.",
    ),
    click.option(
        "--concurrency",
        default=4,
        show_default=True,
        type=click.IntRange(1, 64),
        help="openai backend: requests in flight at once.",
    ),
)


def backend_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose a model backend, given to `command` as one `backend`
    argument (a BackendSettings)."""
    names = [field.name for field in fields(BackendSettings)]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = BackendSettings(**{name: kwargs.pop(name) for name in names})
        return command(*args, backend=settings, **kwargs)

    decorated: Callable[..., Any] = wrapper
    for option in reversed(_BACKEND_OPTIONS):
        decorated = option(decorated)
    return decorated
