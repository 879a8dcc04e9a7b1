"""The judge command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import BackendSettings, Fraction, backend_options
from dpo_tui.cli.output import say
from dpo_tui.cli.progress import judging_progress
from dpo_tui.core.safe_text import visible
from dpo_tui.services.judging import MAX_SLOTS, RETRIES, SAMPLE_TEMPERATURE
from dpo_tui.store.project import ProjectStore


@cli.command()
@click.argument("project", type=PROJECT)
@backend_options
@click.option(
    "--samples",
    default=1,
    show_default=True,
    type=click.IntRange(1, MAX_SLOTS),
    help="Answers per candidate (above 1: sampled; their mean is the card, their spread "
    "the judge's uncertainty).",
)
@click.option(
    "--temperature",
    default=SAMPLE_TEMPERATURE,
    show_default=True,
    type=Fraction(0.01, 2),
    help="Temperature of sampled answers (one sample is greedy).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(16, 4096),
    help="Most tokens per answer (default: 160, plus 8 per criterion).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Base seed of samples.")
@click.option(
    "--retries",
    default=RETRIES,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Times an invalid answer is asked again before it is recorded as a failure.",
)
@click.option(
    "--no-verdicts",
    is_flag=True,
    help="Do not ask the pairwise verdicts (the pair the scores form, in both orders).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Judge at most this many prompts.")
def judge(
    project: Path,
    backend: BackendSettings,
    samples: int,
    temperature: float,
    max_tokens: int | None,
    seed: int,
    retries: int,
    no_verdicts: bool,
    limit: int | None,
) -> None:
    """Score every candidate with the rubric by a model (the bundled one, or any server),
    stored as the annotator judge:<model>@<hash>, with a live progress bar.

    Each answer is one integer per criterion and a sentence of reasons, constrained to that
    JSON shape; an invalid one is asked again, then recorded as a failure, never as a score.
    The pair its scores form is also asked "which is better" in both orders, to measure
    position bias. Annotators never see the judge's scores unless they opt in (`annotate
    --suggest`), and its cards form no pairs unless asked (`export --judge-pairs`). Ctrl-C
    stops after committing what is finished; running again continues where it stopped.
    """
    from dpo_tui.services.judging import judge_project

    with ProjectStore.open(project) as store:
        engine = backend.open()
        with engine, judging_progress() as (progress, update):
            try:
                result = judge_project(
                    store,
                    engine,
                    samples=samples,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    base_seed=seed,
                    retries=retries,
                    verdicts=not no_verdicts,
                    limit=limit,
                    on_progress=update,
                )
            except KeyboardInterrupt:
                progress.stop()
                say("Stopped. Every prompt finished is saved; run the same command to continue.")
                sys.exit(130)
    say(
        f"Done: {visible(result.judge)} judged {result.done_prompts} prompt(s), "
        f"{result.candidates} candidate(s) scored ({result.candidates_per_minute:.1f} a "
        f"minute), {result.verdicts} pairwise verdict(s)."
    )
    if result.failures:
        say(
            f"{result.failures} answers stayed invalid after {retries} retries: recorded as "
            "failures with the reply, never as scores (run again to ask them once more).",
            style="yellow",
        )
    say(f"Next: dpo-tui report {project} --judge   (how far the judge agrees with the humans)")
