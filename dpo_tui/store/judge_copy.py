"""A judge model's rows copied from a project into an annotator's file made from it (`assign
--with-judge`): its score cards and judgements of the file's prompts, and every sample and
verdict behind them, as the project holds them. Without it an annotator's file holds none."""

from __future__ import annotations

import json
from collections.abc import Collection

from dpo_tui.core.judging import JUDGE_PREFIX
from dpo_tui.store.base import StoreBase
from dpo_tui.store.bulk import insert_rows

_IN_PROMPTS = "prompt_id in (select value from json_each(:prompts))"
_OF_CANDIDATES = (
    "candidate_id in (select id from candidates where prompt_id in "
    "(select value from json_each(:prompts)))"
)
_BY_JUDGE = "substr(annotator, 1, length(:prefix)) = :prefix"

COPIED: tuple[tuple[str, str, str], ...] = (
    (
        "scores",
        "candidate_id, annotator, criteria, updated_at, rubric_version",
        f"{_OF_CANDIDATES} and {_BY_JUDGE}",
    ),
    (
        "judgements",
        "prompt_id, annotator, diagnosis, flags, display_order, seconds_spent, updated_at, "
        "rubric_version, item_order, suggested",
        f"{_IN_PROMPTS} and {_BY_JUDGE}",
    ),
    (
        "judge_samples",
        "judge, candidate_id, sample, attempt, rubric_version, criteria, reasons, reply, error, "
        "params, model, origin, seconds, created_at",
        _OF_CANDIDATES,
    ),
    (
        "judge_verdicts",
        "judge, prompt_id, first_id, second_id, winner_id, rubric_version, reply, error, "
        "created_at",
        _IN_PROMPTS,
    ),
)
"""(table, the columns copied, which rows) for each table of a judge's rows."""


def copy_judge_rows(source: StoreBase, target: StoreBase, prompt_ids: Collection[str]) -> int:
    """Copy every judge's rows about `prompt_ids` from `source` into `target` (made from it
    with the same rubric versions, holding these prompts and their candidates), in one
    transaction, in the source's order; returns how many rows were copied."""
    parameters = {"prompts": json.dumps(sorted(prompt_ids)), "prefix": JUDGE_PREFIX}
    copied = 0
    with target.writing():
        for table, names, where in COPIED:
            rows = source.db.execute(
                f"select {names} from {table} where {where} order by rowid", parameters
            ).fetchall()
            insert_rows(target.db.conn, f"insert into {table} ({names})", rows)
            copied += len(rows)
    return copied
