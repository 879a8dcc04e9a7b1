"""Adjudicating disputed items: each annotator's view side by side, and a recorded resolution.

No UI here; the Textual adjudicate screen is a view over `AdjudicationSession`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dpo_tui.core.models import CANDIDATE_LABELS, Candidate, Judgement, Prompt, Resolution
from dpo_tui.core.pairs import AnnotatorPair, extract_pairs
from dpo_tui.core.scoring import total
from dpo_tui.services.annotating import named_annotator
from dpo_tui.services.pairing import judge_pairs
from dpo_tui.store.project import ProjectStore


@dataclass(frozen=True)
class AnnotatorView:
    """One annotator's judgement of the item: scores, totals, pairs, diagnosis, flags."""

    annotator: str
    scores: dict[str, dict[str, int]]
    totals: dict[str, float | None]
    pairs: tuple[AnnotatorPair, ...]
    judgement: Judgement | None


@dataclass(frozen=True)
class Proposal:
    """A pair some annotators made (chosen over rejected), offered for acceptance."""

    chosen: str
    rejected: str
    annotators: tuple[str, ...]


@dataclass(frozen=True)
class DisputedItem:
    index: int
    prompt: Prompt
    candidates: tuple[Candidate, ...]
    views: tuple[AnnotatorView, ...]
    proposals: tuple[Proposal, ...]
    resolution: Resolution | None

    @property
    def labels(self) -> dict[str, str]:
        return {c.id: CANDIDATE_LABELS[i] for i, c in enumerate(self.candidates)}


class AdjudicationSession:
    """Walks the prompts with disputed pairs (or already adjudicated) in import order."""

    def __init__(self, store: ProjectStore, resolver: str | None = None) -> None:
        self.store = store
        self.resolver = named_annotator(resolver) if resolver else store.meta.annotator
        self.rubric = store.rubric
        disputed = judge_pairs(store).disputed_prompts()
        settled = set(store.resolutions())
        self.prompt_ids = [p.id for p in store.prompts() if p.id in disputed or p.id in settled]
        self.item: DisputedItem | None = None

    def open(self, index: int) -> DisputedItem:
        index = max(0, min(index, len(self.prompt_ids) - 1))
        self.item = self._load(index)
        return self.item

    def step(self, direction: int) -> DisputedItem | None:
        current = self.item.index if self.item else -1
        target = current + direction
        return self.open(target) if 0 <= target < len(self.prompt_ids) else None

    def first_open(self) -> DisputedItem:
        """The first item not yet resolved (or the first item when all are)."""
        settled = self.store.resolutions()
        for index, pid in enumerate(self.prompt_ids):
            if pid not in settled:
                return self.open(index)
        return self.open(0)

    def remaining(self) -> int:
        settled = self.store.resolutions()
        return sum(1 for pid in self.prompt_ids if pid not in settled)

    def resolve(self, chosen: str | None, rejected: str | None, note: str = "") -> DisputedItem:
        """Settle the open item on `chosen` over `rejected`, or (None, None) on no pair."""
        item = self._current()
        self.store.save_resolution(
            Resolution(
                prompt_id=item.prompt.id,
                chosen_id=chosen,
                rejected_id=rejected,
                resolver=self.resolver,
                note=note,
            )
        )
        self.item = self._load(item.index)
        return self.item

    def _current(self) -> DisputedItem:
        if self.item is None:
            raise RuntimeError("no item is open")
        return self.item

    def _load(self, index: int) -> DisputedItem:
        pid = self.prompt_ids[index]
        prompt = self.store.prompt(pid)
        assert prompt is not None
        candidates = tuple(self.store.candidates(pid))
        annotators = self.store.annotators_of(pid)
        views = []
        makers: dict[tuple[str, str], list[str]] = {}
        for name in annotators:
            scores = self.store.scores(pid, name)
            judgement = self.store.judgement(pid, name)
            table = [(c.id, scores.get(c.id, {})) for c in candidates]
            outcome = extract_pairs(self.rubric, table, judgement.flags if judgement else ())
            for pair in outcome.pairs:
                makers.setdefault((pair.chosen, pair.rejected), []).append(name)
            views.append(
                AnnotatorView(
                    annotator=name,
                    scores=scores,
                    totals={cid: total(self.rubric, s) for cid, s in table},
                    pairs=outcome.pairs,
                    judgement=judgement,
                )
            )
        proposals = tuple(Proposal(c, r, tuple(names)) for (c, r), names in makers.items())
        resolution = self.store.resolutions().get(pid)
        return DisputedItem(index, prompt, candidates, tuple(views), proposals, resolution)
