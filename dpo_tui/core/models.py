"""The data dpo-tui works with, as pydantic models: rubrics and prompts."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CANDIDATE_LABELS = "ABCDEFGHIJKLMNOP"
"""Blind labels of candidates, in display order."""
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_SCALE_POINTS = 11


class Strict(BaseModel):
    """Base for models read from user files: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(Strict):
    """An integer scale with a label for at least each end."""

    min: int
    max: int
    labels: dict[int, str] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        if self.max - self.min + 1 > MAX_SCALE_POINTS:
            raise ValueError(
                f"{self.max - self.min + 1} points from {self.min} to {self.max} is too many "
                f"for a slider; use at most {MAX_SCALE_POINTS}"
            )
        outside = sorted(k for k in self.labels if not self.min <= k <= self.max)
        if outside:
            raise ValueError(f"labels {outside} lie outside the scale {self.min}..{self.max}")
        missing = [end for end in (self.min, self.max) if end not in self.labels]
        if missing:
            raise ValueError(f"labels must name both ends of the scale; missing {missing}")
        if any(not label.strip() for label in self.labels.values()):
            raise ValueError("labels must not be empty")
        return self

    @property
    def points(self) -> range:
        return range(self.min, self.max + 1)


class Criterion(Strict):
    """One thing an annotator scores on every candidate."""

    key: str
    label: str = Field(min_length=1, max_length=60)
    question: str = Field(min_length=1)
    guidance: str = ""
    scale: Scale
    weight: float = Field(default=1.0, gt=0, le=100)
    veto_below: int | None = None

    @field_validator("key")
    @classmethod
    def _key_shape(cls, key: str) -> str:
        if not KEY_PATTERN.match(key):
            raise ValueError(
                f"{key!r} is not a valid key: use lower-case letters, digits and _, "
                "starting with a letter (e.g. 'acknowledges_emotion')"
            )
        return key

    @model_validator(mode="after")
    def _veto_in_scale(self) -> Criterion:
        if self.veto_below is not None and not (self.scale.min < self.veto_below <= self.scale.max):
            raise ValueError(
                f"veto_below ({self.veto_below}) must lie above the scale's min "
                f"({self.scale.min}) and at most its max ({self.scale.max})"
            )
        return self


PairPolicyName = Literal["best-worst", "all-pairs", "best-vs-rest"]


class PairPolicy(Strict):
    """How scores become preference pairs, by default.

    A candidate's total is the weighted mean of its scores, each rescaled to 0..1 (the
    scale's min is 0, its max 1); `min_margin` is in those units: 0.1 is a tenth of the range.
    """

    policy: PairPolicyName = "best-worst"
    min_margin: float = Field(default=0.1, ge=0, le=1)


class RubricInfo(Strict):
    """The `[rubric]` table: what the rubric is for and what success means."""

    name: str = Field(min_length=1, max_length=80)
    domain: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    description: str = Field(min_length=1)
    success: str = Field(min_length=1)


class Rubric(Strict):
    """A whole rubric file."""

    rubric: RubricInfo
    pairs: PairPolicy = PairPolicy()
    criteria: list[Criterion] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _unique_keys(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.key in seen:
                raise ValueError(f"criterion key {criterion.key!r} is used twice")
            seen.add(criterion.key)
        return self

    @property
    def name(self) -> str:
        return self.rubric.name

    @cached_property
    def weighting(self) -> tuple[tuple[tuple[str, float, int, int], ...], float]:
        """((key, weight, scale min, scale span) per criterion, the weights' sum): what
        `scoring.total`, run once per candidate and annotator, needs, looked up once."""
        terms = tuple(
            (c.key, c.weight, c.scale.min, c.scale.max - c.scale.min) for c in self.criteria
        )
        return terms, sum(c.weight for c in self.criteria)

    @cached_property
    def veto_rules(self) -> tuple[tuple[str, int], ...]:
        """(key, veto_below) of each criterion with a veto, looked up once for `vetoes`."""
        return tuple((c.key, c.veto_below) for c in self.criteria if c.veto_below is not None)


Role = Literal["system", "user", "assistant"]


class Message(Strict):
    """One turn of a conversational prompt."""

    role: Role
    content: str


class Prompt(BaseModel):
    """A prompt as stored: `id` is the content hash of its normalized text."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    messages: tuple[Message, ...] | None = None
    source: str = ""
    tags: tuple[str, ...] = ()


class Candidate(BaseModel):
    """A candidate response as stored: `id` hashes its prompt id and exact text."""

    model_config = ConfigDict(frozen=True)

    id: str
    prompt_id: str
    text: str
    origin: str
    model: str = ""
    preset: str = ""
    params: dict[str, object] = Field(default_factory=dict)
    token_count: int | None = None
    gen_seconds: float | None = None
    near_duplicate_of: str | None = None
    similarity: float | None = None


Flag = Literal["skip", "tie", "all_bad", "unclear"]
FLAGS: tuple[Flag, ...] = ("skip", "tie", "all_bad", "unclear")
NO_PAIR_FLAGS: frozenset[Flag] = frozenset(FLAGS)
"""Every flag withholds an item's pairs: skipped, tied, all bad, or sent to adjudication."""


class Judgement(BaseModel):
    """One annotator's judgement of one prompt: the why, the flags, what they saw."""

    prompt_id: str
    annotator: str
    diagnosis: str = ""
    flags: tuple[Flag, ...] = ()
    display_order: tuple[str, ...] = ()
    seconds_spent: float = 0.0
    updated_at: str = ""
    item_order: str = ""
    """the order the annotator was walking items in (file, random, uncertain); '' unknown"""
    suggested: bool = False
    """whether a judge's scores were shown before the item was finished"""


PairStatus = Literal["single", "agreed", "disputed", "adjudicated"]


class Resolution(BaseModel):
    """A resolver's decision on a disputed prompt: a pair, or (both ids None) no pair."""

    prompt_id: str
    chosen_id: str | None
    rejected_id: str | None
    resolver: str
    note: str = ""
    updated_at: str = ""


class PreferencePair(BaseModel):
    """A chosen/rejected pair with everything a trainer or a data lead may need."""

    model_config = ConfigDict(frozen=True)

    prompt_id: str
    prompt: str
    messages: tuple[Message, ...] | None = None
    source: str = ""
    chosen_id: str
    rejected_id: str
    chosen: str
    rejected: str
    diagnosis: str
    chosen_scores: dict[str, float]
    rejected_scores: dict[str, float]
    margin: float
    by_veto: bool = False
    annotators: tuple[str, ...]
    status: PairStatus
    chosen_origin: str = ""
    rejected_origin: str = ""
    chosen_params: dict[str, object] = Field(default_factory=dict)
    rejected_params: dict[str, object] = Field(default_factory=dict)
