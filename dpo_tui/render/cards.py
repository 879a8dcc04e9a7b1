"""Annotator report cards (`core.annotator_cards`) as terminal tables and as a self-contained
HTML page (template `annotators.html.j2`, autoescaped like the report's)."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dpo_tui import __version__
from dpo_tui.core.annotator_cards import (
    READING_CHARS_PER_SECOND,
    SHORT_DIAGNOSIS,
    AnnotatorCard,
    AnnotatorCards,
)
from dpo_tui.core.safe_text import visible
from dpo_tui.render.html import render_page

COLUMNS = (
    "annotator",
    "items",
    "hours",
    "median s",
    "p10 s",
    "too fast",
    "gold (n)",
    "gold chosen",
    "agreement",
    "longer chosen",
    "first chosen",
    "empty/short",
    "pasted",
)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def card_row(card: AnnotatorCard) -> list[str]:
    empty = (
        None
        if card.empty_diagnoses is None
        else card.empty_diagnoses + (card.short_diagnoses or 0.0)
    )
    return [
        card.annotator,
        str(card.items),
        f"{card.hours:g}",
        _seconds(card.median_seconds),
        _seconds(card.p10_seconds),
        _share(card.too_fast),
        f"{_share(card.gold.same_direction)} ({card.gold.items})",
        _share(card.gold.same_chosen),
        _share(card.agreement),
        _share(card.longer_chosen),
        _share(card.first_shown_chosen),
        _share(empty),
        _share(card.pasted_diagnoses),
    ]


def week_rows(cards: AnnotatorCards) -> list[list[str]]:
    return [
        [
            card.annotator,
            week.week,
            str(week.items),
            _share(week.gold_same_direction),
            _share(week.agreement),
        ]
        for card in cards.cards
        for week in card.weeks
    ]


def warnings(cards: AnnotatorCards) -> list[str]:
    return [line for card in cards.cards for line in card.warnings]


def legend() -> str:
    return (
        f"too fast: items done faster than reading their candidates at "
        f"{READING_CHARS_PER_SECOND:g} characters a second, or in under a quarter of the "
        "team's median time; gold: same pair direction as the lead's reference (and the same "
        "best candidate); agreement: pair directions shared with the others on the items they "
        "share; longer / first chosen: how often their chosen response is the longer one, or "
        f"the one shown first; empty/short: diagnoses under {SHORT_DIAGNOSIS} characters; "
        "pasted: diagnoses nearly the same as another of theirs."
    )


def render_cards(cards: AnnotatorCards, project: str) -> Iterator[RenderableType]:
    """The terminal view."""
    yield Text(visible(f"Annotators: {project}"), style="bold")
    table = Table(title="report card per annotator", title_justify="left")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="right" if index else "left")
    for card in [*cards.cards, cards.team]:
        table.add_row(*(Text(visible(cell)) for cell in card_row(card)))
    yield table
    lines = warnings(cards)
    yield Panel(
        Text("\n".join(f"• {visible(line)}" for line in lines) if lines else "No warnings."),
        title="warnings",
        title_align="left",
        border_style="yellow" if lines else "green",
    )
    weeks = week_rows(cards)
    if weeks:
        drift = Table(title="week by week", title_justify="left")
        for column in ("annotator", "week", "items", "gold", "agreement"):
            drift.add_column(column)
        for row in weeks:
            drift.add_row(*(Text(visible(cell)) for cell in row))
        yield drift
    yield Text(legend(), style="dim")


def render_cards_html(cards: AnnotatorCards, project: str) -> str:
    """The report cards as one HTML document (no script, nothing loaded)."""
    return render_page(
        "annotators.html.j2",
        project=project,
        version=__version__,
        columns=[(name, "num" if index else "") for index, name in enumerate(COLUMNS)],
        rows=[card_row(card) for card in [*cards.cards, cards.team]],
        week_columns=[
            ("annotator", ""),
            ("week", ""),
            ("items", "num"),
            ("gold", "num"),
            ("agreement", "num"),
        ],
        weeks=week_rows(cards),
        warnings=warnings(cards),
        legend=legend(),
    )
