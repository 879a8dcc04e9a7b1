"""HomeScreen: the project's progress, scores so far, and where to go next."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from dpo_tui.core.safe_text import visible
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.tui.screens.annotate import duration, waiting_note
from dpo_tui.tui.screens.app_access import dpo_app

BAR_WIDTH = 30


class HomeScreen(Screen[None]):
    """Shown when there is nothing to annotate yet, or on `h`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,c", "continue", "Annotate", id="home.continue"),
        Binding("escape", "continue", "Back", show=False, id="home.back"),
    ]

    def __init__(self, session: AnnotationSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="home"):
            yield Static(id="home-summary")
            yield Static(id="home-distribution")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_summary()

    def on_screen_resume(self) -> None:
        self.refresh_summary()

    def refresh_summary(self) -> None:
        store = self.session.store
        status = store.status()
        progress = self.session.progress()
        rubric = self.session.rubric
        lines = [
            Content.styled(visible(f"dpo-tui · {status.path}"), "bold"),
            Content(visible(f"annotator {self.session.annotator} · rubric {rubric.name}")),
            Content(
                f"{status.prompts} prompts · {status.candidates} candidates "
                f"({status.near_duplicate_candidates} near-duplicates) · "
                f"{progress.done}/{progress.total} done · "
                f"{progress.items_per_hour or 0:.0f} items/hour · "
                f"ETA {duration(progress.eta_seconds)}{waiting_note(progress)}"
            ),
        ]
        if status.candidates == 0:
            lines.append(
                Content.styled(
                    "No candidates yet: run `dpo-tui generate` or `dpo-tui import-candidates`.",
                    "$warning",
                )
            )
        lines.append(Content("enter: annotate · ?: keys · q: quit"))
        self.query_one("#home-summary", Static).update(Content("\n").join(lines))
        self.query_one("#home-distribution", Static).update(self._distribution())

    def _distribution(self) -> Content:
        """A bar per score value per criterion, for this annotator's scores so far."""
        counts = self.session.store.score_tally(self.session.annotator)
        parts = [Content.styled("\nScores so far", "bold")]
        for criterion in self.session.rubric.criteria:
            tally = counts.get(criterion.key, Counter())
            most = max(tally.values(), default=0)
            parts.append(Content.styled(f"\n{criterion.label}", "underline"))
            for point in criterion.scale.points:
                width = round(BAR_WIDTH * tally[point] / most) if most else 0
                label = criterion.scale.labels.get(point, "")
                parts.append(
                    Content(f"\n {point:>2} {'█' * width:<{BAR_WIDTH}} {tally[point]:>5}  {label}")
                )
        return Content("").join(parts)

    def action_continue(self) -> None:
        if not self.session.store.has_candidates():
            self.notify(
                "Nothing to annotate yet: the project has no candidates.", severity="warning"
            )
            return
        dpo_app(self).switch_to_annotate()
