"""An annotation session over a project: what the annotator app shows and every change it makes.

No UI here: the Textual app is a thin view over `AnnotationSession`, and tests drive either.
Every change is committed to the project file before the method returns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from dpo_tui.core.judge_order import ItemOrder
from dpo_tui.core.judging import is_judge, reasons_by_candidate
from dpo_tui.core.models import CANDIDATE_LABELS, FLAGS, Candidate, Flag, Judgement, Prompt
from dpo_tui.core.pairs import ItemPairs, extract_pairs
from dpo_tui.core.safe_text import checked_name
from dpo_tui.core.scoring import total
from dpo_tui.errors import DpoError
from dpo_tui.services.ordering import chosen_judge, item_order
from dpo_tui.services.pairing import judge_pairs
from dpo_tui.store.assigned_order import assigned_order
from dpo_tui.store.project import ProjectStore

ItemFilter = Literal["all", "unfinished", "flagged", "disputed", "needs-rescore"]
FILTERS: tuple[ItemFilter, ...] = ("all", "unfinished", "flagged", "disputed", "needs-rescore")
"""`needs-rescore`: items scored under an earlier rubric version that a revision asks to
score again (an added criterion, or a rescaled one), until every candidate is scored."""
IDLE_CAP_SECONDS = 600.0
"""Time on one item counts at most this much per visit (an app left open is not work)."""
SUGGEST_NEEDS = "`annotate --suggest` shows a judge's scores beside your own"


@dataclass(frozen=True)
class Suggestion:
    """A judge's scores of one candidate, shown with `annotate --suggest`, and its reasons
    ('' when it gave none)."""

    card: dict[str, int]
    reasons: str = ""


@dataclass(frozen=True)
class ItemView:
    """Everything the app shows for one prompt."""

    index: int
    prompt: Prompt
    candidates: tuple[Candidate, ...]
    scores: dict[str, dict[str, int]]
    judgement: Judgement
    outcome: ItemPairs
    totals: dict[str, float | None]
    suggestions: Mapping[str, Suggestion] = field(default_factory=dict)
    """candidate id -> the judge's scores of it, with `suggest` only (none: nothing shown)"""

    @property
    def labels(self) -> dict[str, str]:
        """candidate id -> its blind label (A, B, ...) in display order."""
        return {c.id: CANDIDATE_LABELS[i] for i, c in enumerate(self.candidates)}


@dataclass(frozen=True)
class Progress:
    """Items done of those that can be annotated (prompts with candidates, or already done),
    the rate, the time left for them, and how many prompts still wait for candidates."""

    done: int
    total: int
    items_per_hour: float | None
    eta_seconds: float | None
    waiting: int = 0
    rescore: int = 0
    """items scored under an earlier rubric version that need scoring again"""


@dataclass
class _ScoreChange:
    candidate_id: str
    criterion: str
    before: int | None
    after: int | None


@dataclass
class _History:
    undo: list[_ScoreChange] = field(default_factory=list)
    redo: list[_ScoreChange] = field(default_factory=list)


class AnnotationSession:
    """One annotator working through a project file."""

    def __init__(
        self,
        store: ProjectStore,
        annotator: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        only: Collection[str] | None = None,
        order: ItemOrder = "file",
        judge: str | None = None,
        seed: int = 0,
    ) -> None:
        """`only`: the prompts to work through (default: every one); `order`, `judge`,
        `seed`: the order they are walked in (see `set_order`)."""
        self.store = store
        self.annotator = named_annotator(annotator) if annotator else store.meta.annotator
        if annotator and is_judge(self.annotator):
            raise DpoError(
                f"--annotator: {self.annotator!r} is a judge model's name; annotators never "
                "see or change a judge's scores",
                hint="annotate under your own name",
            )
        self.rubric = store.rubric
        self.clock = clock
        self.filter: ItemFilter = "all"
        older = store.older_cards(self.annotator)  # read once: both below need it
        self._state = store.annotation_state(self.annotator, older)
        if only is not None:
            self._state = {pid: state for pid, state in self._state.items() if pid in only}
        self.prompt_ids = list(self._state)
        self.item_order = "file"
        """the order recorded in each judgement saved (`set_order`)"""
        self.suggesting: str | None = None
        """the judge whose scores each item shows (`suggest`); None: the annotator is blind"""
        self._suggestions: dict[str, dict[str, Suggestion]] = {}
        self._done = {pid for pid in self.prompt_ids if self._is_done(pid)}
        self._without_candidates = {pid for pid, state in self._state.items() if not state[0]}
        self._rescore = set(store.needs_rescore(self.annotator, older))
        self._history = _History()
        self._disputed: set[str] | None = None
        self._opened_at: float | None = None
        self.item: ItemView | None = None
        self.set_order(order, judge=judge, seed=seed)

    def set_order(self, order: ItemOrder, *, judge: str | None = None, seed: int = 0) -> None:
        """Walk the items in `order`: the file's, shuffled by `seed` (`random`), or those a
        judge is least sure about first (`uncertain`, by the cards of `judge` held in the
        file, or of its only judge; DpoError when it holds none). The open item stays open.
        Every judgement saved from now on records the order; in the file's order, the one
        `assign --order` wrote the file in, if it did."""
        self.prompt_ids = item_order(self.store, list(self._state), order, judge=judge, seed=seed)
        self.item_order = assigned_order(self.store) if order == "file" else order
        if self.item is not None:
            index = self.prompt_ids.index(self.item.prompt.id)
            self.item = dataclasses.replace(self.item, index=index)

    def suggest(self, judge: str | None = None) -> None:
        """Show the scores and reasons of `judge` (else of the file's only judge; DpoError
        saying what to run when it holds none) with each item it scored. A judgement saved
        from now on, for an item shown with them, records that they were (`suggested`)."""
        self.suggesting, _ = chosen_judge(self.store, judge, SUGGEST_NEEDS)
        self._suggestions.clear()
        if self.item is not None:
            self._reload()

    # -- progress --------------------------------------------------------------

    def is_done(self, prompt_id: str) -> bool:
        """Flagged, or every candidate fully scored and a diagnosis written."""
        return prompt_id in self._done

    def _is_done(self, prompt_id: str) -> bool:
        held, complete, diagnosed, flagged = self._state[prompt_id]
        return flagged or (held > 0 and complete == held and diagnosed)

    def matches(self, prompt_id: str, item_filter: ItemFilter | None = None) -> bool:
        wanted = item_filter or self.filter
        if wanted == "unfinished":
            return not self.is_done(prompt_id)
        if wanted == "flagged":
            return self._state[prompt_id][3]
        if wanted == "disputed":
            return prompt_id in self.disputed()
        if wanted == "needs-rescore":
            return prompt_id in self._rescore
        return True

    def disputed(self) -> set[str]:
        """Prompts whose pairs annotators disagree on (after a merge); computed when first
        asked, then kept for the session."""
        if self._disputed is None:
            self._disputed = judge_pairs(self.store).disputed_prompts()
        return self._disputed

    def progress(self) -> Progress:
        done = self._done
        seconds = self.store.seconds_spent(self.annotator)
        rate = len(done) / (seconds / 3600) if seconds > 0 and done else None
        waiting = len(self._without_candidates) - len(self._without_candidates & done)
        total = len(self.prompt_ids) - waiting
        eta = (total - len(done)) / rate * 3600 if rate else None
        return Progress(len(done), total, rate, eta, waiting, len(self._rescore))

    # -- navigation --------------------------------------------------------------

    def open(self, index: int) -> ItemView:
        """Show the prompt at `index` (of the walking order), recording time spent on the
        last one."""
        if not self.prompt_ids:
            raise IndexError("the project has no prompts")
        self._record_time()
        index = max(0, min(index, len(self.prompt_ids) - 1))
        self.item = self._load(index)
        self._opened_at = self.clock()
        return self.item

    def start(self) -> ItemView:
        """The first prompt the filter shows (with the `all` filter: the first unfinished),
        or the first prompt when there is none."""
        wanted: ItemFilter = "unfinished" if self.filter == "all" else self.filter
        return self.open(self._find_from(-1, 1, wanted) or 0)

    def step(self, direction: int, item_filter: ItemFilter | None = None) -> ItemView | None:
        """The next (1) or previous (-1) prompt matching the filter; None when there is none."""
        current = self.item.index if self.item else -1
        found = self._find_from(current, direction, item_filter or self.filter)
        return None if found is None else self.open(found)

    def _find_from(self, start: int, direction: int, item_filter: ItemFilter) -> int | None:
        index = start + direction
        while 0 <= index < len(self.prompt_ids):
            if self.matches(self.prompt_ids[index], item_filter):
                return index
            index += direction
        return None

    def find(self, query: str) -> int | None:
        """A prompt by its number (1-based) or the first after the current containing `query`."""
        query = query.strip()
        if query.isdigit():
            number = int(query)
            return number - 1 if 1 <= number <= len(self.prompt_ids) else None
        needle = query.casefold()
        if not needle:
            return None
        start = self.item.index + 1 if self.item else 0
        order = list(range(start, len(self.prompt_ids))) + list(range(start))
        texts = self.store.prompt_texts()
        return next((i for i in order if needle in texts[self.prompt_ids[i]].casefold()), None)

    # -- changes -----------------------------------------------------------------

    def set_score(self, candidate_id: str, criterion: str, value: int | None) -> ItemView:
        item = self._current()
        before = item.scores.get(candidate_id, {}).get(criterion)
        if before == value:
            return item
        self._write_score(candidate_id, criterion, value)
        self._history.undo.append(_ScoreChange(candidate_id, criterion, before, value))
        self._history.redo.clear()
        return self._reload()

    def undo(self) -> ItemView | None:
        return self._replay(self._history.undo, self._history.redo, lambda c: c.before)

    def redo(self) -> ItemView | None:
        return self._replay(self._history.redo, self._history.undo, lambda c: c.after)

    def _replay(
        self,
        source: list[_ScoreChange],
        target: list[_ScoreChange],
        value_of: Callable[[_ScoreChange], int | None],
    ) -> ItemView | None:
        """Undo/redo within the current prompt (changes to other prompts stay as they are)."""
        item = self._current()
        ids = {c.id for c in item.candidates}
        if not source or source[-1].candidate_id not in ids:
            return None
        change = source.pop()
        self._write_score(change.candidate_id, change.criterion, value_of(change))
        target.append(change)
        return self._reload()

    def replace_candidate(self, old_id: str, new: Candidate) -> ItemView:
        """Swap in a regenerated candidate at the old one's place (see the store's method)."""
        self._ensure_judgement()  # records the order shown, so the new one takes its place
        self.store.replace_candidate(old_id, new, self.annotator)
        self._history.undo = [c for c in self._history.undo if c.candidate_id != old_id]
        self._history.redo = [c for c in self._history.redo if c.candidate_id != old_id]
        return self._reload()

    def toggle_flag(self, flag: Flag) -> ItemView:
        item = self._current()
        flags = set(item.judgement.flags) ^ {flag}
        return self._save(flags=tuple(f for f in FLAGS if f in flags))

    def set_diagnosis(self, text: str) -> ItemView:
        if text == self._current().judgement.diagnosis:
            return self._current()
        return self._save(diagnosis=text)

    def close(self) -> None:
        """Record the time spent on the open item."""
        self._record_time()
        self._opened_at = None

    # -- internals -----------------------------------------------------------------

    def _current(self) -> ItemView:
        if self.item is None:
            raise RuntimeError("no item is open")
        return self.item

    def _write_score(self, candidate_id: str, criterion: str, value: int | None) -> None:
        self._ensure_judgement()
        self.store.set_score(candidate_id, self.annotator, criterion, value)

    def _ensure_judgement(self) -> None:
        """Persist the judgement (with the display order shown) on an item's first change,
        and on its first change with a judge's scores shown (`suggested`)."""
        item = self._current()
        if not item.judgement.updated_at or (item.suggestions and not item.judgement.suggested):
            self._save()

    def _save(self, **changes: object) -> ItemView:
        """Write the open item's judgement with `changes`, recording the order in force and
        whether a judge's scores are shown (once shown, it stays recorded)."""
        item = self._current()
        suggested = item.judgement.suggested or bool(item.suggestions)
        update = {"item_order": self.item_order, "suggested": suggested, **changes}
        self.store.save_judgement(item.judgement.model_copy(update=update))
        return self._reload()

    def _record_time(self) -> None:
        if self.item is None or self._opened_at is None:
            return
        spent = min(self.clock() - self._opened_at, IDLE_CAP_SECONDS)
        self._opened_at = self.clock()
        judgement = self.item.judgement
        if judgement.updated_at and spent > 0:  # time on a visit: order, suggested as saved
            self._save(
                seconds_spent=judgement.seconds_spent + spent,
                item_order=judgement.item_order or self.item_order,
                suggested=judgement.suggested,
            )

    def _reload(self) -> ItemView:
        item = self._current()
        self.item = self._load(item.index)
        return self.item

    def _load(self, index: int) -> ItemView:
        pid = self.prompt_ids[index]
        prompt = self.store.prompt(pid)
        assert prompt is not None
        candidates = self.store.candidates(pid)
        judgement = self.store.judgement(pid, self.annotator) or Judgement(
            prompt_id=pid, annotator=self.annotator
        )
        ordered = _display_order(candidates, judgement, self.annotator)
        if judgement.display_order != tuple(c.id for c in ordered):
            judgement = judgement.model_copy(update={"display_order": tuple(c.id for c in ordered)})
        scores = self.store.scores(pid, self.annotator)
        table = [(c.id, scores.get(c.id, {})) for c in ordered]
        outcome = extract_pairs(self.rubric, table, judgement.flags)
        totals = {cid: total(self.rubric, s) for cid, s in table}
        complete = sum(1 for value in totals.values() if value is not None)
        self._state[pid] = (
            len(candidates),
            complete,
            bool(judgement.diagnosis.strip()),
            bool(judgement.flags),
        )
        if self._is_done(pid):
            self._done.add(pid)
        else:
            self._done.discard(pid)
        if complete == len(candidates):
            self._rescore.discard(pid)
        suggestions = self._suggestions_of(pid)
        return ItemView(
            index, prompt, tuple(ordered), scores, judgement, outcome, totals, suggestions
        )

    def _suggestions_of(self, prompt_id: str) -> dict[str, Suggestion]:
        """The judge's cards and reasons of a prompt's candidates (read once a session)."""
        judge = self.suggesting
        if judge is None:
            return {}
        if prompt_id not in self._suggestions:
            judged = self.store.judgement(prompt_id, judge)
            reasons = reasons_by_candidate(judged) if judged else {}
            self._suggestions[prompt_id] = {
                cid: Suggestion(card, reasons.get(cid, ""))
                for cid, card in self.store.scores(prompt_id, judge).items()
                if card
            }
        return self._suggestions[prompt_id]


def _display_order(
    candidates: list[Candidate], judgement: Judgement, annotator: str
) -> list[Candidate]:
    """The order recorded for this annotator, else a shuffle seeded by (annotator, prompt);
    candidates added since the order was recorded come after it, shuffled the same way."""
    by_id = {c.id: c for c in candidates}
    shown = [by_id[cid] for cid in judgement.display_order if cid in by_id]
    rest = sorted(
        (c for c in candidates if c.id not in judgement.display_order), key=lambda c: c.id
    )
    seed = hashlib.sha256(f"{annotator}:{judgement.prompt_id}".encode()).digest()
    random.Random(seed).shuffle(rest)
    return shown + rest


def named_annotator(name: str) -> str:
    """A name given on the command line, checked as `init` checks it."""
    try:
        return checked_name(name)
    except ValueError as exc:
        raise DpoError(f"--annotator: {exc}") from None
