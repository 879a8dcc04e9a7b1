"""The rows of a project file received for a merge, read table by table and checked row by
row before anything is written: ids recomputed from content, scores on the scales of the rubric
version they were made under, names, flags, times and durations checked. The first bad row
refuses the whole file, naming its table and row."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dpo_tui.core.bounded import json_value
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.importers.base import messages_from
from dpo_tui.core.judge_order import RECORDED_ORDERS
from dpo_tui.core.models import FLAGS, Candidate, Prompt, Scale
from dpo_tui.core.safe_text import diagnosis_problem, name_problem, storable
from dpo_tui.store import received
from dpo_tui.store.cards import card_json
from dpo_tui.store.merged import JudgementRow, ScoreRow
from dpo_tui.store.migrations import CARDS_SINCE
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.safe_open import UntrustedProjectError

UNREADABLE = (ValueError, TypeError, RecursionError)
"""What reading a received value can raise (RecursionError: JSON nested thousands deep)."""


@dataclass(frozen=True)
class Held:
    """Ids the target holds before the merge."""

    prompts: set[str]
    candidates: set[str]


def version_map(target: ProjectStore, shas: dict[int, object]) -> dict[int, int] | None:
    """The file's rubric version numbers -> the target's versions with the same text; None
    when the file's current version is none of the target's (another rubric)."""
    numbers = {v.sha256: v.number for v in target.rubric_versions()}
    if str(shas[max(shas)]) not in numbers:
        return None
    return {n: numbers[str(sha)] for n, sha in shas.items() if str(sha) in numbers}


class ReceivedRows:
    """Reads one table at a time; the first bad row refuses the whole file. Prompts and
    candidates the target already holds are checked against their content hash (so their
    text is the target's) and then left out: merging would skip them anyway."""

    def __init__(
        self, path: Path, target: ProjectStore, held: Held, versions: dict[int, int]
    ) -> None:
        self.path = path
        self.held = held
        self.versions = versions
        """the file's rubric version -> the target's (empty: all taken as the current)"""
        self.lineage = target.lineage
        self.prompt_ids: set[str] = set()
        self.candidate_ids: set[str] = set()
        self.names: set[str] = set()
        """annotator names already checked (a file holds a few, on every row)"""
        self.cards: dict[tuple[int, str], str] = {}
        """(target version, each good card text seen) -> its stored form"""
        self.latest = datetime.now(UTC) + MAX_CLOCK_SKEW
        """the latest time an edit may have (another machine's clock may run ahead)"""

    def _scales(self, version: int) -> dict[str, Scale]:
        return {c.key: c.scale for c in self.lineage.rubric(version).criteria}

    def version(self, made_under: object) -> int:
        """The target's version for the file's version `made_under` (ValueError if none)."""
        if not self.versions:
            return self.lineage.current
        if type(made_under) is not int or made_under not in self.versions:
            raise ValueError(
                f"made under rubric version {shown(made_under)}, which this project never had"
            )
        return self.versions[made_under]

    def fail(self, table: str, number: int, problem: str) -> UntrustedProjectError:
        return UntrustedProjectError(f"{self.path}: {table} row {number}: {problem}")

    def prompts(self, conn: sqlite3.Connection) -> list[Prompt]:
        found = []
        rows = received.prompt_rows(conn)
        for number, (pid, text, messages, source, tags) in enumerate(rows, 1):
            try:
                turns = (
                    None if messages is None else messages_from(json_value(messages), "messages")
                )
                tag_list = json_value(tags)
                if not isinstance(text, str) or not text.strip() or not isinstance(source, str):
                    raise ValueError("text and source must be text")
                if not isinstance(tag_list, list) or not all(isinstance(t, str) for t in tag_list):
                    raise ValueError("tags must be a JSON list of strings")
                for part in (text, source, *tag_list, *(m.content for m in turns or ())):
                    if problem := storable(part):
                        raise ValueError(f"the prompt {problem}")
            except UNREADABLE as exc:
                raise self.fail("prompts", number, str(exc)) from None
            if pid != prompt_id(text, turns):
                raise self.fail("prompts", number, f"id {shown(pid)} is not the hash of its text")
            self.prompt_ids.add(pid)
            if pid not in self.held.prompts:
                found.append(
                    Prompt(id=pid, text=text, messages=turns, source=source, tags=tuple(tag_list))
                )
        return found

    def candidates(self, conn: sqlite3.Connection) -> list[Candidate]:
        found = []
        for number, row in enumerate(received.candidate_rows(conn), 1):
            cid, pid, text, origin, model, preset, params, tokens, seconds = row
            if pid not in self.prompt_ids and pid not in self.held.prompts:
                raise self.fail("candidates", number, f"its prompt {shown(pid)} is in neither file")
            if not isinstance(text, str) or cid != candidate_id(pid, text):
                raise self.fail(
                    "candidates", number, f"id {shown(cid)} is not the hash of its text"
                )
            if problem := storable(text):
                raise self.fail("candidates", number, f"the response {problem}")
            self.candidate_ids.add(cid)
            if cid in self.held.candidates:
                continue
            if problem := _generation_problem(origin, model, preset, tokens, seconds):
                raise self.fail("candidates", number, problem)
            try:
                values = json_value(params or "{}")
                found.append(
                    Candidate(
                        id=cid,
                        prompt_id=pid,
                        text=text,
                        origin=origin,
                        model=model or "",
                        preset=preset or "",
                        params=values,
                        token_count=tokens,
                        gen_seconds=seconds,
                    )
                )
            except UNREADABLE as exc:
                raise self.fail("candidates", number, str(exc).splitlines()[0]) from None
        return found

    def scores(self, conn: sqlite3.Connection, version: int) -> list[ScoreRow]:
        """Score cards, each in its stored form (keys sorted, compact). A file from before
        cards (schema 7 and older) holds a row per criterion: read as cards, a card's problem
        named at its first row."""
        if version < CARDS_SINCE:
            self._check_criterion_rows(conn)
        found = []
        rows = received.card_rows(conn, version)
        for cid, annotator, criteria, updated, first, made_under in rows:
            try:
                under = self.version(made_under)
            except ValueError as exc:
                raise self.fail(
                    "scores", received.scores_row_number(conn, first), str(exc)
                ) from None
            problem = self._score_problem((cid, annotator, criteria, updated, under))
            if problem:
                raise self.fail("scores", received.scores_row_number(conn, first), problem)
            found.append((cid, annotator, self.cards[(under, criteria)], updated, under))
        return found

    def _check_criterion_rows(self, conn: sqlite3.Connection) -> None:
        """In a file from before cards: the first row whose criterion is not the rubric's or
        whose value is not an integer on its scale, found in SQL and named exactly."""
        scales = self._scales(self.version(1))
        bad = received.first_bad_criterion_row(conn, scales)
        if bad is not None:
            problem = self._value_problem(bad[1], bad[2], scales)
            raise self.fail("scores", received.scores_row_number(conn, bad[0]), str(problem))

    def _score_problem(self, row: ScoreRow) -> str | None:
        """What is wrong with a score card, if anything; a good card's stored form goes in
        `self.cards` (each distinct text is checked once)."""
        cid, annotator, criteria, updated, under = row
        if cid not in self.candidate_ids and cid not in self.held.candidates:
            return f"its candidate {shown(cid)} is in neither file"
        if type(annotator) is not str or not annotator.strip():
            return "the annotator name is empty"
        if annotator not in self.names:
            if problem := name_problem(annotator):
                return problem
            self.names.add(annotator)
        if problem := time_problem(updated, self.latest):
            return problem
        if (under, criteria) in self.cards:
            return None
        try:
            values = json_value(criteria)
        except UNREADABLE:
            return f"criteria {shown(criteria)} is not a JSON object"
        if type(values) is not dict or not values:
            return f"criteria {shown(criteria)} is not a JSON object of scores"
        scales = self._scales(under)
        for criterion, value in values.items():
            problem = self._value_problem(criterion, value, scales)
            if problem:
                return problem
        self.cards[(under, criteria)] = card_json(values)
        return None

    def _value_problem(
        self, criterion: object, value: object, scales: dict[str, Scale]
    ) -> str | None:
        scale = scales.get(criterion) if isinstance(criterion, str) else None
        if scale is None:
            return f"the rubric has no criterion {shown(criterion)}"
        if type(value) is not int or not scale.min <= value <= scale.max:
            return f"{criterion} = {shown(value)} is outside the scale {scale.min}..{scale.max}"
        return None

    def judgements(self, conn: sqlite3.Connection, version: int) -> list[JudgementRow]:
        found = []
        for number, row in enumerate(received.judgement_rows(conn, version), 1):
            pid, annotator, diagnosis, flags, order, seconds, *recorded, updated, made_under = row
            walked, suggested = recorded  # item_order, suggested
            try:
                under = self.version(made_under)
                if pid not in self.prompt_ids and pid not in self.held.prompts:
                    raise ValueError(f"its prompt {shown(pid)} is in neither file")
                if not isinstance(annotator, str) or not annotator.strip():
                    raise ValueError("the annotator name is empty")
                if annotator not in self.names:
                    if problem := name_problem(annotator):
                        raise ValueError(problem)
                    self.names.add(annotator)
                flag_list = json_value(flags or "[]")
                order_list = json_value(order or "[]")
                if not isinstance(flag_list, list) or not set(flag_list) <= set(FLAGS):
                    raise ValueError(f"unknown flags {shown(flags)}")
                if not isinstance(order_list, list) or not all(
                    isinstance(x, str) for x in order_list
                ):
                    raise ValueError("display_order must be a JSON list of candidate ids")
                if not isinstance(diagnosis or "", str):
                    raise ValueError("the diagnosis must be text")
                if problem := time_problem(updated, self.latest):
                    raise ValueError(problem)
                if problem := diagnosis_problem(diagnosis or ""):
                    raise ValueError(problem)
                spent = float(seconds or 0)
                if not 0 <= spent <= MAX_SECONDS_SPENT:
                    raise ValueError(f"seconds_spent {shown(seconds)} is not a duration")
                if type(walked) is not str or walked not in RECORDED_ORDERS:
                    raise ValueError(
                        f"item_order {shown(walked)} is not one of "
                        f"{', '.join(map(repr, RECORDED_ORDERS))}"
                    )
                if type(suggested) is not int or suggested not in (0, 1):
                    raise ValueError(f"suggested {shown(suggested)} is not 0 or 1")
            except UNREADABLE as exc:
                raise self.fail("judgements", number, str(exc)) from None
            found.append(
                (
                    pid,
                    annotator,
                    diagnosis or "",
                    json.dumps(flag_list),
                    json.dumps(order_list),
                    spent,
                    walked,
                    suggested,
                    updated,
                    under,
                )
            )
        return found


MAX_SECONDS_SPENT = 7 * 24 * 3600
"""The longest time one annotator can have spent on one item: a week."""

MAX_CLOCK_SKEW = timedelta(days=1)
"""How far in the future a received edit's time may be (another machine's clock)."""


def time_problem(value: object, latest: datetime) -> str | None:
    """Why `value` is not the time of an edit: an ISO 8601 time with a time zone, not after
    `latest` (newest-wins would keep a forged far-future edit for ever)."""
    if type(value) is not str:
        return "updated_at must be a timestamp"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"updated_at {shown(value)} is not an ISO 8601 time"
    if moment.tzinfo is None:
        return f"updated_at {shown(value)} has no time zone"
    if moment > latest:
        return f"updated_at {shown(value)} is in the future"
    return None


def shown(value: object, limit: int = 60) -> str:
    """A received value as an error message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


MAX_LABEL_CHARS = 500
"""The longest origin, model or preset name a received candidate may have."""
MAX_TOKENS = 10_000_000
"""More tokens than any response a model could have generated."""


def _generation_problem(
    origin: object, model: object, preset: object, tokens: object, seconds: object
) -> str | None:
    """What is wrong with a received candidate's origin, model, preset, token count or
    generation time, if anything."""
    for name, value, required in (
        ("origin", origin, True),
        ("model", model, False),
        ("preset", preset, False),
    ):
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value.strip()):
            return f"{name} must be text"
        if len(value) > MAX_LABEL_CHARS:
            return f"{name} is {len(value):,} characters, over the limit of {MAX_LABEL_CHARS}"
        if problem := storable(value):
            return f"{name} {problem}"
    if tokens is not None and (type(tokens) is not int or not 0 <= tokens <= MAX_TOKENS):
        return f"token_count {shown(tokens)} is not a number of tokens"
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_SECONDS_SPENT
    ):
        return f"gen_seconds {shown(seconds)} is not a duration"
    return None
