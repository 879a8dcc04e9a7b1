"""AnnotateScreen: the prompt, candidates side by side with sliders, diagnosis, flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static, TextArea

from dpo_tui.core.decoding import regeneration_preset
from dpo_tui.core.models import Candidate, Flag, Message
from dpo_tui.core.safe_text import diagnosis_problem, visible
from dpo_tui.errors import DpoError
from dpo_tui.generation.base import Backend, GeneratedCandidate
from dpo_tui.services.annotating import FILTERS, AnnotationSession, ItemView, Progress
from dpo_tui.services.generating import messages_of, stored_candidate
from dpo_tui.services.gold import mark_gold
from dpo_tui.tui.saving import saved
from dpo_tui.tui.screens.app_access import dpo_app
from dpo_tui.tui.screens.goto import GoToScreen
from dpo_tui.tui.screens.practice import PracticeScreen, feedback_text, summary_text
from dpo_tui.tui.widgets.candidate_pane import CandidatePane, show_content
from dpo_tui.tui.widgets.footer import KeyFooter
from dpo_tui.tui.widgets.slider import RubricSlider

T = TypeVar("T")

DIAGNOSIS_IDLE_SECONDS = 0.6
PANE_MIN_WIDTH = 38
FLAG_KEYS: dict[Flag, str] = {"skip": "s", "tie": "t", "all_bad": "a", "unclear": "u"}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def waiting_note(progress: Progress) -> str:
    """` · N prompts wait for candidates`, or nothing when none do."""
    if not progress.waiting:
        return ""
    plural = "prompt waits" if progress.waiting == 1 else "prompts wait"
    return f" · {progress.waiting} {plural} for candidates"


def rescore_note(progress: Progress) -> str:
    """` · N to score again` (after a rubric revision), or nothing."""
    return f" · {progress.rescore} to score again" if progress.rescore else ""


class AnnotateScreen(Screen[None]):
    """Keyboard-first scoring; every change is committed to the project file at once."""

    # Every binding is a priority binding: the app runs it before dispatching the next key,
    # so fast typing is applied in order. `check_action` lets keys through to the editor.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "step(1)", "Next", id="next_item", priority=True),
        Binding("p", "step(-1)", "Prev", id="previous_item", priority=True),
        Binding("N", "next_unfinished", "Next unfinished", id="next_unfinished", priority=True),
        Binding("g", "go_to", "Go to", id="go_to", priority=True),
        Binding("v", "cycle_filter", "Filter", id="cycle_filter", priority=True),
        Binding("s", "flag('skip')", "Skip", id="flag_skip", priority=True),
        Binding("t", "flag('tie')", "Tie", id="flag_tie", priority=True),
        Binding("a", "flag('all_bad')", "All bad", id="flag_all_bad", priority=True),
        Binding("u", "flag('unclear')", "Unclear", id="flag_unclear", priority=True),
        Binding("d", "edit_diagnosis", "Diagnosis", id="edit_diagnosis", priority=True),
        Binding(
            "escape", "leave_editor", "Back to scores", show=False, id="leave_editor", priority=True
        ),
        Binding("m", "maximize_candidate", "Focus pane", id="maximize_candidate", priority=True),
        Binding("r", "regenerate", "Regenerate", id="regenerate", priority=True),
        Binding("G", "mark_gold", "Mark gold", show=False, id="mark_gold", priority=True),
        Binding("J", "accept_suggestions", "Take judge's", id="accept_suggestions", priority=True),
        Binding("ctrl+z", "undo", "Undo", show=False, id="undo", priority=True),
        Binding("ctrl+y", "redo", "Redo", show=False, id="redo", priority=True),
    ]

    def __init__(self, session: AnnotationSession) -> None:
        super().__init__()
        self.session = session
        self._save_timer: Timer | None = None
        self._progress = Static(id="progress")
        self._prompt = VerticalScroll(id="prompt")
        self._prompt_text = Static(id="prompt-text")
        self._row = HorizontalScroll(id="candidates")
        self._panes: list[CandidatePane] = []
        self._editor = TextArea(id="diagnosis", soft_wrap=True, show_line_numbers=False)
        self._editor.border_title = "Diagnosis: why is the better one better?"
        self._flags = Static(id="flags")
        self._question = Static(id="question")
        self._shown_prompt: str | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the diagnosis editor has focus, keys type text; only escape leaves it. The
        judge's key is there only with `--suggest`."""
        if action == "accept_suggestions" and not self.offers_suggestions:
            return False
        return action == "leave_editor" or not isinstance(self.app.focused, TextArea)

    @property
    def offers_suggestions(self) -> bool:
        """Whether a judge's values are shown (`annotate --suggest`), and its key works."""
        return self.session.suggesting is not None

    def offers(self, binding: BindingType) -> bool:
        """Whether the key works here (the help screen and the palette list only those)."""
        judges = isinstance(binding, Binding) and binding.id == "accept_suggestions"
        return not judges or self.offers_suggestions

    @property
    def item(self) -> ItemView:
        assert self.session.item is not None
        return self.session.item

    def compose(self) -> ComposeResult:
        yield self._progress
        with self._prompt:
            yield self._prompt_text
        yield self._row
        yield self._editor
        yield self._flags
        yield self._question
        yield KeyFooter()

    async def on_mount(self) -> None:
        await self.show_item(self.session.item or self.session.start())

    # -- showing an item -------------------------------------------------------

    async def show_item(self, item: ItemView) -> None:
        """Show `item`. The widgets stay (panes are rebuilt only when the candidate count
        changes), only what differs is updated, and no widget changes size (texts scroll in
        their panes, and the prompt box keeps its height for short prompts): the next item is
        a repaint, and a layout pass that moves nothing."""
        if len(self._panes) != len(item.candidates):
            await self._row.remove_children()
            self._panes = [
                CandidatePane(self.session.rubric, i, self.commit_score)
                for i in range(len(item.candidates))
            ]
            await self._row.mount_all(self._panes)
            self._fit_panes()
        labels = item.labels
        for pane, candidate in zip(self._panes, item.candidates, strict=True):
            judged = item.suggestions.get(candidate.id)
            pane.show(
                candidate,
                labels[candidate.id],
                item.scores.get(candidate.id, {}),
                judged.card if judged else None,
                judged.reasons if judged else "",
            )
        if item.prompt.id != self._shown_prompt:
            self._shown_prompt = item.prompt.id
            meta = f"#{item.index + 1} · {item.prompt.source}"
            if item.prompt.tags:
                meta += " · " + ", ".join(item.prompt.tags)
            self._prompt.border_title = Content(visible(meta))  # not markup: tags are data
            self._show_prompt(Content(visible(item.prompt.text)))
            editor = self._editor
            history = editor.history
            if editor.text or item.judgement.diagnosis or history.undo_stack or history.redo_stack:
                with editor.prevent(TextArea.Changed):
                    editor.load_text(item.judgement.diagnosis)
        self.refresh_status(item)
        first = self._first_slider()
        if first is not None and not isinstance(self.focused, TextArea):
            self.set_focus(first)
        elif first is None:
            show_content(
                self._question,
                Content(
                    "No candidates for this prompt yet: run `dpo-tui generate` or "
                    "`dpo-tui import-candidates`."
                ),
            )

    def _show_prompt(self, text: Content) -> None:
        """Show the prompt; a layout pass only if its number of lines changes."""
        shown = self._prompt_text
        width, height = shown.size
        # Textual types get_height's rules as RulesMap; a widget's styles are what it reads
        relayout = not width or text.get_height(shown.styles, width) != height  # type: ignore[arg-type]
        shown.update(text, layout=relayout)
        self._prompt.scroll_home(animate=False)

    def _first_slider(self) -> RubricSlider | None:
        return next((slider for pane in self._panes for slider in pane.sliders), None)

    def on_resize(self) -> None:
        self._fit_panes()

    def _fit_panes(self) -> None:
        """Share the width between the panes, none narrower than PANE_MIN_WIDTH (then scroll)."""
        width = self._row.size.width
        if self._panes and width:
            for pane in self._panes:
                pane.styles.width = max(PANE_MIN_WIDTH, width // len(self._panes))

    def refresh_status(self, item: ItemView) -> None:
        """Totals, the forming pair, flags and the progress line, after any change."""
        roles: dict[str, str] = {}
        for pair in item.outcome.pairs:
            roles.setdefault(pair.chosen, "chosen")
            roles.setdefault(pair.rejected, "rejected")
        for pane in self._panes:
            pane.set_status(item.totals.get(pane.candidate_id), roles.get(pane.candidate_id, ""))
        flags = [
            (
                f" {key} {name.replace('_', ' ')} ",
                "reverse bold" if name in item.judgement.flags else "dim",
            )
            for name, key in FLAG_KEYS.items()
        ]
        show_content(self._flags, Content.assemble(*flags, "  ", self._pair_line(item)))
        progress = self.session.progress()
        percent = 100 * progress.done / progress.total if progress.total else 0
        rate = f"{progress.items_per_hour:.0f}/h" if progress.items_per_hour else "–/h"
        show_content(
            self._progress,
            Content.assemble(
                ("dpo-tui ", "bold"),
                visible(f"{self.session.annotator} · "),
                f"{progress.done}/{progress.total} done ({percent:.0f}%) · {rate} · "
                f"ETA {duration(progress.eta_seconds)} · filter: {self.session.filter}"
                f"{waiting_note(progress)}{rescore_note(progress)}",
            ),
        )

    def _pair_line(self, item: ItemView) -> Content:
        labels = item.labels
        if item.outcome.pairs:
            shown = ", ".join(
                f"{labels[p.chosen]} > {labels[p.rejected]} ({p.margin:+.2f}"
                + (" veto)" if p.by_veto else ")")
                for p in item.outcome.pairs
            )
            return Content.styled(f"pair: {shown}", "bold $success")
        return Content.styled(f"no pair: {item.outcome.reason}", "$warning")

    # -- events ------------------------------------------------------------------

    def commit_score(self, slider: RubricSlider, value: int | None) -> bool:
        """Called by a slider before its new value shows: the score is in the file first
        (False: it could not be written, and the slider keeps its value)."""
        done = self._saved(
            lambda: self.session.set_score(slider.candidate_id, slider.criterion.key, value)
        )
        return done is not None

    def _saved(self, change: Callable[[], T]) -> T | None:
        """`change()`, or None when it could not be written (the app says why)."""
        return saved(self, self.session.store.path, change)

    @on(RubricSlider.Changed)
    def score_changed(self) -> None:
        self.refresh_status(self.item)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        focused = self.focused
        if isinstance(focused, RubricSlider):
            pane = focused.query_ancestor(CandidatePane)
            show_content(
                self._question,
                Content.assemble(
                    (f"{pane.label} · {focused.criterion.label}: ", "bold"),
                    focused.criterion.question,
                ),
            )

    @on(TextArea.Changed, "#diagnosis")
    def diagnosis_changed(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(DIAGNOSIS_IDLE_SECONDS, self.save_diagnosis)

    def save_diagnosis(self) -> None:
        """Commit the diagnosis text (after an idle pause, on leaving the editor or item)."""
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None
        item = self.session.item
        if item is None or self._editor.text == item.judgement.diagnosis:
            return
        problem = diagnosis_problem(self._editor.text)
        if problem:  # kept in the editor, not saved, until the annotator shortens it
            self.notify(f"Not saved: {problem}.", severity="error", timeout=6)
            return
        text = self._editor.text
        item = self._saved(lambda: self.session.set_diagnosis(text))
        if item is not None:  # else kept in the editor, to save on the next pause or move
            self.refresh_status(item)

    # -- actions -----------------------------------------------------------------

    async def _go(self, item: ItemView | None, empty: str) -> None:
        """Show `item` (the callers saved the diagnosis before moving the session on)."""
        if item is None:
            self.notify(empty, timeout=3)
            return
        await self.show_item(item)

    async def action_step(self, direction: int) -> None:
        self.save_diagnosis()
        practice = dpo_app(self).practice
        feedback = practice.feedback() if practice else None
        if feedback is not None:  # in practice: the reference first, then the move

            async def then(_: None) -> None:
                await self._step(direction)

            text = feedback_text(feedback, self.item.labels, self.session.rubric)
            self.app.push_screen(PracticeScreen("The reference for this item", text), then)
            return
        await self._step(direction)

    async def _step(self, direction: int) -> None:
        moved = self._saved(lambda: (self.session.step(direction),))
        if moved is None:
            return
        item = moved[0]
        practice = dpo_app(self).practice
        if item is None and practice is not None and direction > 0:
            self.app.push_screen(PracticeScreen("Practice", summary_text(practice.summary())))
            return
        edge = "last" if direction > 0 else "first"
        await self._go(item, f"This is the {edge} item ({self.session.filter}).")

    async def action_next_unfinished(self) -> None:
        self.save_diagnosis()
        moved = self._saved(lambda: (self.session.step(1, "unfinished"),))
        if moved is not None:
            await self._go(moved[0], "No unfinished item after this one.")

    async def action_cycle_filter(self) -> None:
        self.session.filter = FILTERS[(FILTERS.index(self.session.filter) + 1) % len(FILTERS)]
        self.refresh_status(self.item)
        self.notify(f"Filter: {self.session.filter} (n / p move within it)", timeout=2)

    def action_go_to(self) -> None:
        async def jump(query: str | None) -> None:
            if not query:
                return
            index = self.session.find(query)
            if index is None:
                self.notify(visible(f"No prompt matches {query!r}."), severity="warning")
                return
            self.save_diagnosis()
            item = self._saved(lambda: self.session.open(index))
            if item is not None:
                await self.show_item(item)

        self.app.push_screen(GoToScreen(len(self.session.prompt_ids)), jump)

    def action_mark_gold(self) -> None:
        """Lead only: make this item a gold item (its pair and diagnosis the reference)."""
        self.save_diagnosis()
        if self._saved(lambda: mark_gold(self.session)) is not None:
            self.notify("Marked as a gold item: its pair and diagnosis are the reference.")

    def action_accept_suggestions(self) -> None:
        """Set the focused candidate's sliders to the judge's values, each as if typed (saved,
        and undone with ctrl+z, one by one)."""
        pane = self._focused_pane()
        judged = self.item.suggestions.get(pane.candidate_id) if pane else None
        if pane is None or judged is None:
            self.notify("Focus a candidate the judge scored to take its values.", timeout=3)
            return
        for slider in pane.sliders:
            value = judged.card.get(slider.criterion.key)
            if value in slider.criterion.scale.points:
                slider.set_value(value)
                if slider.value != value:  # not written (the app said why): stop there
                    return

    def _focused_pane(self) -> CandidatePane | None:
        focused = self.focused
        try:
            return focused.query_ancestor(CandidatePane) if focused else None
        except NoMatches:
            return None

    def action_flag(self, flag: Flag) -> None:
        self.save_diagnosis()
        item = self._saved(lambda: self.session.toggle_flag(flag))
        if item is not None:
            self.refresh_status(item)

    def action_edit_diagnosis(self) -> None:
        # set_focus, not focus(): at once, so the keys typed next land in the editor.
        self.set_focus(self._editor)

    def action_leave_editor(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        if isinstance(self.focused, TextArea):
            self.save_diagnosis()
            first = self._first_slider()
            if first is not None:
                self.set_focus(first)

    def action_maximize_candidate(self) -> None:
        pane = self._focused_pane()
        if pane is not None:
            self.maximize(pane, container=False)

    def action_regenerate(self) -> None:
        """Regenerate the focused candidate in a background worker, streaming into its pane."""
        pane = self._focused_pane()
        if pane is None:
            self.notify("Focus a candidate's slider to regenerate it.", timeout=3)
            return
        old = next(c for c in self.item.candidates if c.id == pane.candidate_id)
        self.notify(f"Regenerating {pane.label} with the local model ...", timeout=3)
        self._regenerate(pane, old, messages_of(self.item.prompt))

    @work(thread=True, exclusive=True, group="regenerate")
    def _regenerate(
        self, pane: CandidatePane, old: Candidate, messages: tuple[Message, ...]
    ) -> None:
        backend = dpo_app(self).backend()
        preset = regeneration_preset(old.params)
        text: list[str] = []

        def on_token(_slot: int, piece: str) -> None:
            text.append(piece)
            self.app.call_from_thread(pane.stream, "".join(text))

        try:
            [made] = backend.generate(messages, [preset], on_token)
        except DpoError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        # Textual types the callback as returning Awaitable[Never]; a coroutine is what it runs
        self.app.call_from_thread(self._regenerated, old, made, backend)  # type: ignore[arg-type]

    async def _regenerated(
        self, old: Candidate, made: GeneratedCandidate, backend: Backend
    ) -> None:
        if not made.text.strip():
            self.notify("The model returned nothing; the candidate is kept.", severity="warning")
            await self.show_item(self.item)
            return
        new = stored_candidate(
            old.prompt_id, made, backend, old.params.get("slot"), regenerated_from=old.id
        )
        await self.show_item(
            self._saved(lambda: self.session.replace_candidate(old.id, new)) or self.item
        )

    async def action_undo(self) -> None:
        done = self._saved(lambda: (self.session.undo(),))
        if done is not None:
            await self._history(done[0])

    async def action_redo(self) -> None:
        done = self._saved(lambda: (self.session.redo(),))
        if done is not None:
            await self._history(done[0])

    async def _history(self, item: ItemView | None) -> None:
        if item is None:
            self.notify("Nothing to undo or redo on this item.", timeout=2)
            return
        focused = self.focused
        await self.show_item(item)
        if focused is not None and focused.is_attached:
            focused.focus()

    def insert_in_diagnosis(self, text: str) -> None:
        """Quick-insert (a criterion name) at the cursor in the diagnosis editor."""
        self._editor.insert(text)
        self._editor.focus()
