"""The report command."""

from __future__ import annotations

from pathlib import Path

import click

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
def report(
    project: Path,
    as_json: bool,
    policy: PairPolicyName | None,
    min_margin: float | None,
    html_path: Path | None,
) -> None:
    """Quality report: counts, duplicates, score and margin distributions, length and position
    bias, winning decoding presets, annotator load, and warnings in plain words."""
    from dpo_tui.render.terminal import render
    from dpo_tui.services.reporting import project_report

    with ProjectStore.open(project, read_only=True) as store:
        result = project_report(store, policy, min_margin)
        rubric_name = store.rubric.rubric.name
    if as_json:
        click.echo(json_dumps(result.model_dump()))
    else:
        for part in render(result, str(project)):
            out.print(part, soft_wrap=False)
    if html_path is not None:
        from dpo_tui.render.html import render_html

        page = render_html(result, str(project), rubric_name)

        def write(path: Path) -> None:
            path.write_text(page, "utf-8")

        try:
            write_whole(html_path, write, project=project)
        except OSError as exc:
            raise DpoError(f"cannot write {html_path}: {exc.strerror or exc}") from exc
        # With --json, stdout stays pure JSON.
        say(f"HTML report written to {html_path}", console=err if as_json else out)
