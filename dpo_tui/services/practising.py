"""Practice on gold items, for onboarding: a practice file made from the lead's project (its
gold items, their candidates and references), and a session that, once the annotator has
finished an item, compares their scores with the reference, records the result and says it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dpo_tui.core.practice import PracticeFeedback, PracticeSummary, practice_feedback, summarize
from dpo_tui.errors import DpoError, ProjectError
from dpo_tui.services.annotating import AnnotationSession, named_annotator
from dpo_tui.services.atomic import move_all, refuse_existing, staging
from dpo_tui.services.team import new_file_for
from dpo_tui.store.project import ProjectStore


def practice_file(source: ProjectStore, out: Path, annotator: str, items: int | None = None) -> int:
    """Write the practice file `out` for `annotator`: the first `items` (default: every) gold
    item of `source` with its candidates and reference; built under a temporary name and
    renamed into place. Returns how many gold items it holds."""
    gold = list(source.gold().values())[:items]
    if not gold:
        raise ProjectError(
            f"{source.path}: no gold items to practise on",
            hint="add them with `dpo-tui gold add PROJECT --from FILE`",
        )
    refuse_existing([out], "choose another --out")
    prompts = {p.id: p for p in source.prompts()}
    ids = [g.prompt_id for g in gold]
    try:
        with staging(out) as folder:
            built = folder / out.name
            with new_file_for(source, built, named_annotator(annotator), ids, prompts) as store:
                store.add_gold(gold, source.meta.annotator)
            move_all({built: out}, "choose another --out")
    except (OSError, sqlite3.Error) as exc:
        raise ProjectError(f"{out}: cannot be written ({exc}); nothing was left behind") from exc
    return len(gold)


class Practice:
    """Practice over an annotation session restricted to the project's gold items."""

    def __init__(self, session: AnnotationSession) -> None:
        self.session = session
        self.gold = session.store.gold()
        if not self.gold:
            raise DpoError(
                f"{session.store.path}: no gold items to practise on",
                hint="make a practice file with `dpo-tui gold practice LEAD.dpo --out FILE "
                "--annotator NAME`",
            )
        self.shown: set[str] = set()

    @classmethod
    def open(cls, store: ProjectStore, annotator: str | None = None) -> Practice:
        gold = store.gold()
        return cls(AnnotationSession(store, annotator, only=set(gold)))

    def feedback(self) -> PracticeFeedback | None:
        """The current item against its reference, once the annotator has finished it (every
        candidate scored and a diagnosis, or a flag), recorded; None before, and once shown."""
        item = self.session.item
        if item is None:
            return None
        pid = item.prompt.id
        if pid in self.shown or pid not in self.gold or not self.session.is_done(pid):
            return None
        result = practice_feedback(
            self.session.rubric,
            self.gold[pid],
            [c.id for c in item.candidates],
            item.scores,
            item.judgement.flags,
        )
        self.session.store.record_practice(self.session.annotator, result)
        self.shown.add(pid)
        return result

    def summary(self) -> PracticeSummary:
        """The annotator's practice so far (each item's latest result)."""
        return summarize(self.session.store.practice_results(self.session.annotator))
