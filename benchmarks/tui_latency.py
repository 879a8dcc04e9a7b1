"""Benchmark: annotator latency on a large project (startup, next item, score commit).

On a generated project (default 100,000 prompts x 4 candidates, `general_assistant` rubric)
and, in the same run, a small baseline project (1,000 prompts), it measures:

- startup to first frame: from calling `make_app(path)` to the first frame rendered with the
  annotate screen showing the first item (candidate panes mounted, first slider focused);
- next item: from a press of `n` to the first frame showing the next item;
- score commit: from a digit keypress to its score row committed in SQLite (and to the first
  frame after it), and `AnnotationSession.set_score` called directly.

Keys are posted to the running app as `Pilot.press` posts them, but timed without Pilot's
idle polling (`press` and `pause` sleep in 20 ms steps until the process looks idle, which
would dominate every figure; that wall time is printed for comparison). Frames are timed by
wrapping `App._display`, which Textual calls with each compositor update once every dirty
line is rendered (headless, it then skips only encoding it for, and writing it to, a
terminal). Between keys the app is left to go idle (`Pilot.pause`), as while an annotator reads.

Run: `python benchmarks/tui_latency.py [--project PATH] [--prompts N] [--help]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

from harness import Run
from rich.console import RenderableType
from sqlite_utils import Database
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from dpo_tui.config import load_keymap
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Criterion, Prompt
from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore
from dpo_tui.tui.app import DpoApp, make_app
from dpo_tui.tui.screens.annotate import AnnotateScreen
from dpo_tui.tui.widgets.slider import RubricSlider

CANDIDATES_PER_PROMPT = 4
PROMPT_BATCH = 5_000
SIZE = (200, 50)
RUBRIC = "general_assistant"
ANNOTATOR = "bench"
TIMEOUT = 60.0
NEAR_DUPLICATE_EVERY = 40
"""One prompt in this many gets a near-copy candidate (flagged as a near-duplicate)."""

T = TypeVar("T")

TARGET_STARTUP = 1.5
TARGET_NEXT_P95 = 0.050
TARGET_COMMIT = 0.005
"""The targets of the issue, in seconds."""

VOCABULARY = """
the a an my your our this that these some every any each other new old first last order
account payment refund invoice password email server client database query table index
file folder script function error warning message request response user customer team
manager report summary list step guide example reason problem issue question answer
result value number date time week month year price cost plan feature setting option
version update release backup network browser phone laptop printer screen window button
link page form field data model test check fix change is are was were be been can could
should would will may might must do does did have has had get got make made use used
need needs want wants try tried keep kept show shows explain describe compare write send
open close start stop run install remove quickly slowly again still never always often
usually maybe really only just also because although when while after before since until
unless if then so but and or with without from into over under about between through
during against across clear simple short long correct wrong safe risky easy hard fast
slow cheap expensive
"""
WORDS = VOCABULARY.split()
PROMPT_OPENERS = (
    "How do I",
    "Can you explain why",
    "What is the best way to",
    "Please help:",
    "Why does",
    "Write a short note on how to",
    "Compare two ways to",
    "I keep getting an error when I",
)


# -- generating a project -----------------------------------------------------------


class TextMaker:
    """Varied English-like texts from a seeded pool of random sentences."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sentences = [self._sentence() for _ in range(20_000)]

    def _sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(5, 22))
        return " ".join(words).capitalize() + self.rng.choice(".....?!")

    def _fill(self, low: int, high: int, paragraphs: bool) -> str:
        target = self.rng.randint(low, high)
        parts: list[str] = []
        length = 0
        while length < target:
            sentence = self.rng.choice(self.sentences)
            if paragraphs and parts and self.rng.random() < 0.25:
                sentence = ("\n\n- " if self.rng.random() < 0.3 else "\n\n") + sentence
            parts.append(sentence)
            length += len(sentence) + 1
        text = " ".join(parts)
        if len(text) > high:
            text = text[: text.rfind(" ", 0, high)].rstrip(" -\n")
        return text

    def prompt(self) -> str:
        """A prompt of 50-400 characters."""
        opener = self.rng.choice(PROMPT_OPENERS)
        return f"{opener} {self._fill(45, 390 - len(opener), paragraphs=False)}"

    def candidate(self) -> str:
        """A candidate response of 200-1500 characters, in paragraphs and lists."""
        return self._fill(200, 1500, paragraphs=True)


def generate(path: Path, prompts: int, seed: int = 7) -> float:
    """Create the project at `path` through the store's own methods; returns the seconds."""
    started = time.perf_counter()
    maker = TextMaker(seed)
    seen: set[str] = set()
    with ProjectStore.create(path, load_rubric(resolve_rubric(RUBRIC)), ANNOTATOR) as store:
        flagged = 0
        for first in range(0, prompts, PROMPT_BATCH):
            batch: list[Prompt] = []
            candidates: list[Candidate] = []
            for number in range(first, min(first + PROMPT_BATCH, prompts)):
                text = maker.prompt()
                while prompt_id(text) in seen:
                    text = maker.prompt()
                pid = prompt_id(text)
                seen.add(pid)
                batch.append(Prompt(id=pid, text=text, source="bench", tags=("bench",)))
                texts = [maker.candidate() for _ in range(CANDIDATES_PER_PROMPT)]
                if number % NEAR_DUPLICATE_EVERY == 0:
                    texts[-1] = texts[-2] + " Hope this helps."
                candidates.extend(
                    Candidate(
                        id=candidate_id(pid, body),
                        prompt_id=pid,
                        text=body,
                        origin="imported:bench",
                        model=f"model-{slot}",
                        preset=("precise", "balanced", "creative", "wild")[slot % 4],
                        params={"temperature": 0.2 + 0.3 * slot, "seed": number},
                        token_count=len(body) // 4,
                    )
                    for slot, body in enumerate(texts)
                )
            store.add_prompts(batch)
            flagged += store.add_candidates(candidates).near_duplicates
            if sys.stdout.isatty():
                print(f"\r  {first + len(batch):,}/{prompts:,} prompts", end="", flush=True)
        print(f"\r  {flagged:,} candidates flagged as near-duplicates" + " " * 20)
    return time.perf_counter() - started


def project_size(path: Path) -> tuple[int, int]:
    """(prompts, candidates) in an existing project file."""
    with ProjectStore.open(path) as store:
        count = store.db.execute(
            "select (select count(*) from prompts), (select count(*) from candidates)"
        ).fetchone()
        return int(count[0]), int(count[1])


def ensure_project(path: Path, prompts: int) -> None:
    """Reuse `path` if it holds `prompts` x 4 candidates; create it if absent."""
    if path.exists():
        held = project_size(path)
        if held == (prompts, prompts * CANDIDATES_PER_PROMPT):
            print(f"{path}: reused ({prompts:,} prompts x {CANDIDATES_PER_PROMPT} candidates)")
            return
        sys.exit(
            f"{path}: holds {held[0]:,} prompts and {held[1]:,} candidates, not "
            f"{prompts:,} x {CANDIDATES_PER_PROMPT}; remove it or choose another --project"
        )
    print(f"{path}: generating {prompts:,} prompts x {CANDIDATES_PER_PROMPT} candidates ...")
    seconds = generate(path, prompts)
    megabytes = path.stat().st_size / 1e6
    print(f"  generation took {seconds:.1f} s; file {megabytes:,.0f} MB")


# -- measuring ------------------------------------------------------------------------


class TimedStore(ProjectStore):
    """A ProjectStore noting when each score write has returned (it is committed by then:
    the connection is in autocommit mode)."""

    def __init__(self, path: Path, db: Database, *, read_only: bool = False) -> None:
        super().__init__(path, db, read_only=read_only)
        self.committed_at: list[float] = []

    def set_score(
        self, candidate_id: str, annotator: str, criterion: str, value: int | None
    ) -> None:
        super().set_score(candidate_id, annotator, criterion, value)
        self.committed_at.append(time.perf_counter())


class FrameClock:
    """Timestamps the frames an app renders, and the first one rendered while a probe holds.

    It wraps `App._display`, which Textual calls with each compositor update once every
    dirty line has been rendered (headless, it then skips writing to the terminal).
    """

    def __init__(self, app: DpoApp) -> None:
        self.frames: list[float] = []
        self.probe: Callable[[], bool] = lambda: False
        self.matched = asyncio.Event()
        self.matched_at = 0.0
        display = app._display

        def timed_display(screen: Screen[object], renderable: RenderableType | None) -> None:
            display(screen, renderable)
            if renderable is None:
                return
            now = time.perf_counter()
            self.frames.append(now)
            if not self.matched.is_set() and self.probe():
                self.matched_at = now
                self.matched.set()

        app._display = timed_display  # type: ignore[method-assign]

    def expect(self, probe: Callable[[], bool]) -> None:
        """Watch for the first frame rendered while `probe()` holds (call before the key)."""
        self.probe = probe
        self.matched.clear()

    async def first(self) -> float:
        """When the expected frame was rendered."""
        await asyncio.wait_for(self.matched.wait(), TIMEOUT)
        return self.matched_at


@dataclass
class Results:
    """Every figure measured on one project, in seconds."""

    prompts: int
    startup: list[float] = field(default_factory=list)
    make_app: list[float] = field(default_factory=list)
    next_frame: list[float] = field(default_factory=list)
    next_settled: list[float] = field(default_factory=list)
    next_pilot: list[float] = field(default_factory=list)
    step: list[float] = field(default_factory=list)
    key_commit: list[float] = field(default_factory=list)
    key_frame: list[float] = field(default_factory=list)
    call_commit: list[float] = field(default_factory=list)
    call_total: list[float] = field(default_factory=list)
    full_gc: list[float] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated; the median for q=50."""
    if q == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def post_key(app: DpoApp, key: str) -> None:
    """Send a key to the app as `Pilot.press` does, without its idle waits."""
    event = events.Key(key, key)
    event.set_sender(app)
    app.post_message(event)


def first_item_shown(app: DpoApp) -> bool:
    """The annotate screen is up, its candidate panes mounted, the first slider focused."""
    screen = app.screen
    first = f"slider-0-{app.session.rubric.criteria[0].key}"
    return (
        isinstance(screen, AnnotateScreen)
        and isinstance(screen.focused, RubricSlider)
        and screen.focused.id == first
    )


async def measure_startup(path: Path) -> tuple[float, float]:
    """(make_app call to the first frame showing the first item, of which make_app)."""
    started = time.perf_counter()
    app = make_app(path)
    made = time.perf_counter()
    clock = FrameClock(app)
    clock.expect(lambda: first_item_shown(app))
    try:
        async with app.run_test(size=SIZE):
            shown = await clock.first()
    finally:
        app.session.store.close()
    return shown - started, made - started


def score_for(criterion: Criterion, current: int | None, turn: int) -> int:
    """A value on the criterion's scale, different from `current`, varying with `turn`."""
    points = list(criterion.scale.points)
    value = points[turn % len(points)]
    return points[(turn + 1) % len(points)] if value == current else value


async def measure_session(path: Path, moves: int, scores: int, result: Results) -> None:
    """Next-item and digit-key-to-commit latency in one running app (as `make_app` builds
    it, on a store that timestamps score commits). Each key is pressed once the app is
    idle again (`Pilot.pause`), as an annotator reading the screen would."""
    store = TimedStore.open(path)
    assert isinstance(store, TimedStore)
    app = DpoApp(AnnotationSession(store), load_keymap(None))
    clock = FrameClock(app)
    clock.expect(lambda: first_item_shown(app))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await clock.first()
            await pilot.pause()
            await next_items(app, pilot, clock, moves, result)
            await score_keys(app, pilot, clock, store, scores, result)
            result.full_gc.append(full_collection())
    finally:
        store.close()


def full_collection() -> float:
    """The seconds of a full garbage collection in the running app. The app runs them after
    a key's frame, never between the key and its frame (`GcPause`), so they add to the time
    to the last frame, and a key pressed during one waits for its end."""
    started = time.perf_counter()
    gc.collect()
    return time.perf_counter() - started


def shows_item(box: Widget, number: int) -> Callable[[], bool]:
    """Whether the prompt box is titled with item `number` (set once the item is shown)."""
    prefix = f"#{number} "
    return lambda: (box.border_title or "").startswith(prefix)


def committed_more(store: TimedStore, count: int) -> Callable[[], bool]:
    return lambda: len(store.committed_at) > count


async def next_items(
    app: DpoApp, pilot: Pilot[None], clock: FrameClock, moves: int, result: Results
) -> None:
    """`moves` presses of n, then 20 timed the plain Pilot way for comparison."""
    box = app.screen.query_one("#prompt", Widget)
    for _ in range(moves):
        assert app.session.item is not None
        clock.expect(shows_item(box, app.session.item.index + 2))
        started = time.perf_counter()
        post_key(app, "n")
        result.next_frame.append(await clock.first() - started)
        await pilot.pause()
        result.next_settled.append(clock.frames[-1] - started)
        assert isinstance(app.focused, RubricSlider)
    for _ in range(20):
        started = time.perf_counter()
        await pilot.press("n")
        await pilot.pause()
        result.next_pilot.append(time.perf_counter() - started)


async def score_keys(
    app: DpoApp,
    pilot: Pilot[None],
    clock: FrameClock,
    store: TimedStore,
    scores: int,
    result: Results,
) -> None:
    """`scores` digit presses, each setting the focused slider to a new value."""
    last = ("", "", 0)
    for turn in range(scores):
        slider = app.focused
        assert isinstance(slider, RubricSlider)
        value = score_for(slider.criterion, slider.value, turn)
        clock.expect(committed_more(store, len(store.committed_at)))
        started = time.perf_counter()
        post_key(app, "0" if value == 10 else str(value))
        result.key_frame.append(await clock.first() - started)
        result.key_commit.append(store.committed_at[-1] - started)
        await pilot.pause()
        assert slider.value == value
        last = (slider.candidate_id, slider.criterion.key, value)
    check_committed(store.path, *last)


def check_committed(path: Path, candidate: str, criterion: str, value: int) -> None:
    """The last score written is visible to another connection (it was committed)."""
    other = sqlite3.connect(path)
    try:
        row = other.execute(
            "select criteria ->> ? from scores where candidate_id = ? and annotator = ?",
            [f"$.{criterion}", candidate, ANNOTATOR],
        ).fetchone()
    finally:
        other.close()
    assert row == (value,), f"score not committed: {row} != {value}"


def timed(timings: dict[str, float], name: str, call: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = call()
    timings[name] = time.perf_counter() - started
    return value


def measure_direct(path: Path, moves: int, scores: int, result: Results) -> None:
    """The session without the UI: what startup and each key cost in the store and session,
    `AnnotationSession.step` and `AnnotationSession.set_score` called directly."""
    parts = result.parts
    store = timed(parts, "ProjectStore.open", lambda: TimedStore.open(path))
    assert isinstance(store, TimedStore)
    try:
        session = timed(
            parts, "AnnotationSession() (annotation_state)", lambda: AnnotationSession(store)
        )
        timed(parts, "store.status() (DpoApp.on_mount)", store.status)
        timed(parts, "session.start() (first item)", session.start)
        timed(parts, "session.progress() (each refresh)", session.progress)
        for _ in range(moves):
            started = time.perf_counter()
            session.step(1)
            result.step.append(time.perf_counter() - started)
        item = session.open(len(session.prompt_ids) // 2)
        criteria = session.rubric.criteria
        for turn in range(scores):
            candidate = item.candidates[turn % len(item.candidates)]
            criterion = criteria[(turn // len(item.candidates)) % len(criteria)]
            value = score_for(criterion, item.scores.get(candidate.id, {}).get(criterion.key), turn)
            started = time.perf_counter()
            item = session.set_score(candidate.id, criterion.key, value)
            result.call_total.append(time.perf_counter() - started)
            result.call_commit.append(store.committed_at[-1] - started)
        check_committed(path, candidate.id, criterion.key, value)
    finally:
        store.close()


# -- reporting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the summary: a measure, its target (seconds, or None) and how to get it."""

    name: str
    target: float | None
    pick: Callable[[Results], float]


ROWS = (
    Row("startup to first frame (median)", TARGET_STARTUP, lambda r: statistics.median(r.startup)),
    Row("  of which make_app (median)", None, lambda r: statistics.median(r.make_app)),
    Row("next item: key to frame p50", None, lambda r: percentile(r.next_frame, 50)),
    Row("next item: key to frame p95", TARGET_NEXT_P95, lambda r: percentile(r.next_frame, 95)),
    Row("next item: key to frame max", None, lambda r: max(r.next_frame)),
    Row("  key to last frame (settled) p95", None, lambda r: percentile(r.next_settled, 95)),
    Row("  session.step() alone p95", None, lambda r: percentile(r.step, 95)),
    Row("  Pilot press+pause wall p50", None, lambda r: percentile(r.next_pilot, 50)),
    Row("score: digit key to commit p50", None, lambda r: percentile(r.key_commit, 50)),
    Row("score: digit key to commit p95", TARGET_COMMIT, lambda r: percentile(r.key_commit, 95)),
    Row("  digit key to frame p95", None, lambda r: percentile(r.key_frame, 95)),
    Row("score: set_score to commit p50", None, lambda r: percentile(r.call_commit, 50)),
    Row("score: set_score to commit p95", TARGET_COMMIT, lambda r: percentile(r.call_commit, 95)),
    Row("  set_score with reload p95", None, lambda r: percentile(r.call_total, 95)),
    Row("full garbage collection", None, lambda r: max(r.full_gc)),
)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def show(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 1 else ms(seconds)


def filesystem(path: Path) -> str:
    """The type of file system holding `path` (commit cost differs a lot between them)."""
    best = ("", "unknown")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, kind, *_ = line.split()
            if str(path.resolve()).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, kind)
    except OSError:
        pass
    return best[1]


def report(big: Results, small: Results, bench: Run) -> None:
    """The figures, the targets and PASS/MISS, with the baseline and the ratio."""
    big_name, small_name = f"{big.prompts:,} prompts", f"{small.prompts:,} prompts"
    print()
    print(f"Startup runs: {', '.join(f'{s:.3f} s' for s in big.startup)} [{big_name}]")
    print(f"              {', '.join(f'{s:.3f} s' for s in small.startup)} [{small_name}]")
    print()
    print(f"{'Direct calls (no UI), once':<44} {big_name:>15} {small_name:>13}")
    for name, seconds in big.parts.items():
        print(f"  {name:<42} {ms(seconds):>15} {ms(small.parts[name]):>13}")
    print()
    header = f"{'measure':<36} {'target':>10} {big_name:>15} {small_name:>13} {'ratio':>7}  result"
    print(header)
    print("-" * len(header))
    for row in ROWS:
        on_big, on_small = row.pick(big), row.pick(small)
        target = "" if row.target is None else f"< {show(row.target)}"
        verdict = "" if row.target is None else ("PASS" if on_big < row.target else "MISS")
        print(
            f"{row.name:<36} {target:>10} {show(on_big):>15} {show(on_small):>13} "
            f"{on_big / on_small if on_small else float('nan'):>6.2f}x  {verdict}"
        )
        bench.figure(row.name.strip(), on_big, "s")
    print()
    print(
        f"next item: {len(big.next_frame)} presses of n; score: {len(big.key_commit)} digit "
        f"presses in the app, {len(big.call_commit)} set_score calls.\n"
        "Key times run from posting the key event; 'frame' is the first frame rendered with\n"
        "the change on screen (Textual paces frames at 60/s). Pilot press+pause includes\n"
        "Pilot's 20 ms idle polls: for comparison only. The app collects garbage only after\n"
        "a key's frame is drawn; a full collection in the running app takes the time shown."
    )


async def run(big_path: Path, small_path: Path, args: argparse.Namespace, bench: Run) -> None:
    """Every measure on both projects; startups alternate between them."""
    big, small = Results(args.prompts), Results(args.baseline_prompts)
    first, _ = await measure_startup(small_path)
    print(f"first startup in this process (imports, CSS parsing; not counted): {first:.3f} s")
    for turn in range(args.repeats):
        for path, result in ((big_path, big), (small_path, small)):
            seconds, made = await measure_startup(path)
            result.startup.append(seconds)
            result.make_app.append(made)
            print(f"startup {turn + 1}, {result.prompts:>7,} prompts: {seconds:.3f} s")
    for path, result in ((big_path, big), (small_path, small)):
        await measure_session(path, args.moves, args.scores, result)
        measure_direct(path, args.moves, args.scores, result)
        print(
            f"{result.prompts:>7,} prompts: next item p95 {ms(percentile(result.next_frame, 95))}"
            f", digit key to commit p95 {ms(percentile(result.key_commit, 95))}"
            f" (load average {os.getloadavg()[0]:.2f})"
        )
    report(big, small, bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="project file (default: in a temp dir)")
    parser.add_argument("--prompts", type=int, default=100_000, help="prompts (default 100000)")
    parser.add_argument("--baseline-prompts", type=int, default=1_000)
    parser.add_argument("--moves", type=int, default=200, help="presses of n (default 200)")
    parser.add_argument("--scores", type=int, default=200, help="score changes (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="startups per project")
    args = parser.parse_args()
    if min(args.prompts, args.baseline_prompts) < args.moves + 30:
        parser.error("both projects need at least --moves + 30 prompts")
    temp = None if args.project else Path(tempfile.mkdtemp(prefix="dpo-tui-bench-"))
    big_path = args.project or (temp or Path()) / "bench.dpo"
    small_path = big_path.with_name(f"{big_path.stem}.baseline-{args.baseline_prompts}.dpo")
    bench = Run("tui_latency")
    print(f"Textual {version('textual')}, projects on {filesystem(big_path.parent)}")
    try:
        ensure_project(big_path, args.prompts)
        ensure_project(small_path, args.baseline_prompts)
        asyncio.run(run(big_path, small_path, args, bench))
        bench.save()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
