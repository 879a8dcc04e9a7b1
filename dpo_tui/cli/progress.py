"""The live progress bars of long commands (generate, eval, train): what is done of how much, a
rate, the time elapsed and an ETA; one layout for all of them."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dpo_tui.cli.output import out
from dpo_tui.core.safe_text import visible
from dpo_tui.generation.training import TrainProgress
from dpo_tui.services.evaluating import EvalProgress
from dpo_tui.services.generating import RunProgress
from dpo_tui.services.judging import JudgeProgress


class Bars:
    """One bar per key (a run, a model), created when first shown."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._tasks: dict[Hashable, TaskID] = {}

    def show(self, key: Hashable, label: str, done: int, total: int | None, rate: str) -> None:
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(visible(label), total=total, rate="")
        self.progress.update(self._tasks[key], total=total, completed=done, rate=rate)

    def stop(self) -> None:
        self.progress.stop()


@contextmanager
def live_bars(console: Console = out, quiet: bool = False) -> Iterator[Bars]:
    """A live display of bars on `console` (nothing when `quiet`)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    with progress:
        yield Bars(progress)


@contextmanager
def generation_progress() -> Iterator[tuple[Bars, Callable[[RunProgress], None]]]:
    """The bars and the callback that feeds them from `generate_candidates`: prompts done of
    the total, tokens/s."""
    with live_bars() as bars:

        def update(state: RunProgress) -> None:
            rate = f"{state.tokens_per_second:.1f} tok/s"
            bars.show("run", "prompts", state.done_prompts, state.total_prompts, rate)

        yield bars, update


@contextmanager
def judging_progress() -> Iterator[tuple[Bars, Callable[[JudgeProgress], None]]]:
    """The bars and the callback that feeds them from `judge_project`: prompts done of the
    total, candidates scored per minute, failures so far."""
    with live_bars() as bars:

        def update(state: JudgeProgress) -> None:
            rate = f"{state.candidates_per_minute:.1f} candidates/min"
            if state.failures:
                rate += f", {state.failures} failed"
            bars.show("run", "prompts", state.done_prompts, state.total_prompts, rate)

        yield bars, update


@contextmanager
def evaluation_progress(console: Console, quiet: bool) -> Iterator[Callable[[EvalProgress], None]]:
    """The callback that shows `evaluate`'s progress: a bar per model, pairs done of the
    total, tokens/s."""
    with live_bars(console, quiet) as bars:

        def update(state: EvalProgress) -> None:
            rate = f"pairs {state.tokens_per_second:.0f} tok/s" if state.tokens else "pairs"
            bars.show(id(state), state.model_name, state.done_pairs, state.total_pairs, rate)

        yield update


@contextmanager
def training_progress(console: Console = out) -> Iterator[Callable[[TrainProgress], None]]:
    """The callback that shows `train_round`'s progress: steps done of the total, the last
    loss and reward accuracy, the ETA from this run's pace."""
    with live_bars(console) as bars:

        def update(state: TrainProgress) -> None:
            rate = "" if state.loss is None else f"loss {state.loss:.4f}"
            if state.reward_accuracy is not None:
                rate += f", reward acc {100 * state.reward_accuracy:.0f}%"
            if state.stopping:
                rate += " (stopping: saving a checkpoint)"
            bars.show("train", "steps", state.step, state.total_steps or None, rate)

        yield update
