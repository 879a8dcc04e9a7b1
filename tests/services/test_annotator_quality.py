"""Annotator quality end to end: gold items added (all or nothing), seeded into assigned
files without their reference, a scripted team with one careless annotator, their report
cards, and an export without them."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.models import Judgement
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import DpoError, InputFileError
from dpo_tui.services.exporting import export_dataset
from dpo_tui.services.gold import add_gold
from dpo_tui.services.importing import import_candidates, import_prompts
from dpo_tui.services.merging import merge_files
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.services.reporting import annotator_cards_report
from dpo_tui.services.team import assign
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

PROMPTS = 30
GOLD = 6


def prompt(n: int) -> str:
    return f"Question number {n}: how do I fix problem {n * 7 % 13} in my setup?"


def answer(n: int, quality: int) -> str:
    """A response whose quality (1..3) is known; better ones are longer here, except for
    every third prompt, where the best is the shortest."""
    body = f"Answer {quality} to question {n}. " + "Step by step, with care. " * quality
    return body if n % 3 else f"Answer {quality} to question {n}. " + "More words. " * (4 - quality)


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A lead's project of 30 prompts x 3 candidates and 6 gold items."""
    return build_team(tmp_path)


def build_team(tmp_path: Path) -> Path:
    """The `team` fixture's project, in `tmp_path`."""
    path = tmp_path / "team.dpo"
    prompts, candidates, gold = (tmp_path / name for name in ("p.jsonl", "c.jsonl", "g.jsonl"))
    prompts.write_text("".join(json.dumps({"prompt": prompt(n)}) + "\n" for n in range(PROMPTS)))
    candidates.write_text(
        "".join(
            json.dumps({"prompt": prompt(n), "responses": [answer(n, q) for q in (1, 2, 3)]}) + "\n"
            for n in range(PROMPTS)
        )
    )
    gold.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": prompt(n),
                    "chosen": answer(n, 3),
                    "rejected": answer(n, 1),
                    "explanation": "the third answer walks through every step",
                    "chosen_scores": {"clarity": 5, "safety": 3},
                }
            )
            + "\n"
            for n in range(GOLD)
        )
    )
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "lead") as store:
        import_prompts(store, [prompts], ImportOptions())
        import_candidates(store, candidates)
        assert add_gold(store, gold) == GOLD
    return path


def test_gold_items_are_stored_with_their_reference(team: Path):
    with ProjectStore.open(team, read_only=True) as store:
        gold = store.gold()
        texts = {c.id: c.text for group in store.candidates_by_prompt().values() for c in group}
    assert len(gold) == GOLD
    item = next(iter(gold.values()))
    assert texts[item.chosen_id].startswith("Answer 3") and texts[item.rejected_id].startswith(
        "Answer 1"
    )
    assert item.scores == {item.chosen_id: {"clarity": 5, "safety": 3}}


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            {"prompt": "not in the project", "chosen": "x", "rejected": "y", "explanation": "e"},
            "no such prompt in the project",
        ),
        (
            {
                "prompt": prompt(7),
                "chosen": "made up",
                "rejected": answer(7, 1),
                "explanation": "e",
            },
            "chosen: no such candidate in the project",
        ),
        (
            {
                "prompt": prompt(7),
                "chosen": answer(7, 1),
                "rejected": answer(7, 1),
                "explanation": "e",
            },
            "the same candidate",
        ),
        (
            {
                "prompt": prompt(7),
                "chosen": answer(7, 3),
                "rejected": answer(7, 1),
                "explanation": " ",
            },
            "the explanation is empty",
        ),
        (
            {
                "prompt": prompt(7),
                "chosen": answer(7, 3),
                "rejected": answer(7, 1),
                "explanation": "e",
                "chosen_scores": {"clarity": 9},
            },
            "clarity = 9 is not a whole number on the scale 1..5",
        ),
        (
            {
                "prompt": prompt(7),
                "chosen": answer(7, 3),
                "rejected": answer(7, 1),
                "explanation": "e",
                "colour": "red",
            },
            "unknown column 'colour'",
        ),
        (
            {
                "prompt": prompt(0),
                "chosen": answer(0, 3),
                "rejected": answer(0, 1),
                "explanation": "e",
            },
            "is gold already",
        ),
    ],
)
def test_a_bad_gold_row_is_refused_with_its_line_and_nothing_changes(team, tmp_path, row, problem):
    good = {
        "prompt": prompt(8),
        "chosen": answer(8, 3),
        "rejected": answer(8, 2),
        "explanation": "e",
    }
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    before = snapshot(team)
    with ProjectStore.open(team) as store, pytest.raises(DpoError) as caught:
        add_gold(store, path)
    assert problem in str(caught.value)
    if isinstance(caught.value, InputFileError):
        assert "line 2" in str(caught.value) and str(path) in str(caught.value)
    assert snapshot(team) == before


def assigned(team: Path, tmp_path: Path) -> dict[str, Path]:
    with ProjectStore.open(team) as store:
        result = assign(store, ["alice", "bob", "carol"], 0.5, tmp_path / "out", seed=3, gold=GOLD)
    assert result.gold == GOLD
    return result.files


def test_assigned_files_hold_the_gold_items_but_never_their_reference(team, tmp_path):
    files = assigned(team, tmp_path)
    with ProjectStore.open(team, read_only=True) as store:
        gold = store.gold()
    places = []
    for path in files.values():
        raw = path.read_bytes()
        assert b"walks through every step" not in raw  # the explanation
        conn = sqlite3.connect(path)
        assert conn.execute("select count(*) from gold").fetchone() == (0,)
        order = [row[0] for row in conn.execute("select id from prompts order by rowid")]
        conn.close()
        assert set(gold) <= set(order)
        places.append(tuple(order.index(pid) for pid in gold))
    assert len(set(places)) > 1  # each file has them at places of its own


def work(path: Path, careless: bool, rng: random.Random) -> None:
    """Annotate a file as a careful annotator (scores follow the known quality, 40-90 s an
    item, a diagnosis of its own) or a careless one (random scores, 3 s, one pasted text)."""
    with ProjectStore.open(path) as store:
        name = store.meta.annotator
        for item_prompt in list(store.prompts()):
            candidates = store.candidates(item_prompt.id)
            for candidate in candidates:
                quality = int(candidate.text.split()[1])
                clarity = rng.randint(1, 5) if careless else 1 + 2 * (quality - 1)
                store.set_scores(candidate.id, name, {"clarity": clarity, "safety": 3})
            diagnosis = (
                "Better answer overall, clearer and more complete."
                if careless
                else f"The chosen one explains step {rng.randint(1, 99)} of {item_prompt.id}."
            )
            store.save_judgement(
                Judgement(
                    prompt_id=item_prompt.id,
                    annotator=name,
                    diagnosis=diagnosis,
                    display_order=tuple(c.id for c in candidates),
                    seconds_spent=3.0 if careless else rng.uniform(40, 90),
                )
            )


def test_a_careless_annotator_shows_on_their_card_and_can_be_left_out(team, tmp_path):
    files = assigned(team, tmp_path)
    rng = random.Random(5)
    for name, path in files.items():
        work(path, careless=name == "carol", rng=rng)
    with ProjectStore.open(team) as store:
        merge_files(store, list(files.values()))
        cards = annotator_cards_report(store)
        by_name = {card.annotator: card for card in cards.cards}
        carol, alice = by_name["carol"], by_name["alice"]
        assert carol.too_fast == 1.0 and alice.too_fast == 0.0
        assert alice.gold.items == GOLD and alice.gold.same_direction == 1.0
        assert carol.gold.items == GOLD and carol.gold.same_direction < 0.85
        assert alice.gold.mean_distance == {"clarity": 0.0, "safety": 0.0}
        assert carol.pasted_diagnoses == 1.0 and alice.pasted_diagnoses == 0.0
        assert carol.agreement < alice.agreement
        text = " ".join(carol.warnings)
        assert "carol: 100% of items done faster than it takes to read" in text
        assert "carol: gold accuracy" in text and "pasted" in text
        assert not alice.warnings
        everyone = collect_pairs(store)
        without = collect_pairs(store, exclude=["carol"]).exportable
        assert all("carol" not in p.annotators for p in without)
        kept = {p.prompt_id for p in without}
        judged_by = {name: set(store_prompts(path)) for name, path in files.items()}
        carol_only = judged_by["carol"] - judged_by["alice"] - judged_by["bob"]
        assert carol_only and not carol_only & kept  # her items alone give no pair now
        assert {p.prompt_id for p in everyone.disputed} & kept  # what she disputed is decided
        entry = export_dataset(store, "trl", tmp_path / "r1", exclude_annotators=["carol"])
        manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
        assert manifest["excluded_annotators"] == ["carol"]
        assert entry.train_pairs + entry.validation_pairs == len(without)
        with pytest.raises(DpoError, match="no such annotator"):
            export_dataset(store, "trl", tmp_path / "r2", exclude_annotators=["carl"])


def store_prompts(path: Path) -> list[str]:
    with ProjectStore.open(path, read_only=True) as store:
        return store.prompt_ids_in_order()


def test_gold_is_refused_in_an_annotators_file(team, tmp_path):
    files = assigned(team, tmp_path)
    gold = tmp_path / "g.jsonl"
    shutil.copyfile(gold, tmp_path / "again.jsonl")
    with ProjectStore.open(files["alice"]) as store, pytest.raises(DpoError, match="annotator's"):
        add_gold(store, tmp_path / "again.jsonl")
