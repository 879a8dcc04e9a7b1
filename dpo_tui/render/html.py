"""The quality report as one self-contained HTML page with matplotlib charts.

The page loads nothing: charts are PNG data URIs, styles are inline, and a Content-Security-Policy
forbids scripts and any network fetch. Every piece of project text (prompts, ids, names) goes
through `_esc`: control characters made visible, then HTML-escaped, because it is untrusted.

matplotlib is used through `Figure` and `FigureCanvasAgg` only (never pyplot), so rendering
touches no global backend or figure registry and leaves other users of matplotlib alone.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from dpo_tui import __version__
from dpo_tui.core.quality import QualityReport
from dpo_tui.core.safe_text import visible

DPI = 200
"""Pixels per inch of the PNGs; the page shows them at 100 CSS pixels per inch (sharp on HiDPI)."""
SHOWN_PX_PER_INCH = 100
FULL_WIDTH = 9.4
HALF_WIDTH = 4.5
MAX_ROWS = 200

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BLUE = "#3b6ea8"
AMBER = "#d89614"
RED = "#c0392b"
ROLE_COLOURS = {"candidates": "#9aa5b8", "chosen": "#2b7a4b", "rejected": "#d0642a"}

COUNT_LABELS = {
    "prompts": "prompts",
    "conversational_prompts": "conversations",
    "candidates": "candidates",
    "prompts_with_candidates": "prompts with candidates",
    "judged_prompts": "judged prompts",
    "judgements": "judgements",
    "pairs": "pairs",
    "exportable_pairs": "exportable pairs",
    "disputed_pairs": "disputed pairs",
    "agreed_pairs": "agreed pairs",
}

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #1f2937; font: 15px/1.5 system-ui,
  -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 28px 20px 40px; }
header { margin-bottom: 18px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 2px; }
.meta { color: #4b5563; margin: 0; }
.meta code, td code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #eef0f3; padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 18px 20px;
  margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
.grid > .card { margin-bottom: 0; }
.grid + .card, .grid + .grid { margin-top: 16px; }
.note { color: #6b7280; font-size: 13.5px; margin: 0 0 10px; }
.pair-tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr));
  gap: 0 24px; margin-top: 8px; align-items: start; }
.empty { color: #6b7280; font-style: italic; margin: 12px 0 4px; }
.warnings { background: #fff8db; border: 1px solid #f0d36b; border-left: 6px solid #e0a800; }
.warnings h2 { color: #7a5a00; }
.warnings ul { margin: 8px 0 0; padding-left: 22px; }
.warnings li { margin: 4px 0; }
.ok { background: #ecfdf3; border: 1px solid #a7e3bf; border-left: 6px solid #2b7a4b; }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px;
  margin-top: 10px; }
.stat { background: #f9fafb; border: 1px solid #eceef1; border-radius: 8px; padding: 8px 12px; }
.stat b { display: block; font-size: 22px; line-height: 1.2; font-variant-numeric: tabular-nums; }
.stat span { color: #6b7280; font-size: 13px; }
img.chart { display: block; max-width: 100%; height: auto; margin: 6px auto 0; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eceef1;
  vertical-align: top; }
th { background: #f9fafb; font-weight: 600; color: #374151; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
td.text code { display: inline-block; margin-bottom: 3px; }
details { margin-top: 8px; font-size: 14px; }
summary { cursor: pointer; color: #4b5563; }
.meter { display: inline-block; height: 8px; background: #3b6ea8; border-radius: 4px;
  vertical-align: middle; margin-right: 6px; }
footer { color: #6b7280; font-size: 13px; text-align: center; margin-top: 24px; }
"""


def render_html(report: QualityReport, project: str, rubric_name: str) -> str:
    """The whole report as one HTML document that needs nothing but a browser, offline."""
    sections = [
        _header(report, project, rubric_name),
        _warnings(report),
        _counts(report),
        _scores(report),
        _grid(_margins(report), _levels(report)),
        _grid(_length(report), _position(report)),
        _grid(_presets(report), _annotators(report)),
        _agreement(report),
        _near_duplicate_prompts(report),
        _near_identical_candidates(report),
    ]
    body = "\n".join(s for s in sections if s)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Quality report: {_esc(project)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
        f"<footer>Made by dpo-tui {_esc(__version__)}. This file is self-contained: "
        "it loads nothing and works offline.</footer>\n</main>\n</body>\n</html>\n"
    )


# -- text helpers ---------------------------------------------------------------------------


def _esc(value: object) -> str:
    """Untrusted text for HTML: control characters and bidi overrides made visible, then
    `& < > " '` escaped, so it is inert both in element content and in attribute values."""
    return html.escape(visible(str(value)), quote=True)


def _label(value: object) -> str:
    """Text for a chart label: control characters made visible (matplotlib draws it literally
    because every text is created with `parse_math=False`)."""
    return visible(str(value))


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _card(title: str, note: str, content: str, extra_class: str = "") -> str:
    classes = f"card {extra_class}".strip()
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section class="{classes}">\n<h2>{title}</h2>\n{note_html}\n{content}\n</section>'


def _grid(*cards: str) -> str:
    return '<div class="grid">\n' + "\n".join(cards) + "\n</div>"


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def _table(
    columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]], details: str = ""
) -> str:
    """A table of already-escaped cells; each column is (header, css class)."""
    head = "".join(f'<th class="{cls}">{name}</th>' for name, cls in columns)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="{cls}">{cell}</td>' for (_, cls), cell in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    if details:
        return f"<details><summary>{details}</summary>\n{table}\n</details>"
    return table


# -- chart helpers --------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=SHOWN_PX_PER_INCH, layout="constrained")
    figure.set_facecolor("white")
    FigureCanvasAgg(figure)
    return figure


def _style(ax: Axes, grid_axis: str = "y") -> None:
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


def _png(figure: Figure, alt: str) -> str:
    """The figure as an <img> with a PNG data URI; identical figures give identical bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = figure.get_size_inches() * SHOWN_PX_PER_INCH
    return (
        f'<img class="chart" src="data:image/png;base64,{data}" '
        f'width="{width:.0f}" height="{height:.0f}" alt="{_esc(alt)}">'
    )


# -- sections -------------------------------------------------------------------------------


def _header(report: QualityReport, project: str, rubric_name: str) -> str:
    counts = report.counts
    return (
        "<header>\n<h1>Quality report</h1>\n"
        f'<p class="meta">Project <code>{_esc(project)}</code> · rubric '
        f"<strong>{_esc(rubric_name)}</strong></p>\n"
        f'<p class="meta">{counts.get("exportable_pairs", 0)} exportable pairs from '
        f"{counts.get('judged_prompts', 0)} judged prompts "
        f"({counts.get('prompts', 0)} prompts, {counts.get('candidates', 0)} candidates)</p>\n"
        "</header>"
    )


def _warnings(report: QualityReport) -> str:
    if not report.warnings:
        return _card("No warnings", "", "<p>Nothing in this report looks weak.</p>", "ok")
    items = "\n".join(f"<li>{_esc(w.message)}</li>" for w in report.warnings)
    title = f"{len(report.warnings)} warning{'s' if len(report.warnings) != 1 else ''}"
    return _card(title, "", f"<ul>\n{items}\n</ul>", "warnings")


def _counts(report: QualityReport) -> str:
    stats = "\n".join(
        f'<div class="stat"><b>{value:,}</b><span>'
        f"{_esc(COUNT_LABELS.get(key, key.replace('_', ' ')))}</span></div>"
        for key, value in report.counts.items()
    )
    content = f'<div class="stats">\n{stats}\n</div>'
    tables = [
        _table([(heading, ""), ("items", "num")], [(_esc(k), str(v)) for k, v in found.items()])
        for heading, found in (
            ("flagged by annotators", report.flags),
            ("why no pair was made", report.no_pair_reasons),
        )
        if found
    ]
    if tables:
        content += '\n<div class="pair-tables">\n' + "\n".join(tables) + "\n</div>"
    return _card("Counts", "", content)


def _scores(report: QualityReport) -> str:
    title = "Score distribution per criterion"
    note = "How often each score was given, per criterion, over every scored candidate."
    histograms = report.score_histograms
    if not histograms or not any(sum(h.values()) for h in histograms.values()):
        return _card(title, note, _empty("No scores yet."))
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
    chart = _png(figure, "Bar charts: count of each score per criterion")
    table = _table(
        [("criterion", ""), ("count per score", "")],
        [
            (_esc(c), _esc(", ".join(f"{p}: {n}" for p, n in sorted(h.items()))))
            for c, h in histograms.items()
        ],
        "numbers",
    )
    return _card(title, note + " The dotted line is the mean.", chart + table)


def _margin_label(key: str) -> str:
    if key.startswith("below"):
        return "veto\n(< 0)"
    return key.replace("-", "–\n", 1)


def _margins(report: QualityReport) -> str:
    title = "Margin of exportable pairs"
    note = "Normalised score gap between chosen and rejected (0–1). Under 0.20 is weak signal."
    histogram = report.margin_histogram
    if not sum(histogram.values()):
        return _card(title, note, _empty("No exportable pairs yet."))
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
    chart = _png(figure, "Histogram of pair margins")
    table = _table(
        [("margin", ""), ("pairs", "num")],
        [(_esc(k), str(v)) for k, v in histogram.items()],
        "numbers",
    )
    return _card(title, note, chart + table)


def _levels(report: QualityReport) -> str:
    title = "Quality levels"
    note = (
        "Weighted totals split into low / medium / high thirds: candidates should span all "
        "three, chosen sit high, rejected lower."
    )
    levels = report.quality_levels
    if not any(sum(v.values()) for v in levels.values()):
        return _card(title, note, _empty("No scored candidates yet."))
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
    chart = _png(figure, "Grouped bars: candidates, chosen and rejected by quality level")
    table = _table(
        [("", ""), *((_esc(n), "num") for n in names)],
        [(_esc(role), *(str(c[n]) for n in names)) for role, c in levels.items()],
    )
    return _card(title, note + " Bar labels are counts.", chart + table)


def _length(report: QualityReport) -> str:
    title = "Length bias"
    bias = report.length_bias
    note = "Are chosen responses simply the longer ones? A warning is raised at 70%."
    if not bias.get("pairs"):
        return _card(title, note, _empty("No exportable pairs yet."))
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
    colour = RED if share >= 0.7 else BLUE
    right.barh([0], [share], color=colour, height=0.55)
    right.barh([0], [1 - share], left=[share], color=GRID, height=0.55)
    right.axvline(0.5, color=INK, linestyle="--", linewidth=1)
    right.axvline(0.7, color=RED, linestyle=":", linewidth=1)
    right.set_xlim(0, 1)
    right.set_ylim(-0.5, 0.5)
    right.set_xlabel("dashed: no bias (50%) · dotted: warning (70%)", fontsize=8, color=MUTED)
    right.set_yticks([])
    right.spines["left"].set_visible(False)
    right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _title(right, f"chosen is the longer one in {_pct(share)} of {int(bias['pairs'])} pairs")
    chart = _png(figure, f"Chosen responses are longer in {_pct(share)} of pairs")
    return _card(title, note, chart)


def _position(report: QualityReport) -> str:
    title = "Position bias"
    bias = report.position_bias
    note = (
        "Share of chosen responses by the position they were shown at (A = first), against the "
        "share expected if position did not matter."
    )
    if not bias.get("pairs"):
        return _card(title, note, _empty("No exportable pairs with a recorded display order."))
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
    chart = _png(figure, "Bars: share of chosen responses by display position")
    return _card(title, note + f" Counted over {int(bias['pairs'])} pair judgements.", chart)


def _presets(report: QualityReport) -> str:
    title = "Decoding presets"
    note = "How often each preset's candidates were chosen rather than rejected (win rate)."
    presets = report.presets
    if not presets:
        return _card(title, note, _empty("No exportable pairs yet."))
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
    chart = _png(figure, "Horizontal bars: win rate per decoding preset")
    table = _table(
        [("preset", ""), ("chosen", "num"), ("rejected", "num"), ("win rate", "num")],
        [
            (_esc(name), str(int(v["chosen"])), str(int(v["rejected"])), _pct(v["win_rate"]))
            for name, v in presets.items()
        ],
        "numbers",
    )
    return _card(title, note, chart + table)


def _annotators(report: QualityReport) -> str:
    title = "Annotator load"
    note = "Items judged per annotator; a second annotator should take about 20% of the items."
    if not report.annotators:
        return _card(title, note, _empty("Nobody has judged anything yet."))
    rows = [
        (
            _esc(a.annotator),
            str(a.items),
            f'<span class="meter" style="width:{round(60 * a.share)}px"></span>{_pct(a.share)}',
            f"{a.hours:g}",
            "-" if a.items_per_hour is None else f"{a.items_per_hour:g}",
        )
        for a in report.annotators
    ]
    columns = [
        ("annotator", "text"),
        ("items", "num"),
        ("share", "num"),
        ("hours", "num"),
        ("items/hour", "num"),
    ]
    return _card(title, note, _table(columns, rows))


def _agreement(report: QualityReport) -> str:
    """Inter-annotator agreement: the verdict, each annotator pair, alpha per criterion."""
    agreement = report.agreement
    if agreement is None:
        return ""

    def percent(value: float | None) -> str:
        return "-" if value is None else _pct(value)

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    rows = [
        (
            "overall",
            str(agreement.shared_items),
            percent(agreement.pair_direction.percent),
            number(agreement.pair_direction.kappa),
            percent(agreement.chosen.percent),
        )
    ]
    rows += [
        (
            _esc(" & ".join(p.annotators)),
            str(p.shared_items),
            percent(p.pair_direction.percent),
            number(p.pair_direction.kappa),
            percent(p.chosen.percent),
        )
        for p in agreement.annotator_pairs
    ]
    columns = [
        ("annotators", "text"),
        ("shared items", "num"),
        ("pair direction", "num"),
        ("kappa", "num"),
        ("same chosen", "num"),
    ]
    criteria = [c for c in agreement.criteria if c.alpha is not None]
    chart = ""
    if criteria:
        figure = _figure(6.4, 0.5 + 0.42 * len(criteria))
        ax = figure.add_subplot()
        _style(ax, grid_axis="x")
        values = [c.alpha or 0.0 for c in criteria]
        ax.barh(
            range(len(criteria)),
            values,
            color=["#2563eb" if v >= 0.667 else "#d97706" for v in values],
        )
        ax.axvline(0.667, color="#6b7280", linestyle="--", linewidth=1)
        _ticks(ax, "y", range(len(criteria)), [c.criterion for c in criteria])
        ax.invert_yaxis()
        ax.set_xlim(min(0.0, min(values)), 1.0)
        _title(ax, "Krippendorff's alpha (ordinal) per criterion; dashed: 0.667")
        chart = _png(figure, "Krippendorff's alpha per criterion")
    verdict = f'<p class="note">{_esc(agreement.verdict)}</p>'
    return _card(
        "Agreement between annotators",
        "On items two or more annotators judged; the target is 70% pair-direction agreement.",
        verdict + _table(columns, rows) + chart,
    )


def _more(total: int) -> str:
    if total <= MAX_ROWS:
        return ""
    return f'<p class="note">… and {total - MAX_ROWS} more (see <code>--json</code>).</p>'


def _near_duplicate_prompts(report: QualityReport) -> str:
    found = report.near_duplicate_prompts
    title = f"Near-duplicate prompts ({len(found)})"
    note = (
        "Pairs of prompts at least 0.9 similar (first 100 characters shown). They are kept on "
        "one side of the train/validation split; consider removing copies."
    )
    if not found:
        return _card(title, note, _empty("None found."))
    rows = [
        (
            _esc(_similarity(d.get("similarity"))),
            f"<code>{_esc(d.get('first_id', ''))}</code>\n{_esc(d.get('first_text', ''))}",
            f"<code>{_esc(d.get('second_id', ''))}</code>\n{_esc(d.get('second_text', ''))}",
        )
        for d in found[:MAX_ROWS]
    ]
    columns = [("similarity", "num"), ("first prompt", "text"), ("second prompt", "text")]
    return _card(title, note, _table(columns, rows) + _more(len(found)))


def _near_identical_candidates(report: QualityReport) -> str:
    found = report.near_identical_candidates
    title = f"Near-identical candidates ({len(found)})"
    note = "Candidates nearly identical to another of the same prompt: no preference signal."
    if not found:
        return _card(title, note, _empty("None found."))
    rows = [
        (
            f"<code>{_esc(d.get('prompt_id', ''))}</code>",
            f"<code>{_esc(d.get('candidate_id', ''))}</code>",
            f"<code>{_esc(d.get('duplicate_of', ''))}</code>",
            _esc(_similarity(d.get("similarity"))),
        )
        for d in found[:MAX_ROWS]
    ]
    columns = [
        ("prompt", "text"),
        ("candidate", "text"),
        ("same as", "text"),
        ("similarity", "num"),
    ]
    return _card(title, note, _table(columns, rows) + _more(len(found)))


def _similarity(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else str(value or "-")
