"""Annotations made elsewhere (a spreadsheet, another tool): one record per candidate and
annotator, with a column per rubric criterion, the diagnosis and the flags.

Columns: `prompt` (text) or `prompt_id`; `response` (text) or `candidate_id`; `annotator`;
one column per criterion key (an integer on its scale, or empty when not scored);
`diagnosis` and `flags` (`skip`, `tie`, `all_bad`, `unclear`, separated by `;` or `,`), the
same on every row of one prompt and annotator (or empty on all but one). In CSV and TSV, a
text cell that CSV output quoted against spreadsheet formulas reads back as the original text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.importers.base import Fail, RawRecord, text_field
from dpo_tui.core.models import FLAGS, Flag, Rubric
from dpo_tui.core.safe_text import diagnosis_problem, name_problem
from dpo_tui.core.spreadsheet import restore
from dpo_tui.errors import InputFileError

ANNOTATION_FIELDS = ("prompt_id", "prompt", "candidate_id", "response", "annotator")
JUDGEMENT_FIELDS = ("diagnosis", "flags")
TEXT_FIELDS = ("prompt", "response", "annotator", "diagnosis")


@dataclass
class AnnotationRows:
    """What a file of annotations holds, validated; ids are content hashes."""

    prompts: dict[str, str] = field(default_factory=dict)
    """new prompt id -> text (prompts given as text that may not be in the project yet)"""
    candidates: dict[str, tuple[str, str]] = field(default_factory=dict)
    """candidate id -> (prompt id, text), for responses given as text"""
    scores: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(candidate id, annotator, criterion, value)"""
    judgements: dict[tuple[str, str], tuple[str, tuple[Flag, ...]]] = field(default_factory=dict)
    """(prompt id, annotator) -> (diagnosis, flags)"""


def restore_text_cells(
    records: Iterable[RawRecord], text_fields: Collection[str] = TEXT_FIELDS
) -> Iterator[RawRecord]:
    """CSV/TSV rows with the text cells (`text_fields`) that CSV output neutralised against
    spreadsheet formulas (`core.spreadsheet`) read back as the original text."""
    for record in records:
        fields = record.value
        if isinstance(fields, dict):
            fields = {
                key: restore(value) if key in text_fields and isinstance(value, str) else value
                for key, value in fields.items()
            }
        yield RawRecord(record.line, fields)


def to_annotations(
    path: Path,
    records: Iterable[RawRecord],
    rubric: Rubric,
    known_prompts: set[str],
    known_candidates: dict[str, str],
    unit: str = "line",
) -> AnnotationRows:
    """Validate annotation records against the rubric and the project.

    `known_candidates` maps the project's candidate ids to their prompt ids. Prompts and
    responses given as text are matched by content hash, and added when new."""
    rows = AnnotationRows()
    scales = {c.key: c.scale for c in rubric.criteria}
    judged_on: dict[tuple[str, str], int] = {}
    for record in records:

        def fail(problem: str, line: int = record.line) -> InputFileError:
            return InputFileError(path, problem, line=line, unit=unit)

        fields = record.value
        if not isinstance(fields, dict):
            raise fail("expected an object (or a CSV row) with prompt, response, annotator ...")
        unknown = sorted(
            str(k)
            for k in fields
            if k not in scales and k not in ANNOTATION_FIELDS and k not in JUDGEMENT_FIELDS
        )
        if unknown:
            raise fail(
                f"unknown column {unknown[0]!r}: expected prompt/prompt_id, response/"
                f"candidate_id, annotator, diagnosis, flags and the rubric's criteria "
                f"({', '.join(scales)})"
            )
        pid = _prompt(fields, known_prompts, rows, fail)
        cid = _candidate(fields, pid, known_candidates, rows, fail)
        annotator = text_field(fields, "annotator", fail).strip()
        if not annotator:
            raise fail("the annotator is empty")
        if problem := name_problem(annotator):
            raise fail(problem)
        for key, scale in scales.items():
            raw = fields.get(key)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                value = int(str(raw).strip()) if not isinstance(raw, bool) else None
            except ValueError:
                value = None
            if (
                value is None
                or str(value) != str(raw).strip().removesuffix(".0")
                or not (scale.min <= value <= scale.max)
            ):
                raise fail(
                    f"{key}: {raw!r} is not a whole number on the scale {scale.min}..{scale.max}"
                )
            rows.scores.append((cid, annotator, key, value))
        diagnosis = text_field(fields, "diagnosis", fail)
        if problem := diagnosis_problem(diagnosis):
            raise fail(problem)
        flags = _flags(fields, fail)
        item = (pid, annotator)
        if diagnosis.strip() or flags:
            held = rows.judgements.get(item)
            if held is not None and held != (diagnosis, flags):
                raise fail(
                    f"a different diagnosis or flags for the same prompt and annotator "
                    f"as line {judged_on[item]}"
                )
            rows.judgements[item] = (diagnosis, flags)
            judged_on[item] = record.line
        else:
            rows.judgements.setdefault(item, ("", ()))
    if not rows.scores and not any(d or f for d, f in rows.judgements.values()):
        raise InputFileError(path, "no annotations found: no scores, diagnoses or flags")
    return rows


def _prompt(fields: dict[str, object], known: set[str], rows: AnnotationRows, fail: Fail) -> str:
    """The prompt's id: `prompt_id` if the project (or this file) has it, else the hash of
    `prompt` (added when new); a `prompt_id` must match its text when both are given."""
    given = text_field(fields, "prompt_id", fail).strip()
    text = text_field(fields, "prompt", fail)
    if given and (given in known or given in rows.prompts):
        return given
    if not text.strip():
        if given:
            raise fail(f"no prompt with id {given!r} in the project")
        raise fail("no prompt: expected 'prompt' (text) or 'prompt_id'")
    pid = prompt_id(text)
    if given and given != pid:
        raise fail(f"prompt_id {given!r} is not the id of the prompt text on this row")
    if pid not in known:
        rows.prompts.setdefault(pid, text.strip())
    return pid


def _candidate(
    fields: dict[str, object],
    pid: str,
    known: dict[str, str],
    rows: AnnotationRows,
    fail: Fail,
) -> str:
    """The candidate's id, the same way as the prompt's: `candidate_id` if known, else the
    hash of `response` (added when new)."""
    given = text_field(fields, "candidate_id", fail).strip()
    text = text_field(fields, "response", fail)
    owner = known.get(given) or rows.candidates.get(given, ("", ""))[0] if given else ""
    if owner:
        if owner != pid:
            raise fail(f"candidate {given!r} belongs to another prompt")
        return given
    if not text.strip():
        if given:
            raise fail(f"no candidate with id {given!r} in the project")
        raise fail("no response: expected 'response' (text) or 'candidate_id'")
    cid = candidate_id(pid, text)
    if given and given != cid:
        raise fail(f"candidate_id {given!r} is not the id of the response text on this row")
    if cid not in known:
        rows.candidates.setdefault(cid, (pid, text))
    return cid


def _flags(fields: dict[str, object], fail: Fail) -> tuple[Flag, ...]:
    raw = fields.get("flags")
    if raw is None or raw == "":
        return ()
    items = raw if isinstance(raw, list) else str(raw).replace(";", ",").split(",")
    names = [str(item).strip() for item in items if str(item).strip()]
    bad = [name for name in names if name not in FLAGS]
    if bad:
        raise fail(f"unknown flag {bad[0]!r} (known: {', '.join(FLAGS)})")
    return tuple(f for f in FLAGS if f in names)
