"""Judge calibration (`core.judge_calibration`) as terminal tables and as a self-contained HTML
page (template `judge.html.j2`, autoescaped like the report's). Judge names come from model
files and servers: they are shown literally (`visible` in the terminal, escaped in HTML)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dpo_tui import __version__
from dpo_tui.core.agreement import ChosenAgreement, PairDirectionAgreement
from dpo_tui.core.judge_figures import JudgeCalibration, JudgeFigures
from dpo_tui.core.safe_text import visible
from dpo_tui.render.html import render_page

CRITERION_COLUMNS = (
    "criterion",
    "n",
    "alpha",
    "exact",
    "within one",
    "judge - human",
    "sample spread",
)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None, form: str = "{:.2f}") -> str:
    return "-" if value is None else form.format(value)


def _directions(figures: PairDirectionAgreement) -> str:
    if not figures.pairs:
        return "-"
    return (
        f"{_share(figures.percent)} ({figures.agreed}/{figures.pairs} pairs, {figures.items} items)"
    )


def _chosen(figures: ChosenAgreement) -> str:
    if not figures.comparisons:
        return "-"
    return f"{_share(figures.percent)} ({figures.agreed}/{figures.comparisons})"


def _meets(figures: JudgeFigures) -> str:
    if figures.meets_humans is None:
        return "too few shared items"
    return "yes" if figures.meets_humans else "no"


def overview_rows(calibration: JudgeCalibration) -> list[list[str]]:
    """One row per figure, one column per judge, as both views show them."""
    judges = calibration.judges
    rows: list[tuple[str, list[str]]] = [
        ("prompts / candidates scored", [f"{j.prompts} / {j.candidates}" for j in judges]),
        ("samples / failed answers", [f"{j.samples} / {j.failures}" for j in judges]),
        ("pair direction with humans", [_directions(j.pair_direction) for j in judges]),
        ("same best candidate", [_chosen(j.chosen) for j in judges]),
        ("shared items (2+ humans)", [str(j.shared_items) for j in judges]),
        ("  judge with humans there", [_directions(j.shared_judge_human) for j in judges]),
        ("  humans with each other there", [_directions(j.shared_human_human) for j in judges]),
        (
            "  same best: judge / humans",
            [
                f"{_chosen(j.shared_judge_chosen)} / {_chosen(j.shared_human_chosen)}"
                for j in judges
            ],
        ),
        ("as good as a human", [_meets(j) for j in judges]),
        (
            "same verdict after the swap",
            [
                f"{_share(j.position.consistency)} ({j.position.consistent}/{j.position.swapped}"
                f"; {j.position.swap_failed} with a failed verdict)"
                for j in judges
            ],
        ),
        ("verdict for the one shown first", [_share(j.position.first_shown_wins) for j in judges]),
        (
            "verdicts agree with its scores",
            [
                f"{_share(j.position.scores_agreement)} "
                f"({j.position.agree_with_scores}/{j.position.scored})"
                for j in judges
            ],
        ),
        (
            "rho with length: judge / humans",
            [
                f"{_number(j.length.judge_rho)} (n {j.length.judge_n}) / "
                f"{_number(j.length.human_rho)} (n {j.length.human_n})"
                for j in judges
            ],
        ),
        ("with humans shown its scores", [_directions(j.suggested) for j in judges]),
        ("with humans blind", [_directions(j.blind) for j in judges]),
        ("prompts no human judged", [str(j.judge_only_prompts) for j in judges]),
    ]
    return [[label, *values] for label, values in rows]


def criterion_rows(figures: JudgeFigures) -> list[list[str]]:
    return [
        [
            c.criterion,
            str(c.units),
            _number(c.alpha),
            _share(c.exact),
            _share(c.within_one),
            _number(c.mean_difference, "{:+.2f}"),
            _number(c.sample_spread),
        ]
        for c in figures.criteria
    ]


def order_rows(calibration: JudgeCalibration) -> list[list[str]]:
    return [[order, str(count)] for order, count in calibration.item_orders.items()]


def reference_rows(calibration: JudgeCalibration) -> list[list[str]]:
    return [
        [r.name, _share(r.judge_human), _share(r.human_human), r.source]
        for r in calibration.references
    ]


def legend(calibration: JudgeCalibration) -> str:
    return (
        "pair direction: for each candidate pair a human and the judge both totalled, the same "
        f"order (>, = within the rubric's margin {calibration.tolerance:g}, <); shared items: "
        f"items two or more humans and the judge totalled (judge pairs need "
        f"{calibration.min_shared_items}); alpha: Krippendorff's (ordinal) over (candidate, "
        "human) pairs of scores; judge - human: mean difference, above 0 the judge scores high; "
        "sample spread: mean standard deviation of one candidate's sampled scores; swap: the "
        "pair asked again with the responses' order swapped (GPT-4 on MT-Bench changes its "
        f"verdict on {calibration.swap_inconsistent_reference:.0%} of pairs); shown: items "
        "whose human was shown the judge's scores before finishing them."
    )


def judge_pointer(project: str) -> Text:
    """The plain report's last line where the project holds a judge model."""
    return Text(
        visible(
            "A judge model scored this project; how far to trust it: "
            f"dpo-tui report {shlex.quote(project)} --judge"
        ),
        style="cyan",
    )


def _table(title: str, columns: list[str], rows: list[list[str]], numeric: bool = True) -> Table:
    """A table; its title, headers and cells shown literally; every column but the first
    right-aligned if `numeric`."""
    table = Table(title=Text(visible(title)), title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(Text(visible(column)), justify="right" if index and numeric else "left")
    for row in rows:
        table.add_row(*(Text(visible(cell)) for cell in row))
    return table


def render_judge(calibration: JudgeCalibration, project: str) -> Iterator[RenderableType]:
    """The terminal view."""
    humans = ", ".join(calibration.humans) or "none"
    yield Text(visible(f"Judge calibration: {project}; humans: {humans}"), style="bold")
    for figures in calibration.judges:
        yield Panel(
            Text(visible(figures.verdict)),
            title=Text(visible(figures.judge)),
            title_align="left",
            border_style="green" if figures.meets_humans else "yellow",
        )
    names = [j.judge for j in calibration.judges]
    yield _table("against the humans, and itself", ["", *names], overview_rows(calibration))
    for figures in calibration.judges:
        yield _table(
            f"per criterion: {figures.judge}", list(CRITERION_COLUMNS), criterion_rows(figures)
        )
    yield _table(
        "items by the order annotators walked them", ["order", "items"], order_rows(calibration)
    )
    yield _table(
        "published figures to compare with (pair agreement, ties counted)",
        ["", "judge-human", "human-human", "source"],
        reference_rows(calibration),
        numeric=False,
    )
    yield Text(legend(calibration), style="dim")


def render_judge_html(calibration: JudgeCalibration, project: str) -> str:
    """The calibration as one HTML document (no script, nothing loaded)."""
    return render_page(
        "judge.html.j2",
        project=project,
        version=__version__,
        calibration=calibration,
        overview_columns=[("", ""), *((j.judge, "num") for j in calibration.judges)],
        overview=overview_rows(calibration),
        criterion_columns=[
            (name, "num" if index else "") for index, name in enumerate(CRITERION_COLUMNS)
        ],
        criteria=[(j.judge, criterion_rows(j)) for j in calibration.judges],
        order_columns=[("order", ""), ("items", "num")],
        orders=order_rows(calibration),
        reference_columns=[
            ("", ""),
            ("judge-human", "num"),
            ("human-human", "num"),
            ("source", ""),
        ],
        references=reference_rows(calibration),
        legend=legend(calibration),
    )
