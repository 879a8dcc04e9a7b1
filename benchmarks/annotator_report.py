"""Benchmark: `report --annotators` on the merged 80,000-prompt team project.

The team project and annotator files of `merge_report.py` (10 annotators x 10,000 prompts x 4
candidates x 5 criteria, 25% overlap) are merged into a copy of the team project with 1,000 gold
items (so that each annotator has judged about 100 of them); not timed. Then, in one run: the
plain `project_report` (the baseline) and `annotator_cards_report`, against the issue's target
of 10 s. The plain report does not read the gold items or the cards: its time is the one
`merge_report.py` measures.

Run from the repository root: `python benchmarks/annotator_report.py [--files N] [--prompts N]
[--keep DIR]` (`--keep` shares `merge_report.py`'s generated files).
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import Run
from merge_report import merged_copy, run_on_team_files

from dpo_tui.core.annotator_cards import GoldReference
from dpo_tui.services.reporting import annotator_cards_report, project_report
from dpo_tui.store.project import ProjectStore

TARGET_SECONDS = 10.0
GOLD_ITEMS = 1_000


def main() -> None:
    run_on_team_files("annotator_report", __doc__, measure)


def measure(folder: Path, files: list[Path], bench: Run) -> None:
    merged = merged_copy(folder, files, "team.cards.dpo")
    with ProjectStore.open(merged) as store:
        by_prompt = store.candidate_ids_by_prompt()
        gold = [
            GoldReference(pid, ids[0], ids[1], {}, "the first is better")
            for pid, ids in list(by_prompt.items())[:GOLD_ITEMS]
        ]
        store.add_gold(gold, "lead")
    print(f"{len(gold):,} gold items added")
    with ProjectStore.open(merged, read_only=True) as store:
        started = time.perf_counter()
        report = project_report(store)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        cards = annotator_cards_report(store)
        seconds = time.perf_counter() - started
    gold_items = [card.gold.items for card in cards.cards]
    print(
        f"report: {report.counts['pairs']:,} pairs; {len(cards.cards)} cards, gold items per "
        f"annotator {min(gold_items)}-{max(gold_items)}, "
        f"{sum(len(c.warnings) for c in cards.cards)} warnings"
    )
    print()
    print(f"{'report (baseline)':<30} {plain:7.2f} s")
    verdict = "PASS" if seconds < TARGET_SECONDS else "MISS"
    print(
        f"{'report --annotators':<30} {seconds:7.2f} s  {seconds / plain:5.2f}x the report  "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    bench.figure("report (baseline)", plain, "s")
    bench.figure("report --annotators", seconds, "s")
    bench.figure("report --annotators / report", seconds / plain, "x")


if __name__ == "__main__":
    main()
