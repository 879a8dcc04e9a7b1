"""The annotator app and `make_app`, the one factory used by the CLI and the tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, TextArea

from dpo_tui.config import RepackSetting, load_keymap
from dpo_tui.core.judge_order import ItemOrder
from dpo_tui.generation.base import Backend
from dpo_tui.services.adjudicating import AdjudicationSession
from dpo_tui.services.annotating import AnnotationSession, ItemFilter
from dpo_tui.services.practising import Practice
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.gc_pause import GcPause
from dpo_tui.tui.screens.adjudicate import AdjudicateScreen
from dpo_tui.tui.screens.annotate import AnnotateScreen
from dpo_tui.tui.screens.help import HelpScreen
from dpo_tui.tui.screens.home import HomeScreen


class DpoApp(App[None]):
    """Annotate one project file; every change is in the file before it shows on screen."""

    CSS_PATH = "app.tcss"
    TITLE = "dpo-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Keys", id="help", priority=True),
        Binding("h", "home", "Home", id="home", priority=True),
        Binding("q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        session: AnnotationSession,
        keymap: dict[str, str] | None = None,
        adjudication: AdjudicationSession | None = None,
        model: Path | None = None,
        repack: RepackSetting | None = None,
        practice: Practice | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.practice = practice
        self.keymap = keymap or {}
        self.adjudication = adjudication
        self.model = model
        self.repack = repack
        self._backend: Backend | None = None
        self._backend_lock = threading.Lock()
        self._gc_pause = GcPause()

    def on_mount(self) -> None:
        self._gc_pause.start()
        self.set_keymap(self.keymap)
        known = self._binding_ids()
        unknown = sorted(set(self.keymap) - known)
        if unknown:
            self.notify(
                f"Unknown key binding ids in the keymap: {', '.join(unknown)}", severity="warning"
            )
        if self.adjudication is not None:
            self.push_screen(AdjudicateScreen(self.adjudication))
        elif not self.session.store.has_candidates():
            self.push_screen(HomeScreen(self.session))
        else:
            self.push_screen(AnnotateScreen(self.session))

    def on_unmount(self) -> None:
        self._gc_pause.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):  # no collection until its frame is drawn
            self._gc_pause.hold()
            self.call_after_refresh(self._gc_pause.release)
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Letters type text in an editor or input; elsewhere they are commands."""
        return not isinstance(self.focused, (TextArea, Input)) or action not in {
            "help",
            "home",
            "quit",
        }

    def _binding_ids(self) -> set[str]:
        bindings = [
            *self.BINDINGS,
            *AnnotateScreen.BINDINGS,
            *HomeScreen.BINDINGS,
            *AdjudicateScreen.BINDINGS,
        ]
        return {b.id for b in bindings if isinstance(b, Binding) and b.id}

    def backend(self) -> Backend:
        """The local model for regenerating candidates, loaded on first use (from a worker
        thread: loading takes a moment)."""
        with self._backend_lock:
            if self._backend is None:
                from dpo_tui.generation.llama import LlamaBackend

                self._backend = LlamaBackend(self.model, repack=self.repack)
            return self._backend

    def switch_to_annotate(self) -> None:
        if isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if not isinstance(self.screen, AnnotateScreen):
            self.push_screen(AnnotateScreen(self.session))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_home(self) -> None:
        if isinstance(self.screen, AnnotateScreen):
            self.screen.save_diagnosis()
            self.push_screen(HomeScreen(self.session))

    async def action_quit(self) -> None:
        """Quit (q or ctrl+q) after committing the diagnosis being typed and the time spent."""
        for screen in self.screen_stack:
            if isinstance(screen, AnnotateScreen):
                screen.save_diagnosis()
        self.session.close()
        if self._backend is not None:
            self._backend.close()
        self.exit()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every action of the screen in the palette, plus quick-insert of criterion names."""
        yield from super().get_system_commands(screen)
        for binding in screen.BINDINGS:
            if isinstance(screen, AnnotateScreen) and not screen.offers(binding):
                continue  # the judge's key, without --suggest
            if isinstance(binding, Binding) and binding.description:
                action = binding.action
                yield SystemCommand(
                    binding.description,
                    f"{binding.key} · {binding.id}",
                    lambda action=action: self.run_action(action, screen),
                )
        if isinstance(screen, AnnotateScreen):
            for criterion in self.session.rubric.criteria:
                label = criterion.label
                yield SystemCommand(
                    f"Insert criterion: {label}",
                    "into the diagnosis at the cursor",
                    lambda label=label: screen.insert_in_diagnosis(label),
                )


def make_app(
    project: Path,
    annotator: str | None = None,
    keymap_file: Path | None = None,
    adjudicate: bool = False,
    model: Path | None = None,
    repack: RepackSetting | None = None,
    item_filter: ItemFilter = "all",
    practice: bool = False,
    order: ItemOrder = "file",
    judge: str | None = None,
    seed: int = 0,
    suggest: bool = False,
) -> DpoApp:
    """Open `project` for `annotator` (default: the file's own) with the user's keymap, on
    the items `item_filter` shows, walked in `order` (`judge` and `seed`: see
    `AnnotationSession.set_order`); with `adjudicate`, on the disputed items, `annotator`
    being the resolver; with `practice`, on the gold items, each one's reference shown once
    the annotator has finished it; with `suggest`, showing the scores of `judge` (or of the
    file's only judge) beside the annotator's (`AnnotationSession.suggest`)."""
    store = ProjectStore.open(project)
    try:
        adjudication = AdjudicationSession(store, annotator) if adjudicate else None
        trainer = Practice.open(store, annotator) if practice else None
        session = trainer.session if trainer else AnnotationSession(store, annotator)
        session.filter = item_filter
        if order != "file":
            session.set_order(order, judge=judge, seed=seed)
        if suggest:
            session.suggest(judge)
        return DpoApp(
            session,
            load_keymap(keymap_file),
            adjudication,
            model,
            repack,
            trainer,
        )
    except BaseException:
        store.close()
        raise
