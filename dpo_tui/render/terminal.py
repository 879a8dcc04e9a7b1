"""The quality report as Rich tables and small bar plots for the terminal."""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dpo_tui.core.agreement import ALPHA_ACCEPTABLE
from dpo_tui.core.quality import QualityReport
from dpo_tui.core.safe_text import visible

BAR = 28


def bars(counts: Mapping[Any, float], width: int = BAR) -> Table:
    """One labelled bar per entry, scaled to the largest."""
    table = Table.grid(padding=(0, 1))
    most = max(counts.values(), default=0) or 1
    for label, count in counts.items():
        table.add_row(
            str(label), Text("█" * round(width * count / most), style="cyan"), str(round(count, 3))
        )
    return table


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text(visible(cell)) for cell in row))
    return table


def render(report: QualityReport, project: str) -> Iterator[RenderableType]:
    counts = report.counts
    yield Text(visible(f"Quality report: {project}"), style="bold")
    yield _table("counts", ["", "n"], [[k.replace("_", " "), str(v)] for k, v in counts.items()])
    if report.warnings:
        yield Panel(
            Text("\n".join(f"• {w.message}" for w in report.warnings)),
            title="warnings",
            border_style="yellow",
        )
    else:
        yield Panel("No warnings.", border_style="green")
    if report.flags or report.no_pair_reasons:
        rows = [[f"flagged by an annotator: {k}", str(v)] for k, v in report.flags.items()]
        rows += [[f"gave no pair: {k}", str(v)] for k, v in report.no_pair_reasons.items()]
        yield _table("flags, and why judged items gave no pair", ["", "items"], rows)
    grid = Table(title="score distribution per criterion", title_justify="left", show_lines=True)
    grid.add_column("criterion")
    grid.add_column("scores (count per point)")
    for criterion, histogram in report.score_histograms.items():
        grid.add_row(criterion, bars(histogram, 20))
    yield grid
    yield Panel(
        bars(report.margin_histogram), title="margin of exported pairs (0..1)", title_align="left"
    )
    levels = report.quality_levels
    yield _table(
        "quality levels (weighted totals)",
        ["", *levels["candidates"]],
        [[role, *(str(v) for v in counts_.values())] for role, counts_ in levels.items()],
    )
    bias_rows = [[f"length: {k}", str(v)] for k, v in report.length_bias.items()]
    bias_rows += [[f"position: {k}", str(v)] for k, v in report.position_bias.items()]
    yield _table("biases", ["", "value"], bias_rows)
    if report.presets:
        yield _table(
            "decoding presets: chosen vs rejected",
            ["preset", "chosen", "rejected", "win rate"],
            [
                [p, str(int(v["chosen"])), str(int(v["rejected"])), f"{v['win_rate']:.0%}"]
                for p, v in report.presets.items()
            ],
        )
    if report.annotators:
        yield _table(
            "annotator load",
            ["annotator", "items", "share", "hours", "items/hour"],
            [
                [
                    a.annotator,
                    str(a.items),
                    f"{a.share:.0%}",
                    str(a.hours),
                    str(a.items_per_hour or "-"),
                ]
                for a in report.annotators
            ],
        )
    if report.agreement is not None:
        yield from _agreement(report, project)
    if report.near_duplicate_prompts:
        shown = report.near_duplicate_prompts[:10]
        yield _table(
            f"near-duplicate prompts ({len(report.near_duplicate_prompts)})",
            ["similarity", "first", "second"],
            [
                [
                    str(d["similarity"]),
                    f"{d['first_id']} {d['first_text']}",
                    f"{d['second_id']} {d['second_text']}",
                ]
                for d in shown
            ],
        )
    if report.near_identical_candidates:
        shown = report.near_identical_candidates[:10]
        yield _table(
            f"near-identical candidates ({len(report.near_identical_candidates)})",
            ["prompt", "candidate", "same as", "similarity"],
            [
                [
                    str(d["prompt_id"]),
                    str(d["candidate_id"]),
                    str(d["duplicate_of"]),
                    str(d["similarity"]),
                ]
                for d in shown
            ],
        )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _agreement(report: QualityReport, project: str) -> Iterator[RenderableType]:
    agreement = report.agreement
    assert agreement is not None
    style = "green" if agreement.meets_target else "yellow"
    yield Panel(
        Text(visible(agreement.verdict)),
        title=f"agreement (target {agreement.target:.0%})",
        border_style=style,
        title_align="left",
    )
    rows = [
        [
            "overall",
            str(agreement.shared_items),
            _percent(agreement.pair_direction.percent),
            _number(agreement.pair_direction.kappa),
            _percent(agreement.chosen.percent),
        ]
    ]
    for pair in agreement.annotator_pairs:
        rows.append(
            [
                " & ".join(pair.annotators),
                str(pair.shared_items),
                _percent(pair.pair_direction.percent),
                _number(pair.pair_direction.kappa),
                _percent(pair.chosen.percent),
            ]
        )
    yield _table(
        "agreement by annotator pair",
        ["annotators", "shared items", "pair direction", "kappa", "same chosen"],
        rows,
    )
    yield _table(
        "agreement by criterion",
        ["criterion", "alpha (ordinal)", "percent", "Fleiss kappa"],
        [
            [c.criterion, _number(c.alpha), _percent(c.percent), _number(c.fleiss_kappa)]
            for c in agreement.criteria
        ],
    )
    low = [c for c in agreement.criteria if c.alpha is not None and c.alpha < ALPHA_ACCEPTABLE]
    if low:
        named = ", ".join(f"{c.criterion} {c.alpha:.2f}" for c in low)
        yield Text(
            visible(
                f"Criteria below alpha {ALPHA_ACCEPTABLE}: {named}. What to tighten: "
                f"dpo-tui report {shlex.quote(project)} --rubric-health"
            ),
            style="yellow",
        )
