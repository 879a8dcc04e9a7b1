"""The quality report as one self-contained HTML page with matplotlib charts.

This module only computes the view of a `QualityReport`: the charts (PNG data URIs), the figures
and the table rows. The markup and the styles live in Jinja2 templates in `templates/`:
`report.html.j2` (the page, section by section), `_macros.html.j2` (card, grid, table, chart,
empty-state line) and `report.css.j2` (included into the page's `<style>` element).

The environment renders with autoescape on, so every value a template prints (prompts, ids,
annotator, rubric and criterion names, warnings, the project's file name) is HTML-escaped by
Jinja2; before that, its `finalize` hook shows control characters and bidi overrides as escapes
such as `\\x1b`, because the text is untrusted. Nothing is marked safe: the chart data URIs are
base64, which escaping leaves as it is. `StrictUndefined` makes a misspelt name an error rather
than an empty string.

The page loads nothing: charts are PNG data URIs, styles are inline, and a Content-Security-Policy
forbids scripts and any network fetch.

matplotlib is used through `Figure` and `FigureCanvasAgg` only (never pyplot), so rendering
touches no global backend or figure registry and leaves other users of matplotlib alone.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any, Literal

import jinja2
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from dpo_tui import __version__
from dpo_tui.core.agreement import ALPHA_ACCEPTABLE, DEFAULT_TARGET
from dpo_tui.core.dedup import NEAR_DUPLICATE
from dpo_tui.core.quality import LENGTH_BIAS_WARNING, QualityReport
from dpo_tui.core.safe_text import visible

DPI = 200
"""Pixels per inch of the PNGs; the page shows them at 100 CSS pixels per inch (sharp on HiDPI)."""
SHOWN_PX_PER_INCH = 100
FULL_WIDTH = 9.4
HALF_WIDTH = 4.5
MAX_ROWS = 200
"""The share of pairs with the longer response chosen at which `core.quality` warns."""

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BLUE = "#3b6ea8"
AMBER = "#d89614"
RED = "#c0392b"
ROLE_COLOURS = {"candidates": "#9aa5b8", "chosen": "#2b7a4b", "rejected": "#d0642a"}

View = dict[str, Any]
"""What a template gets for one section: its chart, rows and figures (None: nothing to show)."""


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _shown(value: object) -> object:
    """Every value a template prints, before autoescape: control characters and bidi overrides
    made visible. Markup (a macro's output) passes as it is; it was escaped when it was made."""
    return value if hasattr(value, "__html__") else visible(str(value))


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("dpo_tui.render", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_shown,
)
TEMPLATES.filters["pct"] = _pct


def render_page(template: str, **context: Any) -> str:
    """`template` rendered with `context`, as each page of dpo-tui is written."""
    page = TEMPLATES.get_template(template).render(**context)
    # markupsafe spells `"` and `'` as `&#34;` and `&#39;`; keep the page's spelling, that of
    # `html.escape`. Same characters, and only the escaper writes these: a `&` from the data is
    # `&amp;` by now, and the templates contain neither.
    return page.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")


def render_html(report: QualityReport, project: str, rubric_name: str) -> str:
    """The whole report as one HTML document that needs nothing but a browser, offline."""
    return render_page(
        "report.html.j2",
        project=project,
        rubric_name=rubric_name,
        version=__version__,
        counts=report.counts,
        warnings=[w.message for w in report.warnings],
        flags=report.flags,
        no_pair_reasons=report.no_pair_reasons,
        scores=_scores(report),
        margins=_margins(report),
        levels=_levels(report),
        length=_length(report),
        position=_position(report),
        presets=_presets(report),
        annotators=_annotators(report),
        agreement=_agreement(report),
        near_duplicate_prompts=_near_duplicate_prompts(report),
        near_identical_candidates=_near_identical_candidates(report),
        length_warning=LENGTH_BIAS_WARNING,
        agreement_target=DEFAULT_TARGET,
        near_duplicate=NEAR_DUPLICATE,
    )


# -- chart helpers --------------------------------------------------------------------------


def _label(value: object) -> str:
    """Text for a chart label: control characters made visible (matplotlib draws it literally
    because every text is created with `parse_math=False`)."""
    return visible(str(value))


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=SHOWN_PX_PER_INCH, layout="constrained")
    figure.set_facecolor("white")
    FigureCanvasAgg(figure)
    return figure


def _style(ax: Axes, grid_axis: Literal["both", "x", "y"] = "y") -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.spines[["left", "bottom"]].set_color("#9ca3af")
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8.5, colors="#374151", length=3)


def _title(ax: Axes, text: str) -> None:
    ax.set_title(_label(text), fontsize=10, color=INK, loc="left", parse_math=False)


def _ticks(ax: Axes, axis: str, positions: Sequence[float], labels: Sequence[object]) -> None:
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(list(positions), [_label(label) for label in labels], parse_math=False)


def _png(figure: Figure) -> View:
    """The figure as the source and size of an <img>: a PNG data URI (base64, so autoescape
    leaves it as it is); identical figures give identical bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = figure.get_size_inches() * SHOWN_PX_PER_INCH
    return {
        "src": f"data:image/png;base64,{data}",
        "width": f"{width:.0f}",
        "height": f"{height:.0f}",
    }


# -- sections: None when there is nothing to show (the template says so) ----------------------


def _scores(report: QualityReport) -> View | None:
    histograms = report.score_histograms
    if not histograms or not any(sum(h.values()) for h in histograms.values()):
        return None
    columns = min(len(histograms), 3)
    rows = math.ceil(len(histograms) / columns)
    figure = _figure(FULL_WIDTH, 0.2 + 2.2 * rows)
    axes = figure.subplots(rows, columns, sharey=True, squeeze=False).flatten()
    for ax, (criterion, histogram) in zip(axes, histograms.items(), strict=False):
        points = sorted(histogram)
        values = [histogram[p] for p in points]
        scored = sum(values)
        mean = sum(p * n for p, n in zip(points, values, strict=True)) / scored if scored else None
        _style(ax)
        bars = ax.bar(points, values, color=BLUE, width=0.7)
        ax.bar_label(bars, fontsize=7.5, color=MUTED, padding=1)
        _ticks(ax, "x", points, points)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
        _title(ax, f"{criterion}\nmean {mean:.2f}, n={scored}" if scored else f"{criterion}\n-")
        if mean is not None:
            ax.axvline(mean, color=INK, linestyle=":", linewidth=1)
    for ax in axes[len(histograms) :]:
        ax.set_visible(False)
    for ax in axes[::columns]:
        ax.set_ylabel("candidates", fontsize=9, color=MUTED)
    return {
        "chart": _png(figure),
        "rows": [
            (c, ", ".join(f"{p}: {n}" for p, n in sorted(h.items()))) for c, h in histograms.items()
        ],
    }


def _margin_label(key: str) -> str:
    if key.startswith("below"):
        return "veto\n(< 0)"
    return key.replace("-", "–\n", 1)


def _margins(report: QualityReport) -> View | None:
    histogram = report.margin_histogram
    if not sum(histogram.values()):
        return None
    keys = list(histogram)
    colours = [
        RED if k.startswith("below") else AMBER if k.startswith(("0.00", "0.10")) else BLUE
        for k in keys
    ]
    figure = _figure(HALF_WIDTH, 3.0)
    ax = figure.subplots()
    _style(ax)
    bars = ax.bar(range(len(keys)), [histogram[k] for k in keys], color=colours, width=0.75)
    ax.bar_label(bars, fontsize=8, color=MUTED, padding=1)
    _ticks(ax, "x", range(len(keys)), [_margin_label(k) for k in keys])
    ax.tick_params(axis="x", labelsize=7.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.15)
    ax.set_ylabel("pairs", fontsize=9, color=MUTED)
    ax.set_xlabel("margin", fontsize=9, color=MUTED)
    return {"chart": _png(figure), "rows": list(histogram.items())}


def _levels(report: QualityReport) -> View | None:
    levels = report.quality_levels
    if not any(sum(v.values()) for v in levels.values()):
        return None
    names = list(next(iter(levels.values())))
    figure = _figure(HALF_WIDTH, 3.0)
    ax = figure.subplots()
    _style(ax)
    width = 0.8 / len(levels)
    for index, (role, counts) in enumerate(levels.items()):
        total = sum(counts.values())
        shares = [counts[n] / total if total else 0 for n in names]
        offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(names))]
        bars = ax.bar(
            offsets,
            shares,
            width=width * 0.92,
            color=ROLE_COLOURS.get(role, BLUE),
            label=_label(f"{role} (n={total})"),
        )
        ax.bar_label(bars, labels=[str(counts[n]) for n in names], fontsize=7, color=MUTED)
    _ticks(ax, "x", range(len(names)), names)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("share of each group", fontsize=9, color=MUTED)
    figure.legend(fontsize=7.5, frameon=False, loc="outside upper center", ncols=3)
    return {
        "chart": _png(figure),
        "columns": [("", ""), *((n, "num") for n in names)],
        "rows": [(role, *(c[n] for n in names)) for role, c in levels.items()],
    }


def _length(report: QualityReport) -> View | None:
    bias = report.length_bias
    if not bias.get("pairs"):
        return None
    share = bias["chosen_longer_share"]
    figure = _figure(HALF_WIDTH, 3.0)
    left, right = figure.subplots(2, 1, height_ratios=[2.2, 1])
    _style(left, "x")
    means = [bias["mean_chosen_chars"], bias["mean_rejected_chars"]]
    bars = left.barh(
        [1, 0], means, color=[ROLE_COLOURS["chosen"], ROLE_COLOURS["rejected"]], height=0.6
    )
    left.bar_label(bars, labels=[f"{m:,.0f}" for m in means], fontsize=8, padding=3)
    _ticks(left, "y", [1, 0], ["chosen", "rejected"])
    left.margins(x=0.15)
    _title(left, "mean length (characters)")
    _style(right, "x")
    colour = RED if share >= LENGTH_BIAS_WARNING else BLUE
    right.barh([0], [share], color=colour, height=0.55)
    right.barh([0], [1 - share], left=[share], color=GRID, height=0.55)
    right.axvline(0.5, color=INK, linestyle="--", linewidth=1)
    right.axvline(LENGTH_BIAS_WARNING, color=RED, linestyle=":", linewidth=1)
    right.set_xlim(0, 1)
    right.set_ylim(-0.5, 0.5)
    right.set_xlabel(
        f"dashed: no bias (50%) · dotted: warning ({_pct(LENGTH_BIAS_WARNING)})",
        fontsize=8,
        color=MUTED,
    )
    right.set_yticks([])
    right.spines["left"].set_visible(False)
    right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _title(right, f"chosen is the longer one in {_pct(share)} of {int(bias['pairs'])} pairs")
    return {"chart": _png(figure), "share": share}


def _position(report: QualityReport) -> View | None:
    bias = report.position_bias
    if not bias.get("pairs"):
        return None
    positions = {
        k.removeprefix("chosen_at_"): v for k, v in bias.items() if k.startswith("chosen_at_")
    }
    even = bias["even_share_of_a"]
    figure = _figure(HALF_WIDTH, 3.0)
    ax = figure.subplots()
    _style(ax)
    labels = list(positions)
    colours = [BLUE] * len(labels)
    if "A" in positions and (positions["A"] >= 1.5 * even or positions["A"] <= 0.5 * even):
        colours[labels.index("A")] = RED
    bars = ax.bar(range(len(labels)), list(positions.values()), color=colours, width=0.6)
    ax.bar_label(bars, labels=[_pct(v) for v in positions.values()], fontsize=8, padding=1)
    ax.axhline(
        even, color=INK, linestyle="--", linewidth=1, label=f"even share of A ({_pct(even)})"
    )
    ax.legend(fontsize=7.5, frameon=False, loc="upper right")
    _ticks(ax, "x", range(len(labels)), labels)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, max(1.3 * max(positions.values(), default=0), 1.3 * even, 0.1))
    ax.set_xlabel("position shown", fontsize=9, color=MUTED)
    ax.set_ylabel("share of chosen", fontsize=9, color=MUTED)
    return {"chart": _png(figure), "pairs": int(bias["pairs"])}


def _presets(report: QualityReport) -> View | None:
    presets = report.presets
    if not presets:
        return None
    ordered = sorted(presets.items(), key=lambda item: item[1]["win_rate"])
    figure = _figure(HALF_WIDTH, 1.0 + 0.42 * len(ordered))
    ax = figure.subplots()
    _style(ax, "x")
    rates = [v["win_rate"] for _, v in ordered]
    bars = ax.barh(range(len(ordered)), rates, color=BLUE, height=0.6)
    ax.bar_label(
        bars,
        labels=[
            f"{_pct(v['win_rate'])} ({int(v['chosen'])}/{int(v['chosen'] + v['rejected'])})"
            for _, v in ordered
        ],
        fontsize=8,
        padding=3,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6},
    )
    ax.axvline(0.5, color=INK, linestyle="--", linewidth=1, zorder=1.5)
    _ticks(ax, "y", range(len(ordered)), [name for name, _ in ordered])
    ax.set_xlim(0, 1.25)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("win rate (dashed: 50%)", fontsize=9, color=MUTED)
    return {
        "chart": _png(figure),
        "rows": [
            (name, int(v["chosen"]), int(v["rejected"]), _pct(v["win_rate"]))
            for name, v in presets.items()
        ],
    }


def _annotators(report: QualityReport) -> list[tuple[object, ...]]:
    """One row per annotator; the share cell is a meter (its width in pixels) and a percentage."""
    return [
        (
            a.annotator,
            a.items,
            {"meter": round(60 * a.share), "text": _pct(a.share)},
            f"{a.hours:g}",
            "-" if a.items_per_hour is None else f"{a.items_per_hour:g}",
        )
        for a in report.annotators
    ]


def _agreement(report: QualityReport) -> View | None:
    """Inter-annotator agreement: the verdict, each annotator pair, alpha per criterion."""
    agreement = report.agreement
    if agreement is None:
        return None

    def percent(value: float | None) -> str:
        return "-" if value is None else _pct(value)

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    overall = [("overall", agreement.shared_items, agreement.pair_direction, agreement.chosen)]
    each = [
        (" & ".join(p.annotators), p.shared_items, p.pair_direction, p.chosen)
        for p in agreement.annotator_pairs
    ]
    rows = [
        (name, shared, percent(pair.percent), number(pair.kappa), percent(chosen.percent))
        for name, shared, pair, chosen in overall + each
    ]
    criteria = [c for c in agreement.criteria if c.alpha is not None]
    chart = None
    if criteria:
        figure = _figure(6.4, 0.5 + 0.42 * len(criteria))
        ax = figure.add_subplot()
        _style(ax, grid_axis="x")
        values = [c.alpha or 0.0 for c in criteria]
        ax.barh(
            range(len(criteria)),
            values,
            color=["#2563eb" if v >= ALPHA_ACCEPTABLE else "#d97706" for v in values],
        )
        ax.axvline(ALPHA_ACCEPTABLE, color="#6b7280", linestyle="--", linewidth=1)
        _ticks(ax, "y", range(len(criteria)), [c.criterion for c in criteria])
        ax.invert_yaxis()
        ax.set_xlim(min(0.0, min(values)), 1.0)
        _title(
            ax,
            f"Krippendorff's alpha (ordinal) per criterion; dashed: {ALPHA_ACCEPTABLE:.3f}",
        )
        chart = _png(figure)
    return {"verdict": agreement.verdict, "rows": rows, "chart": chart}


def _code(value: object, text: object = None) -> View:
    """A table cell showing `value` as code, then `text` on the next line if there is one."""
    return {"code": value} if text is None else {"code": value, "text": text}


def _near_duplicate_prompts(report: QualityReport) -> View:
    found = report.near_duplicate_prompts
    rows = [
        (
            _similarity(d.get("similarity")),
            _code(d.get("first_id", ""), d.get("first_text", "")),
            _code(d.get("second_id", ""), d.get("second_text", "")),
        )
        for d in found[:MAX_ROWS]
    ]
    return {"total": len(found), "rows": rows, "more": max(len(found) - MAX_ROWS, 0)}


def _near_identical_candidates(report: QualityReport) -> View:
    found = report.near_identical_candidates
    rows = [
        (
            _code(d.get("prompt_id", "")),
            _code(d.get("candidate_id", "")),
            _code(d.get("duplicate_of", "")),
            _similarity(d.get("similarity")),
        )
        for d in found[:MAX_ROWS]
    ]
    return {"total": len(found), "rows": rows, "more": max(len(found) - MAX_ROWS, 0)}


def _similarity(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else str(value or "-")
