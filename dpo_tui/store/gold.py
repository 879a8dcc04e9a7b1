"""Gold items: the lead's reference for an item (the expected pair, optional reference scores,
an explanation). Added, never replaced."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from dpo_tui.core.annotator_cards import GoldReference
from dpo_tui.core.practice import PracticeFeedback
from dpo_tui.errors import ProjectError
from dpo_tui.store.records import now
from dpo_tui.store.rubrics import RubricRows
from dpo_tui.store.values import stored_json


class PracticeRow(NamedTuple):
    """One practice item as recorded (the latest of an annotator's tries on it)."""

    prompt_id: str
    same_chosen: bool | None
    same_direction: bool | None
    distances: dict[str, int]


class GoldRows(RubricRows):
    """Gold items, written and read."""

    def add_gold(self, items: Sequence[GoldReference], author: str) -> int:
        """Add gold items in one transaction, all or none: an item already gold is refused
        (gold is never replaced). Returns how many were added."""
        with self.writing():
            self.check_rubric_version()
            held = {row[0] for row in self.db.execute("select prompt_id from gold")}
            twice = [item.prompt_id for item in items if item.prompt_id in held]
            if twice:
                raise ProjectError(
                    f"{self.path}: prompt {twice[0]} is gold already; gold items are never "
                    "replaced",
                    hint="leave it out of the file",
                )
            created = now()
            self._table("gold").insert_all(
                {
                    "prompt_id": item.prompt_id,
                    "chosen_id": item.chosen_id,
                    "rejected_id": item.rejected_id,
                    "scores": json.dumps(
                        {cid: dict(values) for cid, values in item.scores.items()},
                        sort_keys=True,
                    ),
                    "explanation": item.explanation,
                    "author": author,
                    "rubric_version": self.rubric_version,
                    "created_at": created,
                }
                for item in items
            )
        return len(items)

    def gold(self) -> dict[str, GoldReference]:
        """prompt id -> its gold reference."""
        rows = self.db.execute(
            "select prompt_id, chosen_id, rejected_id, scores, explanation from gold order by rowid"
        )
        return {
            pid: GoldReference(
                prompt_id=pid,
                chosen_id=chosen,
                rejected_id=rejected,
                scores=stored_json(scores, "a gold item's scores"),
                explanation=explanation,
            )
            for pid, chosen, rejected, scores, explanation in rows
        }

    def record_practice(self, annotator: str, feedback: PracticeFeedback) -> None:
        """Add a practice item's result (earlier tries are kept)."""
        with self.writing():
            self._table("practice_results").insert(
                {
                    "annotator": annotator,
                    "prompt_id": feedback.prompt_id,
                    "same_chosen": feedback.same_chosen,
                    "same_direction": feedback.same_direction,
                    "distances": json.dumps(feedback.distances, sort_keys=True),
                    "created_at": now(),
                }
            )

    def practice_results(self, annotator: str) -> list[PracticeRow]:
        """The latest result of each item the annotator finished in practice."""
        latest: dict[str, PracticeRow] = {}
        rows = self.db.execute(
            "select prompt_id, same_chosen, same_direction, distances from practice_results "
            "where annotator = ? order by id",
            [annotator],
        )
        for pid, chosen, ordered, distances in rows:
            latest[pid] = PracticeRow(
                pid,
                None if chosen is None else bool(chosen),
                None if ordered is None else bool(ordered),
                stored_json(distances, "a practice result"),
            )
        return list(latest.values())
