"""The prompts table, and the near-duplicate prompt pairs kept beside it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence

from dpo_tui.core.dedup import NEAR_DUPLICATE, near_duplicate_pairs
from dpo_tui.core.models import Message, Prompt
from dpo_tui.store.base import StoreBase, _check_storable
from dpo_tui.store.records import (
    ImportRecord,
    now,
)
from dpo_tui.store.values import stored_json


class PromptRows(StoreBase):
    """Prompts: added, read, and their near-duplicates."""

    def prompt_ids_in_order(self) -> list[str]:
        """Every prompt id, in import order."""
        return [row[0] for row in self.db.execute("select id from prompts order by rowid")]

    def prompt_texts(self) -> dict[str, str]:
        """prompt id -> its text."""
        return dict(self.db.execute("select id, text from prompts").fetchall())

    def prompt_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("select id from prompts")}

    def add_prompts(
        self, prompts: Sequence[Prompt], record: ImportRecord | None = None, repeated: int = 0
    ) -> tuple[int, int]:
        """Insert new prompts in one transaction; returns (added, skipped as duplicates),
        counting `repeated` more duplicates its caller already left out.

        `record` is logged in `imports` when anything was added, so a repeated import
        changes nothing at all.
        """
        if not prompts:
            return 0, repeated
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
            added, skipped = len(rows), len(prompts) - len(rows) + repeated
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


def _fingerprint(prompt_ids: Iterable[str]) -> str:
    """What near-duplicate pairs kept in a file were computed for: the threshold and the
    prompts, in order."""
    digest = hashlib.sha256(f"{NEAR_DUPLICATE}".encode())
    for pid in prompt_ids:
        digest.update(pid.encode())
    return digest.hexdigest()


def _messages_json(messages: Iterable[Message] | None) -> str | None:
    if messages is None:
        return None
    return json.dumps([m.model_dump() for m in messages], ensure_ascii=False)


def _messages_from_json(raw: str | None) -> tuple[Message, ...] | None:
    if raw is None:
        return None
    return tuple(Message.model_validate(m) for m in stored_json(raw, "a conversation"))
