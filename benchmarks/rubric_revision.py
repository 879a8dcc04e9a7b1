"""Benchmark: rubric revision and rubric health on the merged 80,000-prompt team project.

The team project and annotator files of `merge_report.py` (10 annotators x 10,000 prompts x 4
candidates x 5 criteria, 25% overlap) are merged into a copy of the team project (not timed).
Then, in one run, timed against the issue's target of 10 s each and printed beside the plain
report of the same run (the baseline):
- `project_report` (what `dpo-tui report` computes);
- `rubric_health_report` (`report --rubric-health`);
- `revise_rubric(..., dry_run=True)` of a weights-only revision (one criterion's weight
  doubled) and of a revision that adds a criterion (`rubric revise --dry-run`).

Run from the repository root: `python benchmarks/rubric_revision.py [--files N] [--prompts N]
[--keep DIR]` (`--keep` shares `merge_report.py`'s generated files: the same DIR for both
generates them once).
"""

from __future__ import annotations

from pathlib import Path

from harness import Run
from merge_report import RUBRIC, merged_copy, run_on_team_files, timed

from dpo_tui.core.rubric import load_rubric, parse_rubric, resolve_rubric
from dpo_tui.services.reporting import project_report, rubric_health_report
from dpo_tui.services.revising import revise_rubric
from dpo_tui.store.project import ProjectStore

TARGET_SECONDS = 10.0
ADDED = """
[[criteria]]
key = "tone_fit"
label = "Tone"
question = "Does the tone fit the request?"
scale = { min = 1, max = 5, labels = { 1 = "Wrong tone", 5 = "Right tone" } }
"""


def main() -> None:
    run_on_team_files("rubric_revision", __doc__, measure)


def measure(folder: Path, files: list[Path], bench: Run) -> None:
    merged = merged_copy(folder, files, "team.revision.dpo")
    text = load_rubric(resolve_rubric(RUBRIC)).text
    weights = parse_rubric(text.replace("weight = 1.0", "weight = 2.0", 1), "weights.toml")
    assert weights.text != text, "the bundled rubric has no `weight = 1.0` to change"
    added = parse_rubric(text + ADDED, "added.toml")
    figures: dict[str, float] = {}
    with ProjectStore.open(merged, read_only=True) as store:
        report, figures["report (baseline)"] = timed(lambda: project_report(store))
        health, figures["report --rubric-health"] = timed(lambda: rubric_health_report(store))
        light, figures["rubric revise --dry-run, weights only"] = timed(
            lambda: revise_rubric(store, weights, {}, dry_run=True)
        )
        heavy, figures["rubric revise --dry-run, added criterion"] = timed(
            lambda: revise_rubric(store, added, {}, dry_run=True)
        )
    print(
        f"report: {report.counts['pairs']:,} pairs; rubric health: "
        f"{sum(len(c.advice) for c in health.criteria)} pieces of advice"
    )
    for name, impact in (("weights only", light), ("added criterion", heavy)):
        p = impact.pairs
        print(
            f"{name}: pairs {p.before:,} -> {p.after:,} ({p.kept:,} kept, {p.flipped:,} "
            f"flipped, {p.lost:,} lost, {p.new:,} new), to score again: "
            f"{sum(impact.rescore.values()):,} items"
        )
    print()
    baseline = figures["report (baseline)"]
    for name, seconds in figures.items():
        verdict = "PASS" if seconds < TARGET_SECONDS else "MISS"
        print(
            f"{name:<44} {seconds:7.2f} s  {seconds / baseline:5.2f}x the report  "
            f"target < {TARGET_SECONDS:.0f} s: {verdict}"
        )
        bench.figure(name, seconds, "s")
        bench.figure(f"{name} / report", seconds / baseline, "x")


if __name__ == "__main__":
    main()
