"""AdjudicateScreen: a disputed item with every annotator's scores and diagnosis side by side,
and keys to accept one of the proposed pairs, or no pair."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from dpo_tui.core.safe_text import visible
from dpo_tui.services.adjudicating import AdjudicationSession, DisputedItem
from dpo_tui.tui.saving import saved


class AdjudicateScreen(Screen[None]):
    """Keys 1-9 accept a proposal, x settles on no pair; the note is saved with it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                str(n),
                f"accept({n})",
                f"Accept {n}",
                show=n <= 3,
                id=f"adjudicate.accept_{n}",
                priority=True,
            )
            for n in range(1, 10)
        ),
        Binding("x", "no_pair", "No pair", id="adjudicate.no_pair", priority=True),
        Binding("n", "step(1)", "Next", id="adjudicate.next", priority=True),
        Binding("p", "step(-1)", "Prev", id="adjudicate.previous", priority=True),
        Binding("e", "edit_note", "Note", id="adjudicate.note", priority=True),
        Binding(
            "escape", "leave_note", "Back", show=False, id="adjudicate.leave_note", priority=True
        ),
    ]

    def __init__(self, session: AdjudicationSession) -> None:
        super().__init__()
        self.session = session

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the note editor has focus, keys type text; only escape leaves it."""
        return action == "leave_note" or not isinstance(self.app.focused, TextArea)

    def compose(self) -> ComposeResult:
        yield Static(id="progress")
        with VerticalScroll(id="prompt"):
            yield Static(id="prompt-text")
        yield HorizontalScroll(id="candidates")
        yield Static(id="diagnoses")
        yield TextArea(id="note", soft_wrap=True)
        yield Static(id="proposals")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#note", TextArea).border_title = "Resolution note (optional)"
        if not self.session.prompt_ids:
            self.query_one("#progress", Static).update("No disputed items: nothing to adjudicate.")
            return
        await self.show(self.session.first_open())

    async def show(self, item: DisputedItem) -> None:
        labels = item.labels
        row = self.query_one("#candidates", HorizontalScroll)
        await row.remove_children()
        panes = []
        for candidate in item.candidates:
            lines = [Content.styled(f" {labels[candidate.id]} ", "reverse bold")]
            lines.append(Content(visible(candidate.text)))
            for view in item.views:
                scores = view.scores.get(candidate.id, {})
                value = view.totals.get(candidate.id)
                shown = " ".join(f"{k} {v}" for k, v in scores.items()) or "not scored"
                score = "–" if value is None else f"{value:.2f}"
                lines.append(
                    Content.styled(visible(f"{view.annotator}: {score} · {shown}"), "bold")
                )
            panes.append(Static(Content("\n").join(lines), classes="adjudicate-candidate"))
        await row.mount_all(panes)
        self.query_one("#prompt-text", Static).update(Content(visible(item.prompt.text)))
        diagnoses = []
        for view in item.views:
            judgement = view.judgement
            flags = f" [{', '.join(judgement.flags)}]" if judgement and judgement.flags else ""
            text = judgement.diagnosis if judgement else ""
            diagnoses.append(
                Content.assemble(
                    (visible(f"{view.annotator}{flags}: "), "bold"),
                    visible(text) or "(no diagnosis)",
                )
            )
        self.query_one("#diagnoses", Static).update(Content("\n").join(diagnoses))
        note = self.query_one("#note", TextArea)
        note.load_text(item.resolution.note if item.resolution else "")
        self.refresh_status(item)

    def refresh_status(self, item: DisputedItem) -> None:
        labels = item.labels
        parts = [
            Content(
                visible(
                    f"{n}: {labels[p.chosen]} > {labels[p.rejected]} ({', '.join(p.annotators)})   "
                )
            )
            for n, p in enumerate(item.proposals, start=1)
        ]
        parts.append(Content("x: no pair"))
        self.query_one("#proposals", Static).update(Content("").join(parts))
        settled = item.resolution
        if settled is None:
            verdict = "unresolved"
        elif settled.chosen_id is None:
            verdict = f"resolved: no pair (by {settled.resolver})"
        else:
            verdict = (
                f"resolved: {labels.get(settled.chosen_id, '?')} > "
                f"{labels.get(settled.rejected_id or '', '?')} (by {settled.resolver})"
            )
        self.query_one("#progress", Static).update(
            Content(
                visible(
                    f"adjudicate · item {item.index + 1}/{len(self.session.prompt_ids)}"
                    f" · {self.session.remaining()} unresolved · {verdict}"
                )
            )
        )

    def _note(self) -> str:
        return self.query_one("#note", TextArea).text

    def action_accept(self, number: int) -> None:
        item = self.session.item
        if item is None or number > len(item.proposals):
            return
        proposal = item.proposals[number - 1]
        self._resolve(proposal.chosen, proposal.rejected)

    def action_no_pair(self) -> None:
        if self.session.item is not None:
            self._resolve(None, None)

    def _resolve(self, chosen: str | None, rejected: str | None) -> None:
        note = self._note()
        path = self.session.store.path
        item = saved(self, path, lambda: self.session.resolve(chosen, rejected, note))
        if item is not None:
            self.refresh_status(item)

    async def action_step(self, direction: int) -> None:
        item = self.session.step(direction)
        if item is None:
            self.notify("No more disputed items that way.", timeout=2)
        else:
            await self.show(item)

    def action_edit_note(self) -> None:
        self.set_focus(self.query_one("#note", TextArea))

    def action_leave_note(self) -> None:
        self.set_focus(None)
