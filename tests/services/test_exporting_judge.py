"""`export --judge-pairs`: a judge model's pairs on prompts no human judged, only when it agrees
with the humans as often as they agree with each other (on 50+ shared items), marked, counted
apart, and split with the humans' pairs. Projects are built through the store API: no model."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Judgement, Prompt
from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import DpoError
from dpo_tui.services.exporting import export_dataset, prompt_clusters
from dpo_tui.services.reporting import judge_report
from dpo_tui.store.judge import JudgeSample, JudgeVerdict
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

GOOD = "judge:good-model@0123456789ab"
"""agrees with alice everywhere: with the humans on 90% of pair directions"""
BAD = "judge:bad-model@ba0123456789"
"""reverses half of the shared items: 60%"""
SHARED, BOB_REVERSES = 60, 12
"""alice and bob score 60 prompts; bob reverses the last 12 (the humans agree on 80%)"""
JUDGE_ONLY = 20
"""prompts only the judges scored, near-copies of shared ones"""
HUMAN_ONLY = 10

FORWARD, BACKWARD = (5, 3, 1), (1, 3, 5)


def _texts(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    words = "order refund login crash invoice python deploy summary essay thesis router billing"
    return [
        f"Question {i}: " + " ".join(rng.choice(words.split()) for _ in range(12)) + "?"
        for i in range(count)
    ]


def _score(store: ProjectStore, prompt: Prompt, annotator: str, clarity: Sequence[int]) -> None:
    for cand, value in zip(store.candidates(prompt.id), clarity, strict=True):
        store.set_scores(cand.id, annotator, {"clarity": value, "safety": 3})
    store.save_judgement(
        Judgement(prompt_id=prompt.id, annotator=annotator, diagnosis=f"{annotator} says so")
    )


def _judge(store: ProjectStore, prompt: Prompt, judge: str, clarity: Sequence[int]) -> None:
    candidates = store.candidates(prompt.id)
    cards = {c.id: {"clarity": v, "safety": 3} for c, v in zip(candidates, clarity, strict=True)}
    samples = [
        JudgeSample(cid, 0, 0, card, "plain", "{}", "", {"temperature": 0}, 0.1)
        for cid, card in cards.items()
    ]
    best, worst = candidates[0], candidates[2]
    if clarity[2] > clarity[0]:
        best, worst = worst, best
    verdicts = [
        (prompt.id, JudgeVerdict(best.id, worst.id, best.id, "{}", "")),
        (prompt.id, JudgeVerdict(worst.id, best.id, best.id, "{}", "")),
    ]
    judgement = Judgement(
        prompt_id=prompt.id,
        annotator=judge,
        diagnosis="A: the clearest",
        display_order=tuple(c.id for c in candidates),
    )
    store.save_judged(judge, "model", "server:model", samples, cards, judgement, verdicts)


def build_judged(
    store: ProjectStore,
    judges: Sequence[str] = (GOOD, BAD),
    shared: int = SHARED,
    bob_reverses: int = BOB_REVERSES,
) -> None:
    """`shared` prompts alice, bob and the judges scored, `JUDGE_ONLY` near-copies of them
    only the judges scored, `HUMAN_ONLY` prompts only alice scored; 3 candidates each."""
    texts = _texts(shared)
    copies = [t.replace("Question", "Questoin") for t in texts[:JUDGE_ONLY]]
    alone = _texts(HUMAN_ONLY, seed=2)
    prompts = [
        Prompt(id=prompt_id(t), text=t, source=f"src{i % 2}")
        for i, t in enumerate(texts + copies + alone)
    ]
    store.add_prompts(prompts)
    store.add_candidates(
        [
            Candidate(
                id=candidate_id(p.id, f"{p.text} answer {k}"),
                prompt_id=p.id,
                text=f"answer {k} to {p.text[:12]}" + "x" * k,
                origin="imported:test",
            )
            for p in prompts
            for k in range(3)
        ]
    )
    for i, prompt in enumerate(prompts[:shared]):
        _score(store, prompt, "alice", FORWARD)
        _score(store, prompt, "bob", BACKWARD if i >= shared - bob_reverses else FORWARD)
        for judge in judges:
            _judge(store, prompt, judge, BACKWARD if judge == BAD and i >= shared // 2 else FORWARD)
    for prompt in prompts[shared : shared + JUDGE_ONLY]:
        for judge in judges:
            _judge(store, prompt, judge, FORWARD)
    for prompt in prompts[shared + JUDGE_ONLY :]:
        _score(store, prompt, "alice", FORWARD)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("judged") / "template.dpo"
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        build_judged(store)
    return path


@pytest.fixture
def judged(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "judged.dpo"
    with ProjectStore.open(template) as store:
        store.copy_whole(path)
    return path


def records(out: Path, name: str = "train") -> list[dict]:
    path = out / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_calibration_the_guard_reads(judged: Path):
    with ProjectStore.open(judged, read_only=True) as store:
        report = judge_report(store)
    bad, good = report.judges
    assert (good.judge, bad.judge) == (GOOD, BAD)
    assert good.shared_items == bad.shared_items == SHARED
    assert good.shared_human_human.percent == pytest.approx(0.8)  # 48 of 60 prompts
    assert good.shared_judge_human.percent == pytest.approx(0.9)  # alice 60, bob 48
    assert bad.shared_judge_human.percent == pytest.approx(0.6)  # alice 30, bob 30 + 12
    assert (good.meets_humans, bad.meets_humans) == (True, False)
    assert good.judge_only_prompts == JUDGE_ONLY
    assert good.position.consistency == 1.0


def test_several_judges_need_a_name(judged: Path, tmp_path: Path):
    with ProjectStore.open(judged) as store, pytest.raises(DpoError, match="holds 2 judges"):
        export_dataset(store, "jsonl", tmp_path / "out", judge_pairs=True)
    with ProjectStore.open(judged) as store, pytest.raises(DpoError, match="no such judge"):
        export_dataset(store, "jsonl", tmp_path / "out", judge_pairs=True, judge="judge:x@1")
    with ProjectStore.open(judged) as store, pytest.raises(DpoError, match="--judge-pairs"):
        export_dataset(store, "jsonl", tmp_path / "out", judge=GOOD)
    assert not (tmp_path / "out").exists()


def test_refused_below_the_humans_agreement_writing_nothing(judged: Path, tmp_path: Path):
    before = snapshot(judged)
    with ProjectStore.open(judged) as store, pytest.raises(DpoError) as refused:
        export_dataset(store, "jsonl", tmp_path / "out", judge_pairs=True, judge=BAD)
    message = str(refused.value)
    assert f"{BAD} agrees with humans on 60% of pair directions" in message
    assert "humans with each other on 80%, on 60 shared items" in message
    assert "below the humans' own agreement (80%)" in message
    assert "--judge-min-agreement" in message and "report" in message
    with ProjectStore.open(judged) as store, pytest.raises(DpoError) as refused:
        export_dataset(
            store, "jsonl", tmp_path / "out", judge_pairs=True, judge=BAD, judge_min_agreement=0.7
        )
    assert "below --judge-min-agreement (70%)" in str(refused.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["judged.dpo"]  # no staging folder left
    assert snapshot(judged) == before


def test_refused_on_fewer_than_fifty_shared_items(tmp_path: Path):
    path = tmp_path / "few.dpo"
    with ProjectStore.create(path, load_rubric(DATA / "rubrics" / "good.toml"), "alice") as store:
        build_judged(store, judges=(GOOD,), shared=49, bob_reverses=0)
    before = snapshot(path)
    with ProjectStore.open(path) as store, pytest.raises(DpoError) as refused:
        export_dataset(store, "jsonl", tmp_path / "out", judge_pairs=True, judge_min_agreement=0.0)
    assert "on 49 shared items" in str(refused.value)
    assert "judge pairs need at least 50 shared items" in str(refused.value)
    assert "dpo-tui assign" in str(refused.value)
    assert not (tmp_path / "out").exists()
    assert snapshot(path) == before


def test_accepted_pairs_are_marked_counted_and_split_with_the_humans(judged: Path, tmp_path: Path):
    out = tmp_path / "out"
    with ProjectStore.open(judged) as store:
        round_ = export_dataset(store, "jsonl", out, judge_pairs=True, judge=GOOD, seed=1)
        clusters = prompt_clusters(store)
        judge_only = {p.id for p in store.prompts() if p.text.startswith("Questoin")}
    # humans: 48 agreed shared prompts and 10 of alice's own; the judge: its 20 prompts only
    assert round_.judge_pairs == JUDGE_ONLY
    assert round_.train_pairs + round_.validation_pairs == 48 + HUMAN_ONLY + JUDGE_ONLY
    rows = {side: records(out, side) for side in ("train", "validation")}
    found = [row for side in rows.values() for row in side]
    assert {row["origin"] for row in found} == {"human", "judge"}
    judged_rows = [row for row in found if row["origin"] == "judge"]
    assert {row["prompt_id"] for row in judged_rows} == judge_only
    assert all(row["annotators"] == GOOD for row in judged_rows)
    assert all(row["diagnosis"] == "A: the clearest" for row in judged_rows)
    assert all(row["annotators"] != GOOD for row in found if row["origin"] == "human")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["judge_pairs"] == JUDGE_ONLY
    validation_judged = sum(1 for row in rows["validation"] if row["origin"] == "judge")
    assert manifest["judge"] == {
        "name": GOOD,
        "shared_items": SHARED,
        "judge_human_agreement": pytest.approx(0.9),
        "human_human_agreement": pytest.approx(0.8),
        "min_agreement": pytest.approx(0.8),
        "judge_only_prompts": JUDGE_ONLY,
        "validation_pairs": validation_judged,
    }
    # each near-copy the judge scored is in its original's cluster, on its original's side
    sides: dict[str, set[str]] = {}
    for side, side_rows in rows.items():
        for row in side_rows:
            sides.setdefault(clusters[row["prompt_id"]], set()).add(side)
    assert all(len(found_sides) == 1 for found_sides in sides.values())
    assert sum(1 for c in sides if c in {clusters[p] for p in judge_only}) == JUDGE_ONLY


def test_split_never_separates_a_judge_pair_from_its_cluster(judged: Path, tmp_path: Path):
    with ProjectStore.open(judged) as store:
        clusters = prompt_clusters(store)
        judge_sides = set()
        for seed in range(4):
            out = tmp_path / f"s{seed}"
            export_dataset(
                store, "jsonl", out, judge_pairs=True, judge=GOOD, seed=seed, val_fraction=0.4
            )
            sides: dict[str, set[str]] = {}
            for side in ("train", "validation"):
                for row in records(out, side):
                    sides.setdefault(clusters[row["prompt_id"]], set()).add(side)
                    if row["origin"] == "judge":
                        judge_sides.add(side)
            assert all(len(found) == 1 for found in sides.values())
    assert judge_sides == {"train", "validation"}  # split with the humans', not appended


def test_every_format_marks_the_origin(judged: Path, tmp_path: Path):
    with ProjectStore.open(judged) as store:
        for name in ("trl", "openai", "hh", "json"):
            export_dataset(
                store, name, tmp_path / name, judge_pairs=True, judge=GOOD, val_fraction=0
            )
        export_dataset(store, "csv", tmp_path / "csv", judge_pairs=True, judge=GOOD, val_fraction=0)
        export_dataset(store, "trl", tmp_path / "plain", val_fraction=0)
    for name, file in (("trl", "train"), ("openai", "training"), ("hh", "train")):
        origins = [r["origin"] for r in records(tmp_path / name, file)]
        assert origins.count("judge") == JUDGE_ONLY and origins.count("human") == 58, name
    rows = json.loads((tmp_path / "json" / "train.json").read_text())
    assert sum(r["origin"] == "judge" for r in rows) == JUDGE_ONLY
    with (tmp_path / "csv" / "train.csv").open(newline="") as handle:
        assert sum(r["origin"] == "judge" for r in csv.DictReader(handle)) == JUDGE_ONLY
    # without --judge-pairs the trainers' formats keep exactly their fields, and no judge pair
    plain = records(tmp_path / "plain")
    assert len(plain) == 58 and set(plain[0]) == {"prompt", "chosen", "rejected"}
    manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert manifest["judge_pairs"] == 0 and "judge" not in manifest
