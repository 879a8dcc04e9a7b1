"""ProjectStore: one SQLite project file, read and written through sqlite-utils."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlite_utils import Database
from sqlite_utils.db import Table

from dpo_tui import __version__
from dpo_tui.core.dedup import NEAR_DUPLICATE, closest_earlier, near_duplicate_pairs
from dpo_tui.core.models import Candidate, Judgement, Message, Prompt, Resolution, Rubric
from dpo_tui.core.rubric import LoadedRubric, parse_rubric
from dpo_tui.core.safe_text import diagnosis_problem, storable, visible
from dpo_tui.errors import ProjectError, SchemaTooNewError
from dpo_tui.store.cards import CardReader, card_json
from dpo_tui.store.migrations import KNOWN, SCHEMA_VERSION, applied_names, migrations
from dpo_tui.store.values import stored_json

SQLITE_MAGIC = b"SQLite format 3\x00"


def now() -> str:
    """The current UTC time as ISO 8601, as stored in every `*_at` column."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ProjectMeta(BaseModel):
    """What the `meta` table says about a project."""

    project_id: str
    annotator: str
    rubric_text: str
    rubric_sha256: str
    schema_version: int
    app_version: str
    created_at: str
    assignment_id: str | None = None


class ImportRecord(BaseModel):
    """One import of a file, as logged in the `imports` table."""

    kind: str
    path: str
    sha256: str
    format: str
    field: str | None
    added: int
    skipped_duplicates: int
    imported_at: str


class CandidatesAdded(NamedTuple):
    """What `add_candidates` did."""

    added: int
    skipped: int
    near_duplicates: int


class ExportRound(BaseModel):
    """One recorded export."""

    number: int
    created_at: str
    format: str
    out_dir: str
    policy: str
    min_margin: float
    val_fraction: float
    seed: int
    limit_pairs: int | None
    train_pairs: int
    validation_pairs: int
    disputed_excluded: int
    rubric_sha256: str
    files: dict[str, str]
    pair_keys: list[tuple[str, str, str]]


class ProjectStatus(BaseModel):
    """Counts a user needs to see where a project stands."""

    path: str
    project_id: str
    annotator: str
    rubric_name: str
    rubric_sha256: str
    schema_version: int
    prompts: int
    conversational_prompts: int
    prompts_with_candidates: int
    candidates: int
    near_duplicate_candidates: int
    judged_prompts: int
    scores: int
    imports: list[ImportRecord]


class ProjectStore:
    """A project file. Use `create` or `open`, then as a context manager or `close()`."""

    def __init__(self, path: Path, db: Database, *, read_only: bool = False) -> None:
        self.path = path
        self.db = db
        self.read_only = read_only
        self._rubric: LoadedRubric | None = None

    # -- opening -------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, rubric: LoadedRubric, annotator: str) -> ProjectStore:
        """Create a new project file; refuses to overwrite anything."""
        annotator = annotator.strip()
        if not annotator:
            raise ProjectError("the annotator name must not be empty")
        if os.path.lexists(path):  # a dangling symlink too: never create a file through one
            raise ProjectError(
                f"{path}: already exists", hint="choose another name, or open it with `status`"
            )
        if not path.parent.is_dir():
            raise ProjectError(f"{path.parent}: no such folder")
        store = cls(path, _connect(path))
        try:
            with store.writing():
                migrations.apply(store.db)
                store._table("meta").insert_all(
                    [
                        {"key": "project_id", "value": uuid.uuid4().hex},
                        {"key": "annotator", "value": annotator},
                        {"key": "rubric_text", "value": rubric.text},
                        {"key": "rubric_sha256", "value": rubric.sha256},
                        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"key": "app_version", "value": __version__},
                        {"key": "created_at", "value": now()},
                    ]
                )
        except BaseException:
            store.close()
            path.unlink(missing_ok=True)
            raise
        return store

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> ProjectStore:
        """Open an existing project file, migrating an older schema; refuses a newer one.

        `read_only` (for commands that write nothing): the file is opened read-only, so a
        read-only file or folder is no obstacle; a file of an older schema is upgraded first
        when it can be written, else refused with what to do."""
        if not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file" if path.exists() else ""
            raise ProjectError(
                f"{path}: {kind or 'no such project file'}",
                hint="give the path of a .dpo project file; create one with `dpo-tui init`",
            )
        with path.open("rb") as handle:
            if handle.read(16) != SQLITE_MAGIC:
                raise ProjectError(f"{path}: not a dpo-tui project file (not an SQLite database)")
        store = cls(path, _connect(path, read_only=read_only), read_only=read_only)
        try:
            behind = store._check_schema()
            if behind and not read_only:
                store._migrate()
        except BaseException:
            store.close()
            raise
        if behind and read_only:
            store.close()
            if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
                raise ProjectError(
                    f"{path}: written by an older dpo-tui; upgrading it needs write access to "
                    "the file and its folder",
                    hint="make them writable once (or copy the file to a writable folder) and "
                    "run the command again",
                )
            cls.open(path).close()
            return cls.open(path, read_only=True)
        return store

    def _check_schema(self) -> bool:
        """Check the file's schema version and migration record; True if it is older than
        this dpo-tui's (to migrate)."""
        try:
            if not self._table("meta").exists():
                raise ProjectError(f"{self.path}: an SQLite file, but not a dpo-tui project")
            applied = applied_names(self.db)
            raw = self._meta_value("schema_version")
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"{self.path}: cannot be read ({exc})") from None
        unknown = [name for name in applied if name not in KNOWN]
        stored = int(raw) if raw is not None and raw.isdecimal() and raw.isascii() else -1
        if unknown or stored > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path}: written by a newer dpo-tui (schema version "
                f"{max(stored, len(applied))}; this dpo-tui {__version__} knows up to "
                f"{SCHEMA_VERSION})",
                hint="upgrade dpo-tui (pip install -U dpo-tui) to open this file",
            )
        if stored < 1 or applied != KNOWN[: len(applied)] or stored != len(applied):
            shown = "missing" if raw is None else repr(raw[:40])
            raise ProjectError(
                f"{self.path}: damaged: its schema version ({shown}) and its record of "
                f"migrations ({len(applied)} applied) do not agree",
                hint="open an earlier copy of the file, or ask whoever sent it for a new one",
            )
        return len(applied) < SCHEMA_VERSION

    def _migrate(self) -> None:
        with self.writing():
            migrations.apply(self.db)
            self._table("meta").upsert(
                {"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key"
            )

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction: it takes the write lock first (`BEGIN IMMEDIATE`, waiting as
        the busy timeout allows), so what it reads stays true until it commits. A deferred
        transaction whose snapshot another process wrote past fails at its first write with
        "database is locked" at once, whatever the timeout: every write goes through here.
        Inside a transaction already open: a savepoint."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Copy what the WAL holds into the file, without waiting on other connections, and
        close; the last connection to close also removes the WAL, leaving one file."""
        # PASSIVE never blocks: TRUNCATE would wait (up to the busy timeout) for a writer in
        # another process, e.g. `status` while `generate` runs. A file that failed to open
        # must still be closed.
        with contextlib.suppress(sqlite3.DatabaseError):
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.db.close()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- meta and rubric -----------------------------------------------------

    def _table(self, name: str) -> Table:
        table = self.db[name]
        assert isinstance(table, Table)
        return table

    def _meta_value(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    @property
    def meta(self) -> ProjectMeta:
        values = dict(self.db.execute("select key, value from meta").fetchall())
        return ProjectMeta.model_validate(values)

    @property
    def loaded_rubric(self) -> LoadedRubric:
        if self._rubric is None:
            meta = self.meta
            self._rubric = parse_rubric(meta.rubric_text, f"{self.path} (stored rubric)")
        return self._rubric

    @property
    def rubric(self) -> Rubric:
        return self.loaded_rubric.rubric

    # -- prompts ---------------------------------------------------------------

    def prompt_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("select id from prompts")}

    def add_prompts(
        self, prompts: Sequence[Prompt], record: ImportRecord | None = None
    ) -> tuple[int, int]:
        """Insert new prompts in one transaction; returns (added, skipped as duplicates).

        `record` is logged in `imports` when anything was added, so a repeated import
        changes nothing at all.
        """
        if not prompts:
            return 0, 0
        _check_storable((p.text, *(m.content for m in p.messages or ())) for p in prompts)
        with self.writing():
            existing = self.prompt_ids()
            fresh: dict[str, Prompt] = {}
            for prompt in prompts:
                if prompt.id not in existing and prompt.id not in fresh:
                    fresh[prompt.id] = prompt
            created = now()
            rows = [
                {
                    "id": p.id,
                    "text": p.text,
                    "messages": _messages_json(p.messages),
                    "source": p.source,
                    "tags": json.dumps(list(p.tags), ensure_ascii=False),
                    "created_at": created,
                }
                for p in fresh.values()
            ]
            added, skipped = len(rows), len(prompts) - len(rows)
            self._table("prompts").insert_all(rows)
            if record is not None and added:
                self.log_import(
                    record.model_copy(update={"added": added, "skipped_duplicates": skipped})
                )
        return added, skipped

    def prompts(self) -> Iterator[Prompt]:
        """Every prompt, in import order."""
        return self._prompts()

    def _prompts(self, where: str = "", params: Sequence[object] = ()) -> Iterator[Prompt]:
        query = f"select id, text, messages, source, tags from prompts {where} order by rowid"
        for pid, text, messages, source, tags in self.db.execute(query, list(params)):
            yield Prompt(
                id=pid,
                text=text,
                messages=_messages_from_json(messages),
                source=source,
                tags=tuple(stored_json(tags, "a prompt's tags")),
            )

    def near_duplicate_prompts(self) -> list[tuple[str, str, float]]:
        """Pairs of near-duplicate prompts (first id, second id, similarity), in import order
        of the first then the second. Computed (`core.dedup`) for the current prompts when
        they changed since the last time, and kept in the file (unless it is open read-only):
        import and merge call this after adding prompts, so a report reads what is kept."""
        ids = [row[0] for row in self.db.execute("select id from prompts order by rowid")]
        kept = "select first_id, second_id, similarity from near_duplicate_prompts order by rowid"
        if self._meta_value("near_duplicates_of") == _fingerprint(ids):
            return [tuple(row) for row in self.db.execute(kept)]
        # stale: the texts are read only now (a report on an unchanged project needs the ids)
        rows = self.db.execute("select id, text from prompts order by rowid").fetchall()
        fingerprint = _fingerprint([pid for pid, _ in rows])
        found = [
            (rows[pair.first][0], rows[pair.second][0], pair.score)
            for pair in near_duplicate_pairs([text for _, text in rows])
        ]
        if self.read_only:  # computed for this reader, kept by the next writer
            return found
        with self.writing():
            self.db.execute("delete from near_duplicate_prompts")
            self.db.conn.executemany(
                "insert into near_duplicate_prompts (first_id, second_id, similarity) "
                "values (?, ?, ?)",
                found,
            )
            self._table("meta").upsert(
                {"key": "near_duplicates_of", "value": fingerprint}, pk="key"
            )
        return found

    def prompt(self, prompt_id: str) -> Prompt | None:
        return next(self._prompts("where id = ?", [prompt_id]), None)

    def prompts_with_fewer_candidates(self, count: int) -> list[tuple[Prompt, int]]:
        """Prompts holding fewer than `count` candidates, in import order, with how many."""
        held = dict(
            self.db.execute("select prompt_id, count(*) from candidates group by prompt_id")
        )
        return [(p, held.get(p.id, 0)) for p in self.prompts() if held.get(p.id, 0) < count]

    # -- candidates ------------------------------------------------------------

    def add_candidates(
        self, candidates: Sequence[Candidate], record: ImportRecord | None = None
    ) -> CandidatesAdded:
        """Insert candidates in one transaction, skipping those already stored.

        Each new candidate nearly identical to an earlier one of its prompt is flagged
        (`near_duplicate_of`, `similarity`): such a pair carries no preference signal.
        `record` is logged in `imports` when anything was added.
        """
        _check_storable((c.text,) for c in candidates)
        with self.writing():  # what is stored is read under the write lock
            stored = {
                row[0]
                for row in self.db.execute(
                    "select id from candidates where id in (select value from json_each(?))",
                    [json.dumps([c.id for c in candidates])],
                )
            }
            by_prompt: dict[str, list[Candidate]] = {}
            for candidate in candidates:
                if candidate.id not in stored:  # prompts with nothing new cost nothing more
                    by_prompt.setdefault(candidate.prompt_id, []).append(candidate)
            rows: dict[str, dict[str, object]] = {}
            created = now()
            for pid, fresh in by_prompt.items():
                earlier = self.candidates(pid)
                known = {c.id for c in earlier}
                new = [c for c in dict((c.id, c) for c in fresh).values() if c.id not in known]
                pool = earlier + new
                flagged = closest_earlier([c.text for c in pool])
                for index, candidate in enumerate(new, start=len(earlier)):
                    match = flagged.get(index)
                    rows[candidate.id] = {
                        **candidate.model_dump(),
                        "params": json.dumps(candidate.params),
                        "near_duplicate_of": pool[match[0]].id if match else None,
                        "similarity": round(match[1], 4) if match else None,
                        "created_at": created,
                    }
            added = len(rows)
            self._table("candidates").insert_all(rows.values())
            if record is not None and added:
                self.log_import(
                    record.model_copy(
                        update={"added": added, "skipped_duplicates": len(candidates) - added}
                    )
                )
        flagged = sum(1 for row in rows.values() if row["near_duplicate_of"])
        return CandidatesAdded(added, len(candidates) - added, flagged)

    def candidates(self, prompt_id: str) -> list[Candidate]:
        """The candidates of one prompt, in the order they were added."""
        return [
            _candidate(row)
            for row in self.db.execute(
                f"{_CANDIDATES} where prompt_id = ? order by rowid", [prompt_id]
            )
        ]

    def candidates_by_prompt(self) -> dict[str, list[Candidate]]:
        """Every candidate, grouped by prompt, each prompt's in the order they were added;
        one query (for the report and pair extraction over a whole project)."""
        grouped: dict[str, list[Candidate]] = {}
        for row in self.db.execute(f"{_CANDIDATES} order by rowid"):
            candidate = _candidate(row)
            grouped.setdefault(candidate.prompt_id, []).append(candidate)
        return grouped

    def candidate_ids_by_prompt(self) -> dict[str, list[str]]:
        """prompt id -> its candidates' ids in the order they were added, for every prompt
        with candidates; one query."""
        grouped: dict[str, list[str]] = {}
        for cid, pid in self.db.execute("select id, prompt_id from candidates order by rowid"):
            grouped.setdefault(pid, []).append(cid)
        return grouped

    def candidate_facts(self) -> list[tuple[str, str, int, str, str | None, float | None]]:
        """(id, prompt id, length in characters, preset, near duplicate of, similarity) of
        every candidate in the order they were added, texts left in the file."""
        rows = self.db.execute(
            # SQLite's length() stops at a NUL character: those few texts are measured here
            "select id, prompt_id, case when instr(text, char(0)) = 0 then length(text) end, "
            "coalesce(preset, ''), near_duplicate_of, similarity from candidates order by rowid"
        ).fetchall()
        for index, row in enumerate(rows):
            if row[2] is None:
                text = self.db.execute("select text from candidates where id = ?", [row[0]])
                rows[index] = (row[0], row[1], len(text.fetchone()[0]), *row[3:])
        return rows

    def replace_candidate(self, old_id: str, new: Candidate, annotator: str) -> None:
        """Put `new` in place of candidate `old_id` (same prompt), in one transaction: the
        annotator's own scores of the old one are dropped and its place in their display
        order goes to the new one. Refused if another annotator scored the old one."""
        others = self.db.execute(
            "select distinct annotator from scores where candidate_id = ? and annotator != ?",
            [old_id, annotator],
        ).fetchall()
        if others:
            raise ProjectError(
                f"{self.path}: {others[0][0]} has scored this candidate; it is kept",
                hint="regenerate only candidates nobody else has scored",
            )
        with self.writing():
            self.db.execute(
                "delete from scores where candidate_id = ? and annotator = ?", [old_id, annotator]
            )
            self.db.execute("delete from candidates where id = ?", [old_id])
            self.add_candidates([new])
            judgement = self.judgement(new.prompt_id, annotator)
            if judgement is not None and old_id in judgement.display_order:
                order = tuple(new.id if cid == old_id else cid for cid in judgement.display_order)
                self.save_judgement(judgement.model_copy(update={"display_order": order}))

    def delete_candidates(self, prompt_ids: Sequence[str]) -> int:
        """Remove the candidates of these prompts; refuses (changing nothing) if any is scored."""
        ids = json.dumps(list(prompt_ids))
        scored = self.db.execute(
            "select distinct c.prompt_id from candidates c join scores s on s.candidate_id = c.id "
            "where c.prompt_id in (select value from json_each(?))",
            [ids],
        ).fetchall()
        if scored:
            raise ProjectError(
                f"{self.path}: {len(scored)} of these prompts already have scores "
                f"(first: {scored[0][0]}); their candidates are kept"
            )
        with self.writing():
            cursor = self.db.execute(
                "delete from candidates where prompt_id in (select value from json_each(?))", [ids]
            )
        return cursor.rowcount

    # -- scores and judgements ---------------------------------------------------

    def set_score(
        self, candidate_id: str, annotator: str, criterion: str, value: int | None
    ) -> None:
        """Set (or with None, clear) one score, committed at once."""
        self.set_scores(candidate_id, annotator, {criterion: value})

    def set_scores(
        self, candidate_id: str, annotator: str, values: Mapping[str, int | None]
    ) -> dict[str, int]:
        """Set (None: clear) criteria of an annotator's score card of a candidate in one
        write, committed at once; returns the card as it was."""
        scales = {c.key: c.scale for c in self.rubric.criteria}
        for criterion, value in values.items():
            scale = scales.get(criterion)
            if scale is None:
                raise ProjectError(f"{self.path}: the rubric has no criterion {criterion!r}")
            if value is not None and (
                type(value) is not int or not scale.min <= value <= scale.max
            ):
                raise ProjectError(
                    f"{criterion}: {value} is outside the scale {scale.min}..{scale.max}"
                )
        with self.writing():
            row = self.db.execute(
                "select criteria from scores where candidate_id = ? and annotator = ?",
                [candidate_id, annotator],
            ).fetchone()
            before: dict[str, int] = {} if row is None else stored_json(row[0], "a score card")
            card = {**before, **values}
            kept = {key: value for key, value in card.items() if value is not None}
            if not kept:
                self.db.execute(
                    "delete from scores where candidate_id = ? and annotator = ?",
                    [candidate_id, annotator],
                )
            else:
                self.db.execute(
                    "insert into scores (candidate_id, annotator, criteria, updated_at) "
                    "values (?, ?, ?, ?) on conflict (candidate_id, annotator) "
                    "do update set criteria = excluded.criteria, updated_at = excluded.updated_at",
                    [candidate_id, annotator, card_json(kept), now()],
                )
        return before

    def scores(self, prompt_id: str, annotator: str) -> dict[str, dict[str, int]]:
        """candidate id -> criterion -> value, for one prompt and annotator."""
        query = (
            "select s.candidate_id, s.criteria from scores s "
            "join candidates c on c.id = s.candidate_id where c.prompt_id = ? and s.annotator = ?"
        )
        return {
            cid: stored_json(criteria, "a score card")
            for cid, criteria in self.db.execute(query, [prompt_id, annotator])
        }

    def score_count(self) -> int:
        """How many scores (criterion values) the project holds, over every card."""
        query = "select coalesce(sum((select count(*) from json_each(criteria))), 0) from scores"
        return int(self.db.execute(query).fetchone()[0])

    def judgement(self, prompt_id: str, annotator: str) -> Judgement | None:
        row = self.db.execute(
            f"{_JUDGEMENTS} where prompt_id = ? and annotator = ?", [prompt_id, annotator]
        ).fetchone()
        return None if row is None else _judgement(row)

    def scores_by_item(self) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
        """(prompt id, annotator) -> candidate id -> criterion -> value, for every score;
        one pass over the scores table. Equal cards are one shared dict: do not change them."""
        prompt_of = dict(self.db.execute("select id, prompt_id from candidates"))
        card = CardReader()
        found: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        query = "select candidate_id, annotator, criteria from scores"
        for cid, annotator, criteria in self.db.execute(query):
            found.setdefault((prompt_of[cid], annotator), {})[cid] = card(criteria)
        return found

    def judgements_by_item(self) -> dict[tuple[str, str], Judgement]:
        """(prompt id, annotator) -> judgement, for every judgement; one query."""
        return {
            (judgement.prompt_id, judgement.annotator): judgement
            for judgement in map(_judgement, self.db.execute(_JUDGEMENTS))
        }

    def save_judgement(self, judgement: Judgement) -> Judgement:
        """Write a judgement whole, committed at once; returns it with its new `updated_at`.
        A diagnosis with a NUL character or over `MAX_DIAGNOSIS_CHARS` is refused."""
        problem = diagnosis_problem(judgement.diagnosis)
        if problem:
            raise ProjectError(f"not stored: {problem}")
        saved = judgement.model_copy(update={"updated_at": now()})
        self._table("judgements").upsert(
            {
                **saved.model_dump(),
                "flags": json.dumps(list(saved.flags)),
                "display_order": json.dumps(list(saved.display_order)),
            },
            pk=("prompt_id", "annotator"),
        )
        return saved

    def annotation_state(self, annotator: str) -> dict[str, tuple[int, int, bool, bool]]:
        """prompt id -> (candidates, fully scored candidates, has diagnosis, flagged), for
        every prompt, computed in one query (progress, filters, next unfinished)."""
        criteria = len(self.rubric.criteria)
        # Counts come from the prompt_id index and from scores alone: grouping candidates by
        # id would read every candidate row (measured 2-4 s on 100,000 prompts, 0.6 s this way).
        # `cross join` walks the annotator's cards, not every candidate: on a merged project of
        # 320,000 candidates, 0.22 s against 1.2 s.
        query = """
            with held as (
                select prompt_id, count(*) as held from candidates group by prompt_id
            ), complete as (
                select c.prompt_id, count(*) as complete
                from scores s cross join candidates c on c.id = s.candidate_id
                where s.annotator = :annotator
                and (select count(*) from json_each(s.criteria)) >= :criteria
                group by c.prompt_id
            )
            select p.id, coalesce(h.held, 0), coalesce(k.complete, 0),
                   coalesce(length(trim(j.diagnosis)) > 0, 0),
                   coalesce(j.flags not in ('[]', ''), 0)
            from prompts p
            left join held h on h.prompt_id = p.id
            left join complete k on k.prompt_id = p.id
            left join judgements j on j.prompt_id = p.id and j.annotator = :annotator
            order by p.rowid
        """
        rows = self.db.execute(query, {"annotator": annotator, "criteria": criteria})
        return {
            pid: (total, scored, bool(diagnosed), bool(flagged))
            for pid, total, scored, diagnosed, flagged in rows
        }

    def record_round(self, entry: ExportRound) -> ExportRound:
        """Log an export as the next round; returns it with its number."""
        with self.writing():
            last = self.db.execute("select coalesce(max(number), 0) from rounds").fetchone()[0]
            entry = entry.model_copy(update={"number": last + 1})
            row = entry.model_dump()
            row["files"] = json.dumps(entry.files)
            row["pair_keys"] = json.dumps(entry.pair_keys)
            self._table("rounds").insert(row)
        return entry

    def rounds(self) -> list[ExportRound]:
        result = []
        for row in self._table("rounds").rows_where(order_by="number"):
            row["files"] = stored_json(row["files"], "a round's files")
            row["pair_keys"] = [tuple(k) for k in stored_json(row["pair_keys"], "a round's pairs")]
            result.append(ExportRound.model_validate(row))
        return result

    def save_resolution(self, resolution: Resolution) -> Resolution:
        """Record (or replace) the adjudication of a prompt, committed at once."""
        saved = resolution.model_copy(update={"updated_at": now()})
        self._table("resolutions").upsert(saved.model_dump(), pk="prompt_id")
        return saved

    def resolutions(self) -> dict[str, Resolution]:
        return {
            row["prompt_id"]: Resolution.model_validate({**row, "note": row["note"] or ""})
            for row in self._table("resolutions").rows
        }

    def log_import(self, record: ImportRecord) -> None:
        """Add an entry to the log of imports and merges."""
        self._table("imports").insert(record.model_dump())

    def has_candidates(self) -> bool:
        return bool(self.db.execute("select exists(select 1 from candidates)").fetchone()[0])

    def imports(self) -> list[ImportRecord]:
        rows = self._table("imports").rows_where(order_by="id")
        return [ImportRecord.model_validate(row) for row in rows]

    # -- status ----------------------------------------------------------------

    def status(self) -> ProjectStatus:
        meta = self.meta

        def count(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0])

        return ProjectStatus(
            path=str(self.path),
            project_id=meta.project_id,
            annotator=meta.annotator,
            rubric_name=self.rubric.name,
            rubric_sha256=meta.rubric_sha256,
            schema_version=meta.schema_version,
            prompts=count("select count(*) from prompts"),
            conversational_prompts=count("select count(*) from prompts where messages is not null"),
            prompts_with_candidates=count("select count(distinct prompt_id) from candidates"),
            candidates=count("select count(*) from candidates"),
            near_duplicate_candidates=count(
                "select count(*) from candidates where near_duplicate_of is not null"
            ),
            judged_prompts=count("select count(*) from judgements"),
            scores=self.score_count(),
            imports=self.imports(),
        )


def _fingerprint(prompt_ids: Iterable[str]) -> str:
    """What near-duplicate pairs kept in a file were computed for: the threshold and the
    prompts, in order."""
    digest = hashlib.sha256(f"{NEAR_DUPLICATE}".encode())
    for pid in prompt_ids:
        digest.update(pid.encode())
    return digest.hexdigest()


_CANDIDATES = (
    "select id, prompt_id, text, origin, model, preset, params, token_count, gen_seconds, "
    "near_duplicate_of, similarity from candidates"
)
_JUDGEMENTS = (
    "select prompt_id, annotator, diagnosis, flags, display_order, seconds_spent, updated_at "
    "from judgements"
)


_CANDIDATE_FIELDS = tuple(Candidate.model_fields)  # computed on each access to the class


def _candidate(row: Sequence[Any]) -> Candidate:
    values = dict(zip(_CANDIDATE_FIELDS, row, strict=True))
    values["params"] = stored_json(values["params"] or "{}", "a candidate's parameters")
    values["model"] = values["model"] or ""
    values["preset"] = values["preset"] or ""
    return Candidate.model_validate(values)


def _judgement(row: Sequence[Any]) -> Judgement:
    prompt_id, annotator, diagnosis, flags, order, seconds, updated = row
    return Judgement(
        prompt_id=prompt_id,
        annotator=annotator,
        diagnosis=diagnosis or "",
        flags=tuple(stored_json(flags or "[]", "a judgement's flags")),
        display_order=tuple(stored_json(order or "[]", "a judgement's display order")),
        seconds_spent=seconds or 0.0,
        updated_at=updated,
    )


BUSY_TIMEOUT_MS = 60_000
"""How long a write waits for another process's write lock (a merge or a large import can
hold it for seconds) before it gives up with "database is locked"."""


def _connect(path: Path, *, read_only: bool = False) -> Database:
    """A connection in autocommit mode (transactions are explicit: `writing`), waiting for
    locks up to BUSY_TIMEOUT_MS; WAL mode, unless read-only."""
    try:
        conn = _read_only(path) if read_only else sqlite3.connect(str(path), isolation_level=None)
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot be opened ({exc})") from None
    db = Database(conn)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            db.enable_wal()
    except sqlite3.DatabaseError as exc:
        db.close()
        if "readonly" in str(exc) or "unable to open" in str(exc):
            raise ProjectError(
                f"{path}: cannot be written ({exc})",
                hint="make the file and its folder writable; commands that only read "
                "(status, report, rounds, export-annotations) work on it as it is",
            ) from None
        raise ProjectError(f"{path}: cannot be opened as a project file ({exc})") from None
    return db


def _check_storable(texts: Iterable[Iterable[str]]) -> None:
    """The store's own check that no text written holds what `safe_text.storable` refuses
    (importers check first, naming the file and line: this catches every other path)."""
    for group in texts:
        for text in group:
            problem = storable(text)
            if problem:
                raise ProjectError(f"not stored: a text {problem}: {visible(text[:60])!r}")


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. A WAL-mode file needs its `-shm` index, which SQLite cannot
    create in a read-only folder; when no `-wal` file exists (every change is in the file
    itself, as dpo-tui leaves it on closing), the file is opened as immutable instead."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.path.lexists(f"{path}-wal"):
            raise
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return conn


def _messages_json(messages: Iterable[Message] | None) -> str | None:
    if messages is None:
        return None
    return json.dumps([m.model_dump() for m in messages], ensure_ascii=False)


def _messages_from_json(raw: str | None) -> tuple[Message, ...] | None:
    if raw is None:
        return None
    return tuple(Message.model_validate(m) for m in stored_json(raw, "a conversation"))
