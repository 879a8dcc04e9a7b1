"""The candidates table: candidates added (near-duplicates of a prompt flagged), read, replaced."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dpo_tui.core.dedup import closest_earlier
from dpo_tui.core.models import Candidate
from dpo_tui.errors import ProjectError
from dpo_tui.store.base import StoreBase, _check_storable
from dpo_tui.store.records import (
    CandidatesAdded,
    ImportRecord,
    now,
)
from dpo_tui.store.values import stored_json


class CandidateRows(StoreBase):
    """Candidates: added, read, replaced, deleted."""

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
        near = sum(1 for row in rows.values() if row["near_duplicate_of"])
        return CandidatesAdded(added, len(candidates) - added, near)

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

    def candidate_lengths(self) -> dict[str, int]:
        """candidate id -> its length in characters (a text holding a NUL character, which
        dpo-tui refuses to store but an old file may hold, counts up to it)."""
        return dict(self.db.execute("select id, length(text) from candidates"))

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

    def candidate_prompt_ids(self) -> dict[str, str]:
        """candidate id -> the id of its prompt."""
        return dict(self.db.execute("select id, prompt_id from candidates").fetchall())


_CANDIDATES = (
    "select id, prompt_id, text, origin, model, preset, params, token_count, gen_seconds, "
    "near_duplicate_of, similarity from candidates"
)


_CANDIDATE_FIELDS = tuple(Candidate.model_fields)  # computed on each access to the class


def _candidate(row: Sequence[Any]) -> Candidate:
    values = dict(zip(_CANDIDATE_FIELDS, row, strict=True))
    values["params"] = stored_json(values["params"] or "{}", "a candidate's parameters")
    values["model"] = values["model"] or ""
    values["preset"] = values["preset"] or ""
    return Candidate.model_validate(values)
