"""ProjectStore: one SQLite project file, read and written through sqlite-utils; each group
of tables has its own module (prompts, candidates, annotations), this one creates, opens and
migrates the file and holds its rounds, resolutions and imports."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

from dpo_tui import __version__
from dpo_tui.core.models import Candidate, Resolution
from dpo_tui.core.rubric import LoadedRubric
from dpo_tui.core.safe_text import name_problem
from dpo_tui.errors import ProjectError, SchemaTooNewError
from dpo_tui.store import connection
from dpo_tui.store.base import StoreBase
from dpo_tui.store.candidates import CandidateRows
from dpo_tui.store.gold import GoldRows
from dpo_tui.store.judge import JudgeRows
from dpo_tui.store.migrations import (
    KNOWN,
    SCHEMA_VERSION,
    applied_names,
    migrations,
    version_number,
)
from dpo_tui.store.prompts import PromptRows
from dpo_tui.store.records import (
    ExportRound,
    ImportRecord,
    ProjectStatus,
    RubricVersion,
    now,
)
from dpo_tui.store.values import stored_json


class ProjectStore(PromptRows, CandidateRows, JudgeRows, GoldRows, StoreBase):
    """A project file. Use `create` or `open`, then as a context manager or `close()`."""

    # -- opening -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        rubric: LoadedRubric,
        annotator: str,
        *,
        assignment_id: str | None = None,
        history: list[RubricVersion] | None = None,
    ) -> ProjectStore:
        """Create a new project file (for an assignment's annotator with `assignment_id`,
        with the rubric versions of the project it comes from as `history`, the last one
        being `rubric`); refuses to overwrite anything."""
        if history and history[-1].sha256 != rubric.sha256:
            raise ValueError("the last version of a rubric history must be the rubric")
        annotator = annotator.strip()
        if not annotator:
            raise ProjectError("the annotator name must not be empty")
        if problem := name_problem(annotator):
            raise ProjectError(problem)
        if os.path.lexists(path):  # a dangling symlink too: never create a file through one
            raise ProjectError(
                f"{path}: already exists", hint="choose another name, or open it with `status`"
            )
        if not path.parent.is_dir():
            raise ProjectError(f"{path.parent}: no such folder")
        try:  # created here, exclusively: the file unlinked on failure is this one
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o666))
        except FileExistsError:
            raise ProjectError(f"{path}: already exists") from None
        try:
            store = cls(path, connection.connect(path))
        except BaseException:
            _remove_created(path)
            raise
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
                    + ([{"key": "assignment_id", "value": assignment_id}] if assignment_id else [])
                )
                for entry in history or [_first_version(rubric, annotator)]:
                    store._insert_version(entry)
        except BaseException:
            store.close()
            _remove_created(path)
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
            if handle.read(16) != connection.SQLITE_MAGIC:
                raise ProjectError(f"{path}: not a dpo-tui project file (not an SQLite database)")
        db = connection.connect(path, read_only=read_only, wal=False)
        store = cls(path, db, read_only=read_only)
        try:
            behind = store._check_schema()
            if not read_only:
                connection.use_wal(db, path)
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
            if "unable to open" in str(exc):  # a WAL file in a folder it cannot write to
                raise connection.open_error(self.path, exc) from None
            raise ProjectError(f"{self.path}: cannot be read ({exc})") from None
        unknown = [name for name in applied if name not in KNOWN]
        stored = version_number(raw)
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

    def copy_whole(self, path: Path) -> None:
        """Write a self-contained copy of the project to the new file `path`: the WAL
        checkpointed, copied with VACUUM INTO, journal mode DELETE (one file), integrity-
        checked (ProjectError if the copy fails the check)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("VACUUM INTO ?", [str(path)])
        if not connection.seal_copy(path):
            raise ProjectError(f"{path}: the copy failed its integrity check")

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
            rubric_version=self.rubric_version,
            schema_version=meta.schema_version,
            prompts=count("select count(*) from prompts"),
            conversational_prompts=count("select count(*) from prompts where messages is not null"),
            prompts_with_candidates=count("select count(distinct prompt_id) from candidates"),
            candidates=count("select count(*) from candidates"),
            near_duplicate_candidates=count(
                "select count(*) from candidates where near_duplicate_of is not null"
            ),
            judged_prompts=self.judgement_count(),
            scores=self.score_count(),
            judge_scores=self.score_count(judges=True),
            imports=self.imports(),
        )


def _first_version(rubric: LoadedRubric, annotator: str) -> RubricVersion:
    return RubricVersion(
        number=1,
        text=rubric.text,
        sha256=rubric.sha256,
        created_at=now(),
        author=annotator,
        note="",
        mapping={},
        rescale="stale",
    )


def _remove_created(path: Path) -> None:
    """Remove a project file this process created and failed to finish, and the files SQLite
    made beside it."""
    for created in connection.project_files(path):
        created.unlink(missing_ok=True)
