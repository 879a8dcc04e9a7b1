"""RubricSlider: one criterion's score for one candidate, set from the keyboard or the mouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from dpo_tui.core.models import Criterion

LABEL_WIDTH = 14
Commit = Callable[["RubricSlider", int | None], bool]
"""Saves a slider's new value; called synchronously, before the value is shown."""


class RubricSlider(Widget, can_focus=True):
    """`Label  ■■■□□ 3 end-label`. A digit sets the score and moves focus to the next slider
    at once (so fast typing lands where the annotator expects); left/right and +/- step,
    backspace clears, a click sets the point under the pointer.

    With a judge's value to show (`suggestion`, `annotate --suggest` only), its cell is drawn
    as a diamond (`◆` within the annotator's score, `◇` past it) and `(judge N)` follows the
    value: `Label  ■■◆□□ 3 (judge 3) end-label`, legible without colour."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the app runs these before dispatching the next key, so a digit's move to
        # the next slider happens before the next key arrives, however fast the typing.
        Binding(
            "right,plus,equals_sign", "step(1)", "Up", show=False, id="slider.up", priority=True
        ),
        Binding("left,minus", "step(-1)", "Down", show=False, id="slider.down", priority=True),
        Binding("backspace,delete", "clear", "Clear", show=False, id="slider.clear", priority=True),
        *(Binding(str(d), f"digit({d})", show=False, priority=True) for d in range(10)),
    ]

    value: reactive[int | None] = reactive(None)
    suggestion: reactive[int | None] = reactive(None)
    """The judge's value (None: none shown)."""

    @dataclass
    class Changed(Message):
        """The annotator changed the score."""

        slider: RubricSlider
        value: int | None

        @property
        def control(self) -> RubricSlider:
            return self.slider

    def __init__(
        self,
        criterion: Criterion,
        candidate_id: str,
        value: int | None = None,
        commit: Commit | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.criterion = criterion
        self.candidate_id = candidate_id
        self.commit = commit
        self.set_reactive(RubricSlider.value, value)
        self.tooltip = criterion.question

    @property
    def _scale(self) -> range:
        return self.criterion.scale.points

    def render(self) -> Content:
        scale = self.criterion.scale
        label = self.criterion.label[:LABEL_WIDTH].ljust(LABEL_WIDTH)
        judge = self.suggestion
        cells = Content.assemble(
            *(self._cell(point, point == judge) for point in self._scale)
        ).stylize("$accent" if self.has_focus else "$foreground", 0)
        if self.value is None:
            tail = Content.styled("–", "dim")
        else:
            tail = Content(f"{self.value} {scale.labels.get(self.value, '')}")
        if judge is not None:
            if judge in self._scale:
                start = 2 * (judge - self._scale.start)
                cells = cells.stylize("bold $secondary", start, start + 1)
            hint = Content.styled(f" (judge {judge})", "$secondary")
            value_end = 1 if self.value is None else len(str(self.value))
            tail = Content.assemble(tail[:value_end], hint, tail[value_end:])
        return Content.assemble((label, "bold" if self.has_focus else ""), " ", cells, tail)

    def _cell(self, point: int, judged: bool) -> str:
        filled = self.value is not None and point <= self.value
        if judged:
            return "◆ " if filled else "◇ "
        return "■ " if filled else "□ "

    def set_value(self, value: int | None) -> None:
        """Set from the user: `commit` (if any) runs at once, before the new value can show on
        screen; then `Changed` is posted for the display to follow."""
        if value is not None:
            value = max(self._scale.start, min(value, self._scale.stop - 1))
        if value != self.value:
            if self.commit is not None and not self.commit(self, value):
                return  # not written (the app said why): the slider keeps its value
            self.value = value
            self.post_message(self.Changed(self, value))

    def action_step(self, delta: int) -> None:
        start = self._scale.start if delta > 0 else self._scale.stop - 1
        self.set_value(start if self.value is None else self.value + delta)

    def action_clear(self) -> None:
        self.set_value(None)

    def action_digit(self, digit: int) -> None:
        """Set the score (0 means 10 on a scale that reaches 10) and move to the next slider."""
        if digit == 0 and self._scale.stop - 1 >= 10:
            digit = 10
        if digit in self._scale:
            self.set_value(digit)
            if self.value == digit:  # written: on to the next slider
                self.screen.focus_next(RubricSlider)

    def on_click(self, event: events.Click) -> None:
        offset = event.x - (LABEL_WIDTH + 1)
        index = offset // 2
        if offset >= 0 and index < len(self._scale):
            self.set_value(self._scale.start + index)
        self.focus()
