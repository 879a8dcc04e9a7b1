"""Rubric health (`core.rubric_health`) as terminal tables and as a self-contained HTML page
(template `rubric_health.html.j2`, autoescaped like the report's)."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dpo_tui import __version__
from dpo_tui.core.agreement import ALPHA_ACCEPTABLE
from dpo_tui.core.rubric_health import ALPHA_GOOD, MIN_UNITS, REDUNDANT_ABOVE, RubricHealth
from dpo_tui.core.safe_text import visible
from dpo_tui.render.html import render_page

COLUMNS = (
    "criterion",
    "weight",
    "scores",
    "alpha",
    "top score",
    "spread",
    "decides",
    "rho length",
    "disputed gap",
)


def _figure(value: float | None, form: str = "{:.2f}") -> str:
    return "-" if value is None else form.format(value)


def health_rows(health: RubricHealth) -> list[list[str]]:
    """One row of figures per criterion, as both views show them."""
    rows = []
    for c in health.criteria:
        alpha = _figure(c.alpha)
        if c.alpha_status:
            alpha += f" {c.alpha_status}"
        top = "-" if c.top_share is None else f"{c.top_value}: {c.top_share:.0%}"
        rows.append(
            [
                c.key,
                f"{c.weight:g}",
                str(c.scores),
                alpha,
                top,
                _figure(c.within_prompt_spread),
                _figure(c.decides_share, "{:.0%}"),
                _figure(c.length_correlation),
                _figure(c.disputed_gap, "{:.1f}"),
            ]
        )
    return rows


def correlation_rows(health: RubricHealth) -> list[list[str]]:
    """The criteria's correlations with each other, one row per criterion."""
    return [
        [
            c.key,
            *(
                _figure(c.correlations.get(o.key)) if o.key != c.key else "1"
                for o in health.criteria
            ),
        ]
        for c in health.criteria
    ]


def advice(health: RubricHealth) -> list[str]:
    return [line for c in health.criteria for line in c.advice]


def render_health(health: RubricHealth, project: str) -> Iterator[RenderableType]:
    """The terminal view."""
    yield Text(
        visible(
            f"Rubric health: {project}, rubric {health.rubric!r} version {health.version}, "
            f"{health.exportable_pairs} exportable pairs"
        ),
        style="bold",
    )
    table = Table(title="per criterion", title_justify="left")
    for index, column in enumerate(COLUMNS):
        table.add_column(column, no_wrap=not index, justify="right" if index else "left")
    for row in health_rows(health):
        table.add_row(*(Text(visible(cell)) for cell in row))
    yield table
    correlations = Table(title="correlation between criteria (Pearson's r)", title_justify="left")
    for column in ("", *(c.key for c in health.criteria)):
        correlations.add_column(visible(column))
    for row in correlation_rows(health):
        correlations.add_row(*(Text(visible(cell)) for cell in row))
    yield correlations
    lines = advice(health)
    yield Panel(
        Text("\n".join(f"• {visible(line)}" for line in lines) if lines else "No advice."),
        title="what to tighten",
        title_align="left",
        border_style="yellow" if lines else "green",
    )
    yield Text(_legend(), style="dim")


def _legend() -> str:
    return (
        f"alpha: Krippendorff's (ordinal) over candidates two or more annotators scored "
        f"({ALPHA_ACCEPTABLE} acceptable, {ALPHA_GOOD} good); spread: mean standard deviation "
        "over one prompt's candidates, in points; decides: share of pairs where it makes the "
        "largest weighted difference (or vetoes); rho: Spearman's with response length; gap: "
        f"mean points between annotators on disputed items; above {REDUNDANT_ABOVE} between two "
        f"criteria: redundant. Figures over fewer than {MIN_UNITS} scores, pairs or items are "
        "shown but give no advice."
    )


def render_health_html(health: RubricHealth, project: str) -> str:
    """The rubric health as one HTML document (no script, nothing loaded)."""
    return render_page(
        "rubric_health.html.j2",
        project=project,
        health=health,
        version=__version__,
        columns=[(name, "num" if index else "") for index, name in enumerate(COLUMNS)],
        rows=health_rows(health),
        correlation_columns=[("", ""), *((c.key, "num") for c in health.criteria)],
        correlations=correlation_rows(health),
        advice=advice(health),
        legend=_legend(),
    )
