"""TextView on its own, in a minimal app: literal text that wraps, scrolls and can be copied."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content
from textual.selection import Selection

from dpo_tui.tui.widgets.text_view import TextView

MARKUP = "[b]not bold[/b] [@click=app.quit]not a link[/]"


class ViewApp(App[None]):
    CSS = "TextView { width: 20; height: 4; }"

    def compose(self) -> ComposeResult:
        yield TextView()


async def test_wraps_scrolls_and_copies_the_text_literally():
    app = ViewApp()
    async with app.run_test() as pilot:
        view = app.query_one(TextView)
        long = " ".join(f"word{i}" for i in range(40))
        view.update(Content(long))
        await pilot.pause()
        assert view.virtual_size.height > view.size.height  # wrapped to many lines
        view.scroll_end(animate=False)
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        assert view.get_selection(Selection(None, None)) == (long, "\n")
        view.update(Content(MARKUP))
        view.scroll_home(animate=False)
        await pilot.pause()
        assert view.virtual_size.height <= view.size.height
        shown = "".join(view.render_line(y).text for y in range(view.size.height))
        assert "[b]not bold[/b]" in shown and "[@click=app.quit]" in shown
