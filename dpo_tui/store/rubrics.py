"""The rubric versions a project has had (never replaced: a revision adds one), and the
lineage that reads older score cards under the current version."""

from __future__ import annotations

import json

from dpo_tui.core.revision import Lineage, RescaleRule, plan_step
from dpo_tui.core.rubric import LoadedRubric, parse_rubric
from dpo_tui.errors import ProjectError
from dpo_tui.store.base import StoreBase
from dpo_tui.store.records import RubricVersion, now
from dpo_tui.store.values import stored_json


class RubricRows(StoreBase):
    """Rubric versions, written and read."""

    _lineage: Lineage | None = None

    def rubric_versions(self) -> list[RubricVersion]:
        """Every version, oldest first."""
        rows = self.db.execute(
            "select number, text, sha256, created_at, author, note, mapping, rescale "
            "from rubric_versions order by number"
        )
        return [
            RubricVersion(
                number=number,
                text=text,
                sha256=sha256,
                created_at=created,
                author=author,
                note=note,
                mapping=stored_json(mapping, "a rubric version's mapping"),
                rescale=rescale,
            )
            for number, text, sha256, created, author, note, mapping, rescale in rows
        ]

    @property
    def rubric_version(self) -> int:
        """The current version's number."""
        return self.lineage.current

    def check_rubric_version(self) -> None:
        """ProjectError if another process revised the rubric since this store read it (call
        inside a write transaction, before writing anything made under it)."""
        row = self.db.execute("select coalesce(max(number), 1) from rubric_versions").fetchone()
        if int(row[0]) != self.rubric_version:
            raise ProjectError(
                f"{self.path}: the rubric was revised (version {row[0]}) while this was open",
                hint="close and open the project again to work under the new version",
            )

    def preview_rubric(
        self, rubric: LoadedRubric | None, lineage: Lineage | None
    ) -> tuple[LoadedRubric | None, Lineage | None]:
        """Read the project as if `rubric`, last of `lineage`, were its current version,
        writing nothing (None, None: as stored); returns what to pass back to restore it."""
        saved = (self._rubric, self._lineage)
        self._rubric, self._lineage = rubric, lineage
        return saved

    @property
    def lineage(self) -> Lineage:
        """Every version and the revisions between them (read once per store)."""
        if self._lineage is None:
            versions = self.rubric_versions()
            if not versions or versions[-1].sha256 != self.meta.rubric_sha256:
                raise ProjectError(
                    f"{self.path}: damaged: its rubric history does not end with its rubric",
                    hint="open an earlier copy of the file, or ask whoever sent it for a new one",
                )
            self._lineage = lineage_of(versions, str(self.path))
        return self._lineage

    def add_rubric_version(
        self,
        rubric: LoadedRubric,
        mapping: dict[str, str],
        rescale: RescaleRule,
        author: str,
        note: str,
    ) -> RubricVersion:
        """Make `rubric` the current version (the previous ones are kept); returns it."""
        with self.writing():
            self.check_rubric_version()
            entry = RubricVersion(
                number=self.rubric_version + 1,
                text=rubric.text,
                sha256=rubric.sha256,
                created_at=now(),
                author=author,
                note=note,
                mapping=mapping,
                rescale=rescale,
            )
            self._insert_version(entry)
            self.db.execute("update meta set value = ? where key = 'rubric_text'", [rubric.text])
            self.db.execute(
                "update meta set value = ? where key = 'rubric_sha256'", [rubric.sha256]
            )
        self._rubric = None
        self._lineage = None
        return entry

    def _insert_version(self, entry: RubricVersion) -> None:
        self._table("rubric_versions").insert(
            {**entry.model_dump(), "mapping": json.dumps(entry.mapping, sort_keys=True)}
        )


def lineage_of(versions: list[RubricVersion], origin: str) -> Lineage:
    """The lineage of `versions` (oldest first, numbered from 1)."""
    rubrics = [parse_rubric(v.text, f"{origin} (rubric version {v.number})") for v in versions]
    steps = [
        plan_step(before.rubric, after.rubric, version.mapping, version.rescale)
        for before, after, version in zip(rubrics, rubrics[1:], versions[1:], strict=False)
    ]
    return Lineage([r.rubric for r in rubrics], steps)
