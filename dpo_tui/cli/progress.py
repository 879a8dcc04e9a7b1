"""The live progress bar of a generation run: prompts done/total, tokens/s, ETA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dpo_tui.services.generating import RunProgress


@contextmanager
def generation_progress() -> Iterator[tuple[Progress, Callable[[RunProgress], None]]]:
    """A Rich progress display and the callback that feeds it from `generate_candidates`."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("prompts"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    task = progress.add_task("generate", total=None, rate="")

    def update(state: RunProgress) -> None:
        progress.update(
            task,
            total=state.total_prompts,
            completed=state.done_prompts,
            rate=f"{state.tokens_per_second:.1f} tok/s",
        )

    with progress:
        yield progress, update
