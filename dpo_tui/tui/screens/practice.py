"""Practice mode's screens: the reference of a gold item once the annotator has finished it,
and the practice so far. Texts from the gold file are shown literally (never as markup)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from dpo_tui.core.models import Rubric
from dpo_tui.core.practice import PracticeFeedback, PracticeSummary
from dpo_tui.core.safe_text import visible


def _mark(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def feedback_text(feedback: PracticeFeedback, labels: dict[str, str], rubric: Rubric) -> str:
    """The reference against the annotator's scores, in words."""
    reference = feedback.reference
    chosen, rejected = labels[reference.chosen_id], labels[reference.rejected_id]
    own = (
        f"you preferred {labels[feedback.pair.chosen]} over {labels[feedback.pair.rejected]}"
        if feedback.pair
        else "your scores gave no pair"
    )
    lines = [
        f"The reference prefers {chosen} over {rejected}; {own}.",
        f"Your best candidate is the reference's: {_mark(feedback.same_chosen)}. "
        f"You rank {chosen} above {rejected}: {_mark(feedback.same_direction)}.",
        "",
        f"Why: {reference.explanation}",
    ]
    if feedback.distances:
        labels_of = {c.key: c.label for c in rubric.criteria}
        lines += ["", "Points from the reference scores:"]
        lines += [f"  {labels_of.get(k, k)}: {v}" for k, v in sorted(feedback.distances.items())]
    return "\n".join(lines)


def summary_text(summary: PracticeSummary) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    lines = [
        f"Practice: {summary.items} gold items finished.",
        f"Your best candidate was the reference's on {share(summary.same_chosen)} of them; "
        f"you ranked the reference pair the same way on {share(summary.same_direction)}.",
    ]
    if summary.mean_distance:
        distances = ", ".join(f"{k} {v:.1f}" for k, v in summary.mean_distance.items())
        lines.append(f"Mean points from the reference scores: {distances}.")
    return "\n".join(lines)


class PracticeScreen(ModalScreen[None]):
    """A practice message (a reference, or the practice so far); any of enter, escape or n
    closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,escape,n", "dismiss(None)", "Next", id="practice.close", priority=True)
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="practice"):
            yield Static(Content(self.title_text), classes="practice-title")
            yield Static(Content(visible(self.text)))
            yield Static(Content("enter: go on"), classes="practice-hint")
