"""CandidatePane: one candidate, blind-labelled, its text shown literally, and its sliders."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from dpo_tui.core.models import Candidate, Rubric
from dpo_tui.core.safe_text import visible
from dpo_tui.tui.widgets.slider import Commit, RubricSlider


class CandidatePane(Vertical):
    """A candidate with no model name or decoding parameters (blind annotation)."""

    ALLOW_MAXIMIZE = True

    def __init__(self, rubric: Rubric, index: int, commit: Commit | None = None) -> None:
        super().__init__(classes="candidate", id=f"candidate-{index}")
        self.rubric = rubric
        self.index = index
        self.commit = commit
        self.candidate_id = ""

    def compose(self) -> ComposeResult:
        yield Static(classes="candidate-title")
        with VerticalScroll(classes="candidate-body"):
            yield Static(classes="candidate-text")
        for criterion in self.rubric.criteria:
            yield RubricSlider(
                criterion, "", commit=self.commit, id=f"slider-{self.index}-{criterion.key}"
            )

    def show(self, candidate: Candidate, label: str, scores: dict[str, int]) -> None:
        """Fill the pane with another candidate (panes are reused between items)."""
        self.candidate_id = candidate.id
        self.label = label
        self.query_one(".candidate-text", Static).update(Content(visible(candidate.text)))
        self.query_one(".candidate-body", VerticalScroll).scroll_home(animate=False)
        for slider in self.query(RubricSlider):
            slider.candidate_id = candidate.id
            slider.value = scores.get(slider.criterion.key)

    def stream(self, text: str) -> None:
        """Show text as it is generated (regeneration), literally."""
        self.query_one(".candidate-text", Static).update(Content(visible(text)))
        self.query_one(".candidate-body", VerticalScroll).scroll_end(animate=False)

    def set_status(self, total: float | None, role: str) -> None:
        """The title line: label, live weighted total, and chosen/rejected if the pair forms."""
        score = "–" if total is None else f"{total:.2f}"
        badge = {"chosen": " ✓ chosen", "rejected": " ✗ rejected"}.get(role, "")
        self.query_one(".candidate-title", Static).update(
            Content.assemble(
                (f" {self.label} ", "reverse bold"), f" total {score}", (badge, "bold")
            )
        )
        self.set_class(role == "chosen", "chosen")
        self.set_class(role == "rejected", "rejected")
