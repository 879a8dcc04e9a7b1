"""Evaluation results in a project file: `eval_runs` (one row per model evaluated) and
`eval_logprobs` (each response's log-probability under a model, reused by later runs)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import now
from dpo_tui.store.values import stored_json


class EvalRun(BaseModel):
    """One evaluation of a model on a split of a round's pairs, as stored."""

    id: int | None = None
    created_at: str
    model_name: str
    model_sha256: str
    reference_name: str | None = None
    reference_sha256: str | None = None
    round_number: int | None
    split: str
    pairs: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_accuracy: float
    mean_margin: float
    reward_accuracy: float | None = None
    reward_ci_low: float | None = None
    reward_ci_high: float | None = None
    details: dict[str, Any]


def record_eval(store: ProjectStore, run: EvalRun) -> EvalRun:
    """Store an evaluation; returns it with its id."""
    row = run.model_dump(exclude={"id"})
    row["details"] = json.dumps(run.details)
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = store.db.execute(
        f"insert into eval_runs ({columns}) values ({marks})", list(row.values())
    )
    return run.model_copy(update={"id": cursor.lastrowid})


def eval_runs(store: ProjectStore) -> list[EvalRun]:
    """Every stored evaluation, oldest first."""
    cursor = store.db.execute("select * from eval_runs order by id")
    names = [column[0] for column in cursor.description]
    runs = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        row["details"] = stored_json(row["details"], "an evaluation's details")
        runs.append(EvalRun.model_validate(row))
    return runs


def cached_logprobs(
    store: ProjectStore, model_sha256: str, template_sha256: str
) -> dict[str, tuple[int, float]]:
    """candidate id -> (tokens, summed log-probability) already computed with this model and
    template."""
    rows = store.db.execute(
        "select candidate_id, tokens, logprob from eval_logprobs "
        "where model_sha256 = ? and template_sha256 = ?",
        [model_sha256, template_sha256],
    )
    return {candidate: (tokens, logprob) for candidate, tokens, logprob in rows}


def save_logprobs(
    store: ProjectStore,
    model_sha256: str,
    template_sha256: str,
    rows: Iterable[tuple[str, str, int, float]],
) -> None:
    """Store (prompt id, candidate id, tokens, summed log-probability) rows, in one commit."""
    created = now()
    with store.writing():
        store.db.conn.executemany(
            "insert or replace into eval_logprobs (model_sha256, prompt_id, candidate_id, "
            "template_sha256, tokens, logprob, created_at) values (?, ?, ?, ?, ?, ?, ?)",
            [
                (model_sha256, prompt, candidate, template_sha256, tokens, logprob, created)
                for prompt, candidate, tokens, logprob in rows
            ],
        )
