"""The records a project file holds besides prompts, candidates and annotations: its meta,
imports, export rounds, status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import BaseModel

from dpo_tui.core.models import PairPolicyName
from dpo_tui.core.revision import RescaleRule


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


class RubricVersion(BaseModel):
    """One version of a project's rubric: its text, when, by whom, why, and how its
    criteria take the previous version's scores."""

    number: int
    text: str
    sha256: str
    created_at: str
    author: str
    note: str
    mapping: dict[str, str]
    rescale: RescaleRule


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
    policy: PairPolicyName
    min_margin: float
    val_fraction: float
    seed: int
    limit_pairs: int | None
    train_pairs: int
    validation_pairs: int
    disputed_excluded: int
    rubric_sha256: str
    rubric_version: int = 1
    files: dict[str, str]
    pair_keys: list[tuple[str, str, str]]


class ProjectStatus(BaseModel):
    """Counts a user needs to see where a project stands."""

    path: str
    project_id: str
    annotator: str
    rubric_name: str
    rubric_sha256: str
    rubric_version: int
    schema_version: int
    prompts: int
    conversational_prompts: int
    prompts_with_candidates: int
    candidates: int
    near_duplicate_candidates: int
    judged_prompts: int
    """judgements people made (an item two annotators judged counts twice)"""
    scores: int
    """scores people gave (a judge model's are `judge_scores`)"""
    judge_scores: int = 0
    imports: list[ImportRecord]
