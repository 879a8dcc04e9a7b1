"""Gold items from a file: a lead's reference for items of the project, checked all or nothing.

One record per gold item: `prompt_id` or `prompt` (text: matched by content hash); the expected
pair as `chosen_id` / `chosen` and `rejected_id` / `rejected` (ids, or the response texts of
candidates the project holds for that prompt); `explanation` (why, shown to annotators in
practice mode; required); optionally reference scores, in JSONL as `chosen_scores` and
`rejected_scores` objects ({"clarity": 4, ...}), in CSV/TSV as columns `chosen_<criterion>` and
`rejected_<criterion>`. Every problem names the file and the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from dpo_tui.core.annotator_cards import GoldReference
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.importers.base import Fail, RawRecord, text_field
from dpo_tui.core.models import Rubric, Scale
from dpo_tui.core.safe_text import diagnosis_problem
from dpo_tui.errors import InputFileError

ROLES = ("chosen", "rejected")
FIELDS = ("prompt_id", "prompt", "chosen_id", "chosen", "rejected_id", "rejected", "explanation")
TEXT_FIELDS = ("prompt", "chosen", "rejected", "explanation")
"""Cells that CSV output may have quoted against spreadsheet formulas (read back as text)."""


def to_gold(
    path: Path,
    records: Iterable[RawRecord],
    rubric: Rubric,
    known_prompts: set[str],
    known_candidates: Mapping[str, str],
    unit: str = "line",
) -> list[GoldReference]:
    """Validate gold records against the rubric and the project: every prompt and candidate
    must be the project's. `known_candidates`: candidate id -> its prompt id."""
    scales = {c.key: c.scale for c in rubric.criteria}
    score_columns = {f"{role}_{key}": (role, key) for role in ROLES for key in scales}
    found: dict[str, GoldReference] = {}
    lines: dict[str, int] = {}
    for record in records:

        def fail(problem: str, line: int = record.line) -> InputFileError:
            return InputFileError(path, problem, line=line, unit=unit)

        fields = record.value
        if not isinstance(fields, dict):
            raise fail("expected an object (or a CSV row) with prompt, chosen, rejected ...")
        allowed = (*FIELDS, "chosen_scores", "rejected_scores", *score_columns)
        unknown = sorted(str(k) for k in fields if k not in allowed)
        if unknown:
            raise fail(
                f"unknown column {unknown[0]!r}: expected prompt/prompt_id, chosen/chosen_id, "
                "rejected/rejected_id, explanation, and optionally chosen_scores and "
                "rejected_scores (or chosen_<criterion> and rejected_<criterion> columns)"
            )
        pid = _prompt(fields, known_prompts, fail)
        if pid in found:
            raise fail(f"the same prompt is gold on line {lines[pid]} already")
        chosen = _candidate(fields, "chosen", pid, known_candidates, fail)
        rejected = _candidate(fields, "rejected", pid, known_candidates, fail)
        if chosen == rejected:
            raise fail("chosen and rejected are the same candidate")
        explanation = text_field(fields, "explanation", fail).strip()
        if not explanation:
            raise fail("the explanation is empty: say why the chosen one is better")
        if problem := diagnosis_problem(explanation):
            raise fail(f"explanation: {problem}")
        scores = {
            chosen: _scores(fields, "chosen", scales, score_columns, fail),
            rejected: _scores(fields, "rejected", scales, score_columns, fail),
        }
        found[pid] = GoldReference(
            prompt_id=pid,
            chosen_id=chosen,
            rejected_id=rejected,
            scores={cid: values for cid, values in scores.items() if values},
            explanation=explanation,
        )
        lines[pid] = record.line
    if not found:
        raise InputFileError(path, "no gold items found")
    return list(found.values())


def _prompt(fields: dict[str, object], known: set[str], fail: Fail) -> str:
    given = text_field(fields, "prompt_id", fail).strip()
    text = text_field(fields, "prompt", fail)
    pid = given or (prompt_id(text) if text.strip() else "")
    if not pid:
        raise fail("no prompt: expected 'prompt' (text) or 'prompt_id'")
    if given and text.strip() and prompt_id(text) != given:
        raise fail(f"prompt_id {given!r} is not the id of the prompt text on this row")
    if pid not in known:
        raise fail(f"no such prompt in the project ({pid}): import it first")
    return pid


def _candidate(
    fields: dict[str, object], role: str, pid: str, known: Mapping[str, str], fail: Fail
) -> str:
    given = text_field(fields, f"{role}_id", fail).strip()
    text = text_field(fields, role, fail)
    cid = given or (candidate_id(pid, text) if text.strip() else "")
    if not cid:
        raise fail(f"no {role} response: expected '{role}' (text) or '{role}_id'")
    if given and text.strip() and candidate_id(pid, text) != given:
        raise fail(f"{role}_id {given!r} is not the id of the {role} text on this row")
    owner = known.get(cid)
    if owner is None:
        raise fail(f"{role}: no such candidate in the project ({cid})")
    if owner != pid:
        raise fail(f"{role}: candidate {cid} belongs to another prompt")
    return cid


def _scores(
    fields: dict[str, object],
    role: str,
    scales: Mapping[str, Scale],
    columns: Mapping[str, tuple[str, str]],
    fail: Fail,
) -> dict[str, int]:
    """The reference scores of one side, from `<role>_scores` or `<role>_<criterion>`."""
    raw = fields.get(f"{role}_scores")
    given: dict[str, object] = {}
    if isinstance(raw, dict):
        given = {str(k): v for k, v in raw.items()}
    elif raw not in (None, ""):
        raise fail(f"{role}_scores must be an object of criterion: score")
    for column, (side, key) in columns.items():
        if side == role and fields.get(column) not in (None, ""):
            given[key] = fields[column]
    values = {}
    for key, value in given.items():
        scale = scales.get(key)
        if scale is None:
            raise fail(f"{role}_scores: the rubric has no criterion {key!r}")
        try:
            number = int(str(value).strip()) if not isinstance(value, bool | float) else None
        except ValueError:
            number = None
        if number is None or not scale.min <= number <= scale.max:
            raise fail(
                f"{role}_scores: {key} = {value!r} is not a whole number on the scale "
                f"{scale.min}..{scale.max}"
            )
        values[key] = number
    return values
