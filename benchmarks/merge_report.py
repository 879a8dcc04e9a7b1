"""Benchmark: merging annotators' files into a team project, then its quality report.

A team project (`general_assistant` rubric, 5 criteria) is split by `team.plan` over 10
annotators with 25% overlap, so each annotator file holds 10,000 prompts x 4 candidates
(80,000 prompts in the team project); in each file every candidate is scored on all 5
criteria (one score card) and every prompt has a judgement. Prompts come from `dedup.py`'s
generator (3% near-copies). Generation goes through the store's own methods (score cards and
judgements by `executemany` on the store's connection) and is not timed.

Timed: `merge_files(target, files)`, then `project_report(target)`, against the issue's
target of 30 s in total, with the rows merged per second; the parts of each, timed by
wrapping the functions they call. Baseline, in the same run: the same rows copied into a
copy of the team project with plain `INSERT ... SELECT` through `ATTACH` (the unsafe way
merge deliberately avoids: no validation, no conflict report).

Run from the repository root: `python benchmarks/merge_report.py [--files N] [--prompts N]
[--keep DIR]`. At the defaults on 2 cores: about 2 minutes of generation, then 1-2 minutes
measured, 2 GB of disk; `--keep` keeps the generated files in DIR and reuses them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from unittest import mock

from dedup import PromptMaker, make_corpus
from harness import Run

import dpo_tui.core.quality
import dpo_tui.services.merging
import dpo_tui.services.reporting
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import FLAGS, Candidate, Prompt, Rubric
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.services.merging import merge_files
from dpo_tui.services.pairing import ProjectAnnotations
from dpo_tui.services.reporting import project_report
from dpo_tui.services.team import plan
from dpo_tui.store.cards import card_json
from dpo_tui.store.project import ProjectStore

T = TypeVar("T")

RUBRIC = "general_assistant"
CANDIDATES = 4
OVERLAP = 0.25
BATCH = 5_000
TARGET_SECONDS = 30.0
SEED = 11
TEAM = "team.dpo"
PRESETS = ("precise", "balanced", "creative", "wild")
COPY_SQL = {
    "prompts": "insert or ignore into prompts (id, text, messages, source, tags, created_at) "
    "select id, text, messages, source, tags, created_at from incoming.prompts",
    "candidates": "insert or ignore into candidates (id, prompt_id, text, origin, model, "
    "preset, params, token_count, gen_seconds, created_at, near_duplicate_of, similarity) "
    "select id, prompt_id, text, origin, model, preset, params, token_count, gen_seconds, "
    "created_at, near_duplicate_of, similarity from incoming.candidates",
    "scores": "insert into scores (candidate_id, annotator, criteria, updated_at) "
    "select candidate_id, annotator, criteria, updated_at from incoming.scores "
    "where true on conflict (candidate_id, annotator) do update set "
    "criteria = excluded.criteria, updated_at = excluded.updated_at "
    "where excluded.updated_at > scores.updated_at",
    "judgements": "insert into judgements (prompt_id, annotator, diagnosis, flags, "
    "display_order, seconds_spent, updated_at) select prompt_id, annotator, diagnosis, flags, "
    "display_order, seconds_spent, updated_at from incoming.judgements where true "
    "on conflict (prompt_id, annotator) do update set diagnosis = excluded.diagnosis, "
    "flags = excluded.flags, display_order = excluded.display_order, "
    "seconds_spent = excluded.seconds_spent, updated_at = excluded.updated_at "
    "where excluded.updated_at > judgements.updated_at",
}
"""The baseline: each table copied in one statement, the newer score or judgement kept."""


# -- generating the files ------------------------------------------------------------


def annotators(count: int) -> list[str]:
    return [f"annotator{number:02d}" for number in range(1, count + 1)]


class Team:
    """The team project's prompts and candidates, generated in memory."""

    def __init__(self, prompts: int, seed: int) -> None:
        corpus = make_corpus(prompts, seed)
        maker = PromptMaker(seed + 2)
        sentences = [maker.sentence() for _ in range(20_000)]
        rng = random.Random(seed + 3)
        self.prompts = [
            Prompt(id=prompt_id(text), text=text, source="bench", tags=("bench",))
            for text in corpus.texts
        ]
        self.candidates: dict[str, list[Candidate]] = {}
        for number, prompt in enumerate(self.prompts):
            texts = [response(rng, sentences) for _ in range(CANDIDATES)]
            self.candidates[prompt.id] = [
                Candidate(
                    id=candidate_id(prompt.id, text),
                    prompt_id=prompt.id,
                    text=text,
                    origin="imported:bench",
                    model=f"model-{slot}",
                    preset=PRESETS[slot],
                    params={"temperature": 0.2 + 0.3 * slot, "seed": number},
                    token_count=len(text) // 4,
                )
                for slot, text in enumerate(texts)
            ]
        self.quality = {
            c.id: rng.random() for candidates in self.candidates.values() for c in candidates
        }
        """A latent quality per candidate, so annotators mostly agree."""


def response(rng: random.Random, sentences: list[str]) -> str:
    """A response of about 200-1500 characters, in paragraphs."""
    target = rng.randint(200, 1500)
    parts: list[str] = []
    length = 0
    while length < target:
        sentence = rng.choice(sentences)
        if parts and rng.random() < 0.2:
            sentence = "\n\n" + sentence
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)


def fill(store: ProjectStore, prompts: list[Prompt], team: Team) -> None:
    """Add prompts and their candidates through the store, in batches."""
    for first in range(0, len(prompts), BATCH):
        batch = prompts[first : first + BATCH]
        store.add_prompts(batch)
        store.add_candidates([c for p in batch for c in team.candidates[p.id]])


def score(rubric: Rubric, quality: float, rng: random.Random) -> dict[str, int]:
    """Each criterion's value: the candidate's quality on the scale, plus annotator noise."""
    values = {}
    for criterion in rubric.criteria:
        low, high = criterion.scale.min, criterion.scale.max
        raw = low + quality * (high - low) + rng.gauss(0, 0.6)
        values[criterion.key] = min(high, max(low, round(raw)))
    return values


def annotate(store: ProjectStore, name: str, prompts: list[Prompt], team: Team, seed: int) -> None:
    """Score every candidate on every criterion (one card each) and judge every prompt, as
    `name`, through `executemany` on the store's connection in one transaction."""
    rng = random.Random(f"{seed}:{name}")
    rubric = store.rubric
    clock = datetime(2025, 3, 1, 9, tzinfo=UTC)
    scores: list[tuple[str, str, str, str]] = []
    judgements: list[tuple[str, str, str, str, str, float, str]] = []
    for prompt in prompts:
        spent = rng.uniform(30, 240)
        clock += timedelta(seconds=spent)
        stamp = clock.isoformat(timespec="microseconds")
        order = [c.id for c in team.candidates[prompt.id]]
        rng.shuffle(order)
        for cid in order:
            scores.append((cid, name, card_json(score(rubric, team.quality[cid], rng)), stamp))
        flags = [rng.choice(FLAGS)] if rng.random() < 0.04 else []
        diagnosis = f"The chosen one is better: {rng.choice(('clearer', 'more complete'))}."
        judgements.append(
            (prompt.id, name, diagnosis, json.dumps(flags), json.dumps(order), spent, stamp)
        )
    with store.db.atomic():
        store.db.conn.executemany(
            "insert into scores (candidate_id, annotator, criteria, updated_at) "
            "values (?, ?, ?, ?)",
            scores,
        )
        store.db.conn.executemany(
            "insert into judgements (prompt_id, annotator, diagnosis, flags, display_order, "
            "seconds_spent, updated_at) values (?, ?, ?, ?, ?, ?, ?)",
            judgements,
        )


def team_size(files: int, per_file: int) -> int:
    """Prompts in the team project, so that each file gets `per_file` with the overlap."""
    return round(files * per_file / (1 + OVERLAP))


def generate(folder: Path, files: int, per_file: int) -> None:
    """The team project and one annotator file per name in `folder`."""
    total = team_size(files, per_file)
    started = time.perf_counter()
    team = Team(total, SEED)
    print(f"  {total:,} prompts x {CANDIDATES} candidates made in memory", end="", flush=True)
    rubric = load_rubric(resolve_rubric(RUBRIC))
    with ProjectStore.create(folder / TEAM, rubric, "lead") as store:
        fill(store, team.prompts, team)
    print(f"; team project {time.perf_counter() - started:.0f} s", end="", flush=True)
    given = plan([p.id for p in team.prompts], annotators(files), OVERLAP, SEED)
    by_id = {p.id: p for p in team.prompts}
    for name, ids in given.items():
        with ProjectStore.create(folder / f"{name}.dpo", rubric, name) as store:
            mine = [by_id[pid] for pid in ids]
            fill(store, mine, team)
            annotate(store, name, mine, team, SEED)
        print(".", end="", flush=True)
    print(f" files {time.perf_counter() - started:.0f} s")


def counts(path: Path) -> dict[str, int]:
    """Rows per table in a project file (read-only), and the scores in its score cards."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("prompts", "candidates", "scores", "judgements")
        }
        query = "select coalesce(sum((select count(*) from json_each(criteria))), 0) from scores"
        return found | {"values": conn.execute(query).fetchone()[0]}
    finally:
        conn.close()


def ensure_files(folder: Path, files: int, per_file: int) -> list[Path]:
    """The annotator files in `folder`, generated unless a previous run left them there."""
    paths = [folder / f"{name}.dpo" for name in annotators(files)]
    if all(p.exists() for p in [folder / TEAM, *paths]):
        held, wanted = counts(folder / TEAM)["prompts"], team_size(files, per_file)
        if held != wanted:
            raise SystemExit(f"{folder}: its team project holds {held:,} prompts, not {wanted:,}")
        print(f"{folder}: reusing the team project and {files} annotator files")
        return paths
    if any(folder.glob("*.dpo")):
        raise SystemExit(f"{folder}: holds other .dpo files; empty it or choose another --keep")
    print(f"{folder}: generating {files} files x {per_file:,} prompts x {CANDIDATES} candidates")
    started = time.perf_counter()
    generate(folder, files, per_file)
    print(f"  generation took {time.perf_counter() - started:.0f} s (not counted)")
    return paths


# -- measuring ----------------------------------------------------------------------------


class Stopwatch:
    """Seconds spent in functions wrapped in place (module attributes or methods)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def watching(self, *targets: tuple[ModuleType | type, str, str]) -> Iterator[None]:
        """Wrap each (owner, attribute, label) for the duration."""
        with ExitStack() as stack:
            for owner, attribute, label in targets:
                self.seconds.setdefault(label, 0.0)
                stack.enter_context(
                    mock.patch.object(
                        owner, attribute, self._wrap(getattr(owner, attribute), label)
                    )
                )
            yield

    def _wrap(self, call: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        return timed_call


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def attach_copy(target: Path, files: list[Path]) -> float:
    """The baseline: each file ATTACHed and its tables copied by `COPY_SQL`; the seconds."""
    with ProjectStore.open(target) as store:
        conn = store.db.conn
        started = time.perf_counter()
        for path in files:
            conn.execute("attach database ? as incoming", [str(path)])
            with store.db.atomic():
                for sql in COPY_SQL.values():
                    conn.execute(sql)
            conn.execute("detach database incoming")
        return time.perf_counter() - started


def main() -> None:
    run_on_team_files("merge_report", __doc__, run)


def run_on_team_files(
    name: str, doc: str | None, measure: Callable[[Path, list[Path], Run], None]
) -> None:
    """What every benchmark on the team files does: read `--files`, `--prompts` and `--keep`,
    print the machine line, generate the files (or reuse those kept), `measure`, save."""
    parser = argparse.ArgumentParser(description=(doc or name).splitlines()[0])
    parser.add_argument("--files", type=int, default=10, help="annotator files (10)")
    parser.add_argument("--prompts", type=int, default=10_000, help="prompts per file (10000)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated files here")
    args = parser.parse_args()
    if args.files < 2 or args.prompts < 1:
        parser.error("need --files >= 2 and --prompts >= 1")
    bench = Run(name)
    temp = None if args.keep else Path(tempfile.mkdtemp(prefix=f"dpo-tui-{name}-"))
    folder = args.keep or temp or Path()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files = ensure_files(folder, args.files, args.prompts)
        measure(folder, files, bench)
        bench.save()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def fresh_copy(folder: Path, name: str) -> Path:
    """A new copy of the team project, `folder/name` (and no WAL of an earlier one)."""
    path = folder / name
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(folder / TEAM, path)
    return path


def merged_copy(folder: Path, files: list[Path], name: str) -> Path:
    """`fresh_copy` with its near-duplicate prompts computed (as `import` does) and `files`
    merged in; the time it takes is printed, not counted."""
    path = fresh_copy(folder, name)
    started = time.perf_counter()
    with ProjectStore.open(path) as store:
        store.near_duplicate_prompts()
        merge_files(store, files)
    print(f"merged {len(files)} files into {name}: {time.perf_counter() - started:.0f} s")
    return path


def run(folder: Path, files: list[Path], bench: Run) -> None:
    """Merge and report on one copy of the team project, the baseline on another."""
    merged, copied = fresh_copy(folder, "team.merged.dpo"), fresh_copy(folder, "team.attach.dpo")
    held = [counts(path) for path in files]
    rows = {table: sum(c[table] for c in held) for table in held[0]}
    values = rows.pop("values")
    total_rows = sum(rows.values())
    print(
        f"team project: {counts(merged)['prompts']:,} prompts; {len(files)} files: "
        f"{rows['prompts']:,} prompts, {rows['candidates']:,} candidates, {rows['scores']:,} "
        f"score cards ({values:,} scores), {rows['judgements']:,} judgements "
        f"= {total_rows:,} rows"
    )

    # `dpo-tui import` computes near-duplicate prompts and keeps them in the file (merge
    # recomputes them only when it adds prompts); this team project was filled through the
    # store, so do here what import does, timed apart.
    with ProjectStore.open(merged) as store:
        _, dedup_seconds = timed(store.near_duplicate_prompts)
    print(f"near-duplicate prompts, computed as import does: {dedup_seconds:.1f} s (not counted)")

    watch = Stopwatch()
    merge, report = dpo_tui.services.merging, dpo_tui.services.reporting
    with (
        ProjectStore.open(merged) as target,
        watch.watching(
            (merge, "_read", "merge: open, validate, read rows (_read)"),
            (merge, "_write_scores", "merge: write scores (_write_scores)"),
            (merge, "_write_judgements", "merge: write judgements (_write_judgements)"),
            (ProjectAnnotations, "load", "report: read the project (load)"),
            (ProjectStore, "candidate_facts", "report: candidate lengths (candidate_facts)"),
            (report, "judge_pairs", "report: judge_pairs"),
            (ProjectStore, "near_duplicate_prompts", "report: near-duplicate prompts (kept)"),
            (report, "build_report", "report: build_report"),
            (dpo_tui.core.quality, "_agreement", "  of which agreement"),
        ),
    ):
        summaries, merge_seconds = timed(lambda: merge_files(target, files))
        result, report_seconds = timed(lambda: project_report(target))
    baseline_seconds = attach_copy(copied, files)

    after, check = counts(merged), counts(copied)
    assert after == check, f"merge and the ATTACH copy disagree: {after} != {check}"
    written = sum(s.changed for s in summaries)
    conflicts = sum(len(s.conflicts) for s in summaries)
    total = merge_seconds + report_seconds
    print(
        f"merged: {written:,} rows written ({after['scores']:,} score cards holding "
        f"{after['values']:,} scores, "
        f"{after['judgements']:,} judgements in the team project), {conflicts} conflicts"
    )
    agreement = result.agreement.pair_direction.percent if result.agreement else None
    print(
        f"report: {result.counts['pairs']:,} pairs ({result.counts['disputed_pairs']:,} "
        f"disputed), {len(result.near_duplicate_prompts):,} near-duplicate prompt pairs, "
        f"pair-direction agreement {'-' if agreement is None else f'{agreement:.1%}'}"
    )
    print()
    print(f"{'merge_files':<46} {merge_seconds:8.2f} s  {total_rows / merge_seconds:>9,.0f} rows/s")
    print(f"{'project_report':<46} {report_seconds:8.2f} s")
    verdict = "PASS" if total < TARGET_SECONDS else "MISS"
    print(
        f"{'total (merge + report)':<46} {total:8.2f} s  {total_rows / total:>9,.0f} rows/s"
        f"  target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    print(
        f"{'baseline: INSERT ... SELECT via ATTACH':<46} {baseline_seconds:8.2f} s  "
        f"{total_rows / baseline_seconds:>9,.0f} rows/s"
    )
    print(f"ratio merge_files / baseline: {merge_seconds / baseline_seconds:.1f}x")
    bench.figure("merge_files", merge_seconds, "s")
    bench.figure("project_report", report_seconds, "s")
    bench.figure("total", total, "s")
    bench.figure("baseline (ATTACH)", baseline_seconds, "s")
    bench.figure("merge_files / baseline", merge_seconds / baseline_seconds, "x")
    print("\nparts (wrapped calls):")
    for label, seconds in watch.seconds.items():
        print(f"  {label:<44} {seconds:8.2f} s")
    gathered = report_seconds - sum(
        seconds for label, seconds in watch.seconds.items() if label.startswith("report:")
    )
    print(f"  {'report: gathering facts (rest of it)':<44} {gathered:8.2f} s")


if __name__ == "__main__":
    main()
