"""Gold items: the lead's reference pairs, added from a file (all or nothing) or by marking an
item in the annotator, kept in the lead's project and never copied into an annotator's file
(`assign --gold` copies the items, not the reference)."""

from __future__ import annotations

from pathlib import Path

from dpo_tui.core.annotator_cards import GoldReference
from dpo_tui.core.importers import FORMATS, detect_format
from dpo_tui.core.importers.annotations import restore_text_cells
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.importers.gold import TEXT_FIELDS, to_gold
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore


def add_gold(
    store: ProjectStore,
    path: Path,
    format_name: str | None = None,
    encoding: str = "utf-8",
    author: str | None = None,
) -> int:
    """Add the gold items of the file at `path`, validated against the rubric and the
    project; all or nothing. Returns how many were added. Refused in an annotator's file."""
    if store.meta.assignment_id:
        raise ProjectError(
            f"{store.path}: an annotator's file (from `assign`): gold items belong in the "
            "lead's project",
            hint="add them to the team project, then `assign --gold N`",
        )
    fmt = detect_format(path, format_name)
    if fmt in ("text", "parquet"):
        raise ProjectError(f"{path}: gold items are read from JSONL, JSON, CSV or TSV")
    records = FORMATS[fmt](path, ImportOptions(encoding=encoding))
    items = to_gold(
        path,
        restore_text_cells(records, TEXT_FIELDS) if fmt in ("csv", "tsv") else records,
        store.rubric,
        store.prompt_ids(),
        store.candidate_prompt_ids(),
    )
    return store.add_gold(items, author or store.meta.annotator)


def mark_gold(session: AnnotationSession) -> GoldReference:
    """Make the item open in `session` a gold item: its pair under the lead's own scores
    (the reference scores), its diagnosis the explanation. Refused in an annotator's file,
    for an item that gives no pair or has no diagnosis, and for one already gold."""
    store, item = session.store, session.item
    if item is None:
        raise DpoError("no item is open")
    if store.meta.assignment_id:
        raise ProjectError(
            f"{store.path}: an annotator's file: only the lead's project holds gold items"
        )
    if not item.outcome.pairs:
        raise DpoError("this item gives no pair yet: score it first")
    explanation = item.judgement.diagnosis.strip()
    if not explanation:
        raise DpoError("write the diagnosis first: it explains the reference")
    pair = item.outcome.pairs[0]
    reference = GoldReference(
        prompt_id=item.prompt.id,
        chosen_id=pair.chosen,
        rejected_id=pair.rejected,
        scores={cid: dict(item.scores[cid]) for cid in (pair.chosen, pair.rejected)},
        explanation=explanation,
    )
    store.add_gold([reference], session.annotator)
    return reference
