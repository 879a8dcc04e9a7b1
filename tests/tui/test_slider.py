"""RubricSlider on its own, in a minimal app."""

from __future__ import annotations

from textual.app import App, ComposeResult

from dpo_tui.core.models import Criterion, Scale
from dpo_tui.tui.widgets.slider import RubricSlider

CRITERION = Criterion(
    key="tone",
    label="Tone",
    question="Is the tone right for an upset customer?",
    scale=Scale(min=1, max=5, labels={1: "Cold", 5: "Warm"}),
)
TEN = Criterion(
    key="overall",
    label="Overall",
    question="Overall?",
    scale=Scale(min=1, max=10, labels={1: "Bad", 10: "Great"}),
)


class SliderApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, int | None]] = []

    def compose(self) -> ComposeResult:
        yield RubricSlider(CRITERION, "c1", id="one")
        yield RubricSlider(TEN, "c1", id="two")

    def on_rubric_slider_changed(self, event: RubricSlider.Changed) -> None:
        self.changes.append((event.slider.criterion.key, event.value))


async def test_keys_set_step_clear_and_advance():
    app = SliderApp()
    async with app.run_test() as pilot:
        one, two = app.query(RubricSlider).results(RubricSlider)
        assert app.focused is one
        await pilot.press("right")
        assert one.value == 1
        await pilot.press("plus", "plus", "minus")
        assert one.value == 2
        await pilot.press("9")  # outside 1..5: ignored, focus stays
        assert one.value == 2 and app.focused is one
        await pilot.press("4")
        assert one.value == 4 and app.focused is two
        await pilot.press("0")  # 0 means 10 on a scale reaching 10
        assert two.value == 10
        app.set_focus(one)
        await pilot.press("backspace")
        await pilot.pause()
        assert one.value is None
        assert app.changes == [
            ("tone", 1),
            ("tone", 2),
            ("tone", 3),
            ("tone", 2),
            ("tone", 4),
            ("overall", 10),
            ("tone", None),
        ]


async def test_left_from_empty_starts_at_the_top_and_values_clamp():
    app = SliderApp()
    async with app.run_test() as pilot:
        one = app.query_one("#one", RubricSlider)
        await pilot.press("left")
        assert one.value == 5
        await pilot.press("right", "right")
        assert one.value == 5


async def test_click_sets_the_point_under_the_pointer():
    app = SliderApp()
    async with app.run_test() as pilot:
        one = app.query_one("#one", RubricSlider)
        await pilot.click("#one", offset=(15 + 2 * 2, 0))  # label (14) + space, 2 cells a point
        assert one.value == 3


async def test_render_shows_label_cells_value_and_end_label():
    app = SliderApp()
    async with app.run_test() as pilot:
        await pilot.press("5")
        text = str(app.query_one("#one", RubricSlider).render())
        assert text.startswith("Tone")
        assert "■ ■ ■ ■ ■ 5 Warm" in text
        assert app.query_one("#one", RubricSlider).tooltip == CRITERION.question


async def test_commit_runs_before_the_new_value_is_shown():
    order: list[str] = []

    class Committing(App[None]):
        def compose(self) -> ComposeResult:
            def commit(slider: RubricSlider, value: int | None) -> bool:
                order.append(f"commit {value} (shown {slider.value})")
                return True

            yield RubricSlider(CRITERION, "c1", commit=commit)

        def on_rubric_slider_changed(self, event: RubricSlider.Changed) -> None:
            order.append(f"changed {event.value}")

    app = Committing()
    async with app.run_test() as pilot:
        await pilot.press("3")
        await pilot.pause()
    assert order == ["commit 3 (shown None)", "changed 3"]


async def test_a_commit_that_fails_leaves_the_value_as_it_was():
    class Refusing(App[None]):
        def compose(self) -> ComposeResult:
            yield RubricSlider(CRITERION, "c1", commit=lambda slider, value: False)

    app = Refusing()
    async with app.run_test() as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert app.query_one(RubricSlider).value is None
