"""TextView: text shown literally, wrapped to the width and scrolled by itself."""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.visual import Visual


class TextView(ScrollView):
    """What a Static in a VerticalScroll shows, as one widget drawing its lines itself (the
    line API). Its size comes from the layout, never from the text, so another text resizes
    no widget: no second layout pass follows, and no container behind the text is redrawn.
    The text is wrapped once per text, width, style and selection; selecting and copying
    text works as in a Static."""

    DEFAULT_CSS = """
    TextView {
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    """

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._content = Content("")
        self._lines: list[Strip] = []
        self._wrapped_for: tuple[object, ...] | None = None

    @property
    def content(self) -> Content:
        return self._content

    def update(self, content: Content) -> None:
        """Show `content` (never markup: pass `Content(text)` for untrusted text)."""
        self._content = content
        self._wrapped_for = None
        self._wrap()
        self.refresh()

    def render(self) -> Content:
        """The whole text, as a Static's `render` (a selection is copied from it)."""
        return self._content

    def _wrap(self) -> None:
        """Wrap the text to the width, unless it is wrapped for this width and look already."""
        width = self.scrollable_content_region.width
        key = (width, self.visual_style, self.text_selection)
        if width <= 0 or key == self._wrapped_for:
            return
        self._wrapped_for = key
        self._lines = Visual.to_strips(self, self._content, width, None, self.visual_style)
        self.virtual_size = Size(width, len(self._lines))
        if self.show_vertical_scrollbar:  # at once, not after the layout pass this asks for
            self.vertical_scrollbar.window_virtual_size = len(self._lines)

    def on_resize(self) -> None:
        self._wrap()

    def selection_updated(self, selection: Selection | None) -> None:
        self._wrap()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self._wrap()
        index = y + self.scroll_offset.y
        if index < len(self._lines):
            return self._lines[index]
        return Strip.blank(self.scrollable_content_region.width, self.visual_style.rich_style)
