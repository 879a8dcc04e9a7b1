"""Options that several commands take, declared once."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import click

from dpo_tui.config import REPACK_VALUES
from dpo_tui.core.models import PairPolicyName


class Fraction(click.FloatRange):
    """A number in a range, never NaN or infinite (click's FloatRange lets NaN through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


MODEL_FILE = click.Path(dir_okay=False, path_type=Path)
"""A GGUF model file (checked when the model is opened, with a message saying what is wrong)."""

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


def template_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--template FILE`: a Jinja2 chat template file."""
    return click.option(
        "--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text
    )
