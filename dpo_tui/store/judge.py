"""A judge model's answers: every sample of its scores (failures too) and every pairwise
verdict, added and never replaced; its combined cards are ordinary score cards."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from dpo_tui.core.models import Judgement
from dpo_tui.store.annotations import AnnotationRows
from dpo_tui.store.cards import CardReader, card_json
from dpo_tui.store.records import now


class JudgeSample(NamedTuple):
    """One answer of a judge about one candidate: a card, or (card None) an error."""

    candidate_id: str
    sample: int
    attempt: int
    card: dict[str, int] | None
    reasons: str
    reply: str
    error: str
    params: Mapping[str, object]
    seconds: float


class JudgeVerdict(NamedTuple):
    """One pairwise answer: which of two candidates, shown in this order, is better."""

    first_id: str
    second_id: str
    winner_id: str | None
    reply: str
    error: str


class StoredVerdict(NamedTuple):
    """A verdict as read back."""

    prompt_id: str
    first_id: str
    second_id: str
    winner_id: str | None


class JudgeRows(AnnotationRows):
    """Judge samples and verdicts, written and read."""

    def save_judged(
        self,
        judge: str,
        model: str,
        origin: str,
        samples: Sequence[JudgeSample],
        cards: Mapping[str, dict[str, int]],
        judgement: Judgement | None,
        verdicts: Sequence[tuple[str, JudgeVerdict]] = (),
    ) -> None:
        """One prompt's judging in one transaction: its samples, the judge's combined cards
        (`cards`: candidate id -> card), its judgement (reasons as diagnosis) and verdicts
        (prompt id, verdict)."""
        version, stamp = self.rubric_version, now()
        with self.writing():
            self.check_rubric_version()
            self._table("judge_samples").insert_all(
                {
                    "judge": judge,
                    "candidate_id": s.candidate_id,
                    "sample": s.sample,
                    "attempt": s.attempt,
                    "rubric_version": version,
                    "criteria": None if s.card is None else card_json(s.card),
                    "reasons": s.reasons,
                    "reply": s.reply,
                    "error": s.error,
                    "params": json.dumps(dict(s.params), sort_keys=True),
                    "model": model,
                    "origin": origin,
                    "seconds": round(s.seconds, 4),
                    "created_at": stamp,
                }
                for s in samples
            )
            for candidate_id, card in cards.items():
                self.set_scores(candidate_id, judge, dict(card))
            if judgement is not None:
                self.save_judgement(judgement)
            self._table("judge_verdicts").insert_all(
                {
                    "judge": judge,
                    "prompt_id": prompt_id,
                    "first_id": v.first_id,
                    "second_id": v.second_id,
                    "winner_id": v.winner_id,
                    "rubric_version": version,
                    "reply": v.reply,
                    "error": v.error,
                    "created_at": stamp,
                }
                for prompt_id, v in verdicts
            )

    def judge_names(self) -> list[str]:
        """Every judge with an answer in the project, sorted."""
        query = "select distinct judge from judge_samples order by 1"
        return [row[0] for row in self.db.execute(query)]

    def judge_cards(self, judge: str) -> dict[str, dict[str, list[dict[str, int]]]]:
        """prompt id -> candidate id -> the judge's valid sampled cards under the current
        rubric version, in the order they were made."""
        query = (
            "select c.prompt_id, s.candidate_id, s.criteria from judge_samples s "
            "join candidates c on c.id = s.candidate_id where s.judge = ? "
            "and s.rubric_version = ? and s.criteria is not null order by s.id"
        )
        card = CardReader()
        found: dict[str, dict[str, list[dict[str, int]]]] = {}
        for pid, cid, criteria in self.db.execute(query, [judge, self.rubric_version]):
            found.setdefault(pid, {}).setdefault(cid, []).append(card(criteria))
        return found

    def judge_failures(self, judge: str) -> int:
        """How many of the judge's answers failed, under the current rubric version."""
        query = (
            "select count(*) from judge_samples where judge = ? and rubric_version = ? "
            "and criteria is null"
        )
        return int(self.db.execute(query, [judge, self.rubric_version]).fetchone()[0])

    def judge_verdicts(self, judge: str) -> list[StoredVerdict]:
        """The judge's verdicts under the current rubric version, in the order made."""
        query = (
            "select prompt_id, first_id, second_id, winner_id from judge_verdicts "
            "where judge = ? and rubric_version = ? order by id"
        )
        return [StoredVerdict(*row) for row in self.db.execute(query, [judge, self.rubric_version])]
