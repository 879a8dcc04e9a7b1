"""Training runs in a project file (`training_runs`): one row per run of `dpo-tui train`,
created when training starts and completed (status, timings, metrics, decision) later; no
run overwrites another."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from dpo_tui.store.project import ProjectStore
from dpo_tui.store.values import stored_json

JSON_COLUMNS = ("settings", "versions", "metrics", "decision", "details")


class TrainingRun(BaseModel):
    """One training run, as stored."""

    id: int | None = None
    round_number: int
    rubric_version: int | None = None
    base_model: str
    base_sha256: str
    data_sha256: str
    pairs: int
    settings: dict[str, Any]
    versions: dict[str, str]
    seed: int
    device: str
    out_dir: str
    status: str
    """running, interrupted, failed, finished, or stopped (found running with no process
    training: killed or crashed)."""
    started_at: str
    finished_at: str | None = None
    seconds: float | None = None
    metrics: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    details: dict[str, Any] | None = None


def _row(run: TrainingRun) -> dict[str, Any]:
    row = run.model_dump(exclude={"id"})
    for name in JSON_COLUMNS:
        row[name] = None if row[name] is None else json.dumps(row[name])
    return row


def record_training(store: ProjectStore, run: TrainingRun) -> TrainingRun:
    """Store a new run; returns it with its id."""
    row = _row(run)
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with store.writing():
        cursor = store.db.execute(
            f"insert into training_runs ({columns}) values ({marks})", list(row.values())
        )
    return run.model_copy(update={"id": cursor.lastrowid})


def update_training(store: ProjectStore, run: TrainingRun) -> None:
    """Write `run`'s fields over its stored row (the same run, completed)."""
    if run.id is None:
        raise ValueError("a training run must be recorded before it is updated")
    row = _row(run)
    assignments = ", ".join(f"{name} = ?" for name in row)
    with store.writing():
        store.db.execute(
            f"update training_runs set {assignments} where id = ?", [*row.values(), run.id]
        )


def training_runs(store: ProjectStore) -> list[TrainingRun]:
    """Every stored training run, oldest first."""
    cursor = store.db.execute("select * from training_runs order by id")
    names = [column[0] for column in cursor.description]
    runs = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        for name in JSON_COLUMNS:
            if row[name] is not None:
                row[name] = stored_json(row[name], f"a training run's {name}")
        runs.append(TrainingRun.model_validate(row))
    return runs
