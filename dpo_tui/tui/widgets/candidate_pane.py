"""CandidatePane: one candidate, blind-labelled, its text shown literally, and its sliders."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from dpo_tui.core.models import Candidate, Rubric
from dpo_tui.core.safe_text import visible
from dpo_tui.tui.widgets.slider import Commit, RubricSlider
from dpo_tui.tui.widgets.text_view import TextView


def show_content(static: Static, content: Content, layout: bool = False) -> None:
    """Update `static` only if the text or its styles changed (an update costs a repaint, and
    with `layout` a layout pass); leave `layout` off where the widget's size is fixed."""
    shown = static.content
    if not (
        isinstance(shown, Content) and shown.plain == content.plain and shown.spans == content.spans
    ):
        static.update(content, layout=layout)


class CandidatePane(Vertical):
    """A candidate with no model name or decoding parameters (blind annotation); with
    `annotate --suggest`, a judge's values on its sliders and its reasons in a dim line."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    CandidatePane .candidate-reasons {
        height: auto;
        max-height: 3;
        color: $text-muted;
        display: none;
    }
    CandidatePane .candidate-reasons.shown {
        display: block;
    }
    """

    def __init__(self, rubric: Rubric, index: int, commit: Commit | None = None) -> None:
        super().__init__(classes="candidate", id=f"candidate-{index}")
        self.rubric = rubric
        self.index = index
        self.candidate_id = ""
        self.label = ""
        self.shown_id: str | None = None
        """The candidate whose text is shown (None while a regenerated one streams in)."""
        self.heading = Static(classes="candidate-title")
        self.text = TextView(classes="candidate-text")
        self.reasons = Static(classes="candidate-reasons")
        """The judge's reasons (shown only with its values: `annotate --suggest`)."""
        self.sliders = [
            RubricSlider(criterion, "", commit=commit, id=f"slider-{index}-{criterion.key}")
            for criterion in rubric.criteria
        ]

    def compose(self) -> ComposeResult:
        yield self.heading
        yield self.text
        yield self.reasons
        yield from self.sliders

    def show(
        self,
        candidate: Candidate,
        label: str,
        scores: dict[str, int],
        suggested: Mapping[str, int] | None = None,
        reasons: str = "",
    ) -> None:
        """Fill the pane with another candidate (panes are reused between items); unchanged
        parts are left alone, so showing the same item again repaints nothing. `suggested`
        and `reasons`: a judge's card of the candidate and why (`annotate --suggest`)."""
        if candidate.id != self.shown_id:
            self.text.update(Content(visible(candidate.text)))
            self.text.scroll_home(animate=False)
            self.shown_id = candidate.id
        self.candidate_id = candidate.id
        self.label = label
        for slider in self.sliders:
            slider.candidate_id = candidate.id
            slider.value = scores.get(slider.criterion.key)
            slider.suggestion = suggested.get(slider.criterion.key) if suggested else None
        self._show_reasons(reasons if suggested else "")

    def _show_reasons(self, reasons: str) -> None:
        """The judge's reasons, literally, in a dim line (hidden when there are none)."""
        if reasons:
            text = Content.assemble(("judge: ", "bold"), visible(reasons)).stylize("dim")
            show_content(self.reasons, text, layout=True)
        self.reasons.set_class(bool(reasons), "shown")

    def stream(self, text: str) -> None:
        """Show text as it is generated (regeneration), literally."""
        self.text.update(Content(visible(text)))
        self.text.scroll_end(animate=False)
        self.shown_id = None

    def set_status(self, total: float | None, role: str) -> None:
        """The title line: label, live weighted total, and chosen/rejected if the pair forms."""
        score = "–" if total is None else f"{total:.2f}"
        badge = {"chosen": " ✓ chosen", "rejected": " ✗ rejected"}.get(role, "")
        show_content(
            self.heading,
            Content.assemble(
                (f" {self.label} ", "reverse bold"), f" total {score}", (badge, "bold")
            ),
        )
        self.set_class(role == "chosen", "chosen")
        self.set_class(role == "rejected", "rejected")
