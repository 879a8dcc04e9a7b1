"""The generate command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import BackendSettings, backend_options
from dpo_tui.cli.output import say
from dpo_tui.cli.progress import generation_progress
from dpo_tui.store.project import ProjectStore


@cli.command()
@click.argument("project", type=PROJECT)
@click.option(
    "--n",
    "count",
    default=4,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Candidates per prompt (each slot has its own decoding preset and seed).",
)
@backend_options
@click.option(
    "--max-tokens",
    default=256,
    show_default=True,
    type=click.IntRange(1, 32768),
    help="Most tokens per candidate.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Base seed; each prompt and slot derives its own from it.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Generate for at most this many prompts.")
@click.option(
    "--regenerate",
    multiple=True,
    metavar="PROMPT_ID",
    help="Replace the candidates of this prompt (repeatable; refused if scored).",
)
def generate(
    project: Path,
    count: int,
    backend: BackendSettings,
    max_tokens: int,
    seed: int,
    limit: int | None,
    regenerate: tuple[str, ...],
) -> None:
    """Generate candidates for every prompt that has fewer than --n, with a live progress bar.

    All candidates of a prompt are decoded together (one prompt evaluation, a batch of
    sequences) with varied presets. Ctrl-C stops after committing what is finished; running
    again continues where it stopped.
    """
    from dpo_tui.services.generating import generate_candidates

    with ProjectStore.open(project) as store:
        if regenerate:
            removed = store.delete_candidates(list(regenerate))
            say(f"Removed {removed} candidates of {len(regenerate)} prompts to regenerate.")
        engine = backend.open()
        say(
            f"Generating {count} candidates per prompt with {engine.model_name} "
            f"({engine.origin[:60]})"
        )
        with generation_progress() as (progress, update):
            try:
                result = generate_candidates(
                    store,
                    engine,
                    count,
                    base_seed=seed,
                    max_tokens=max_tokens,
                    prompt_ids=list(regenerate) or None,
                    limit=limit,
                    on_progress=update,
                )
            except KeyboardInterrupt:
                progress.stop()
                done = store.status()
                say(
                    f"Stopped. Everything finished is saved ({done.candidates} candidates for "
                    f"{done.prompts_with_candidates} prompts); run the same command to continue."
                )
                engine.close()
                sys.exit(130)
        engine.close()
    say(
        f"Done: {result.done_prompts} prompts, {result.candidates} candidates, "
        f"{result.tokens} tokens at {result.tokens_per_second:.1f} tokens/s."
    )
    if result.first_token_seconds:
        first = sorted(result.first_token_seconds)[len(result.first_token_seconds) // 2]
        say(f"Median first-token latency: {first * 1000:.0f} ms.")
    if result.near_duplicates:
        say(
            f"{result.near_duplicates} candidates are near-identical to another of their prompt "
            "(flagged: no preference signal).",
            style="yellow",
        )
    if result.empty:
        say(f"{result.empty} candidates came back empty and were not stored.", style="yellow")
