"""The report command."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import RenderableType

from dpo_tui.cli import PROJECT, cli
from dpo_tui.cli.options import json_option, min_margin_option, policy_option
from dpo_tui.cli.output import err, out, say
from dpo_tui.core.models import PairPolicyName
from dpo_tui.core.safe_text import json_dumps
from dpo_tui.errors import DpoError
from dpo_tui.services.atomic import write_whole
from dpo_tui.store.project import ProjectStore


@cli.command()
@click.argument("project", type=PROJECT)
@json_option
@policy_option
@min_margin_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as one self-contained HTML file with charts.",
)
@click.option(
    "--rubric-health",
    is_flag=True,
    help="Instead: per criterion, agreement, how well it separates responses, how often it "
    "decides a pair, correlations with the others and with length, disputes, and advice.",
)
@click.option(
    "--annotators",
    "cards",
    is_flag=True,
    help="Instead: a report card per annotator (speed, gold accuracy, agreement with the "
    "others, biases, diagnosis quality, drift) with warnings.",
)
@click.option(
    "--judge",
    is_flag=True,
    help="Instead: how far to trust each judge model of the project: its agreement with the "
    "humans next to theirs with each other, per criterion, position and length bias, "
    "anchoring, against published figures.",
)
def report(
    project: Path,
    as_json: bool,
    policy: PairPolicyName | None,
    min_margin: float | None,
    html_path: Path | None,
    rubric_health: bool,
    cards: bool,
    judge: bool,
) -> None:
    """Quality report: counts, duplicates, score and margin distributions, length and position
    bias, winning decoding presets, annotator load, and warnings in plain words. With
    --rubric-health, which criteria of the rubric are noisy, flat, redundant or reward length;
    with --annotators, a report card per annotator; with --judge, the calibration of each judge
    model against the humans (in the terminal, --json and --html alike)."""
    asked = [
        name
        for name, on in [
            ("--rubric-health", rubric_health),
            ("--annotators", cards),
            ("--judge", judge),
        ]
        if on
    ]
    if len(asked) > 1:
        raise DpoError(f"{' and '.join(asked)} are separate reports: ask for one")
    with ProjectStore.open(project, read_only=True) as store:
        view = _view(store, str(project), policy, min_margin, asked[0] if asked else "")
    if as_json:
        click.echo(json_dumps(view.data))
    else:
        for part in view.parts:
            out.print(part, soft_wrap=False)
    if html_path is not None:
        page = view.html()

        def write(path: Path) -> None:
            path.write_text(page, "utf-8")

        try:
            write_whole(html_path, write, project=project)
        except OSError as exc:
            raise DpoError(f"cannot write {html_path}: {exc.strerror or exc}") from exc
        # With --json, stdout stays pure JSON.
        say(f"HTML report written to {html_path}", console=err if as_json else out)


@dataclass(frozen=True)
class _View:
    """One report, ready for each output."""

    data: dict[str, Any]
    parts: Iterable[RenderableType]
    html: Callable[[], str]


def _view(
    store: ProjectStore,
    project: str,
    policy: PairPolicyName | None,
    min_margin: float | None,
    other: str,
) -> _View:
    """The report asked for (`other`: the option of one other than the quality report),
    computed from `store` (rendered after it closes)."""
    from dpo_tui.services import reporting

    if other == "--judge":
        from dpo_tui.render.judge import render_judge, render_judge_html

        calibration = reporting.judge_report(store)
        return _View(
            calibration.model_dump(),
            render_judge(calibration, project),
            lambda: render_judge_html(calibration, project),
        )
    if other == "--rubric-health":
        from dpo_tui.render.health import render_health, render_health_html

        health = reporting.rubric_health_report(store)
        return _View(
            health.model_dump(),
            render_health(health, project),
            lambda: render_health_html(health, project),
        )
    if other == "--annotators":
        from dpo_tui.render.cards import render_cards, render_cards_html

        found = reporting.annotator_cards_report(store)
        return _View(
            found.model_dump(),
            render_cards(found, project),
            lambda: render_cards_html(found, project),
        )
    from dpo_tui.render.html import render_html
    from dpo_tui.render.terminal import render

    result = reporting.project_report(store, policy, min_margin)
    rubric_name = store.rubric.rubric.name
    parts = render(result, project)
    if reporting.project_judges(store):
        from dpo_tui.render.judge import judge_pointer

        parts = itertools.chain(parts, [judge_pointer(project)])
    return _View(
        result.model_dump(),
        parts,
        lambda: render_html(result, project, rubric_name),
    )
