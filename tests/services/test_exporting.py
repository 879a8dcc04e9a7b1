"""Export: every format read back as its users read it; the split never leaks a prompt."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpo_tui.core.export.select import pair_key, select_round
from dpo_tui.core.export.split import split_pairs
from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, PreferencePair, Prompt
from dpo_tui.errors import DpoError
from dpo_tui.services.exporting import export_dataset, prompt_clusters
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.store.project import ProjectStore

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def build(store: ProjectStore, count: int, seed: int = 1, near_copies: int = 0) -> None:
    """`count` prompts in two sources, 3 candidates each, fully scored by alice with a clear
    winner, plus `near_copies` prompts that are near-copies of earlier ones."""
    rng = random.Random(seed)
    words = [
        "order",
        "refund",
        "login",
        "crash",
        "invoice",
        "python",
        "deploy",
        "summary",
        "essay",
        "thesis",
        "router",
        "billing",
        "password",
        "export",
        "cache",
        "timeout",
    ]
    texts = [
        f"Question {i}: " + " ".join(rng.choice(words) for _ in range(12)) + "?"
        for i in range(count)
    ]
    texts += [texts[i].replace("Question", "Questoin") for i in range(near_copies)]
    prompts = [Prompt(id=prompt_id(t), text=t, source=f"src{i % 2}") for i, t in enumerate(texts)]
    store.add_prompts(prompts)
    for prompt in prompts:
        cands = [
            Candidate(
                id=candidate_id(prompt.id, f"{prompt.text} answer {k}"),
                prompt_id=prompt.id,
                text=f"answer {k} " + "x" * rng.randint(5, 50),
                origin="imported:test",
            )
            for k in range(3)
        ]
        store.add_candidates(cands)
        for k, cand in enumerate(store.candidates(prompt.id)):
            store.set_score(cand.id, "alice", "clarity", 5 - 2 * k)
            store.set_score(cand.id, "alice", "safety", 3)
        from dpo_tui.core.models import Judgement

        store.save_judgement(
            Judgement(
                prompt_id=prompt.id,
                annotator="alice",
                diagnosis=f"first is clearer ({prompt.id[:4]})",
            )
        )


@pytest.fixture
def exported_project(project: ProjectStore) -> ProjectStore:
    build(project, 40, near_copies=5)
    return project


def test_pairs_carry_scores_diagnosis_and_origin(exported_project: ProjectStore):
    pairs = collect_pairs(exported_project).pairs
    assert len(pairs) == 45
    pair = pairs[0]
    assert pair.status == "single"
    assert pair.chosen_scores == {"clarity": 5, "safety": 3}
    assert pair.rejected_scores == {"clarity": 1, "safety": 3}
    assert pair.diagnosis.startswith("first is clearer")
    assert pair.chosen_origin == "imported:test"
    assert pair.margin == pytest.approx(1 / 3, abs=1e-4)


def test_trl_jsonl_loads_with_datasets(exported_project: ProjectStore, tmp_path: Path):
    out = tmp_path / "out"  # tmp_path holds the project file
    datasets = pytest.importorskip("datasets")
    round_ = export_dataset(exported_project, "trl", out, seed=3)
    loaded = datasets.load_dataset(
        "json",
        data_files={
            "train": str(out / "train.jsonl"),
            "validation": str(out / "validation.jsonl"),
        },
    )
    assert loaded["train"].column_names == ["prompt", "chosen", "rejected"]
    assert loaded["train"].num_rows == round_.train_pairs
    assert loaded["validation"].num_rows == round_.validation_pairs
    row = loaded["train"][0]
    pairs = {(p.prompt, p.chosen, p.rejected) for p in collect_pairs(exported_project).pairs}
    assert (row["prompt"], row["chosen"], row["rejected"]) in pairs


def test_trl_conversational(exported_project: ProjectStore, tmp_path: Path):
    out = tmp_path / "out"  # tmp_path holds the project file
    export_dataset(exported_project, "trl", out, conversational=True)
    record = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert record["prompt"][0]["role"] == "user"
    assert record["chosen"] == [{"role": "assistant", "content": record["chosen"][0]["content"]}]


def test_hf_parquet_loads_from_the_folder_with_both_splits(
    exported_project: ProjectStore, tmp_path: Path
):
    out = tmp_path / "out"  # tmp_path holds the project file
    datasets = pytest.importorskip("datasets")
    round_ = export_dataset(exported_project, "hf", out)
    loaded = datasets.load_dataset(str(out))
    assert set(loaded) == {"train", "validation"}
    assert loaded["train"].num_rows == round_.train_pairs
    assert {"prompt", "chosen", "rejected", "diagnosis", "scores", "prompt_id"} <= set(
        loaded["train"].column_names
    )
    scores = json.loads(loaded["train"][0]["scores"])
    assert scores["better"]["clarity"] == 5


def test_openai_format_has_separate_files_and_fields(
    exported_project: ProjectStore, tmp_path: Path
):
    out = tmp_path / "out"  # tmp_path holds the project file
    export_dataset(exported_project, "openai", out)
    record = json.loads((out / "training.jsonl").read_text().splitlines()[0])
    assert set(record) == {"input", "preferred_output", "non_preferred_output"}
    assert record["input"]["messages"][-1]["role"] == "user"
    assert record["preferred_output"][0]["role"] == "assistant"
    assert (out / "validation.jsonl").exists()


def test_csv_has_the_guide_columns(exported_project: ProjectStore, tmp_path: Path):
    out = tmp_path / "out"  # tmp_path holds the project file
    pandas = pytest.importorskip("pandas")
    export_dataset(exported_project, "csv", out)
    frame = pandas.read_csv(out / "train.csv")
    for column in ("prompt", "better_response", "weaker_response", "diagnosis", "scores"):
        assert column in frame.columns
    with (out / "train.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert json.loads(row["scores"])["weaker"]["clarity"] == 1


def test_json_and_hh(exported_project: ProjectStore, tmp_path: Path):
    export_dataset(exported_project, "json", tmp_path / "j")
    records = json.loads((tmp_path / "j" / "train.json").read_text())
    assert records[0]["better_response"].startswith("answer 0")
    export_dataset(exported_project, "hh", tmp_path / "h")
    record = json.loads((tmp_path / "h" / "train.jsonl").read_text().splitlines()[0])
    assert record["chosen"].startswith("\n\nHuman: Question")
    assert "\n\nAssistant: answer 0" in record["chosen"]
    assert "\n\nAssistant: answer 2" in record["rejected"]


def test_split_keeps_near_copies_together(exported_project: ProjectStore, tmp_path: Path):
    clusters = prompt_clusters(exported_project)
    assert len(set(clusters.values())) == 40
    for seed in range(5):
        out = tmp_path / str(seed)
        export_dataset(exported_project, "jsonl", out, val_fraction=0.3, seed=seed)
        sides = {}
        for side in ("train", "validation"):
            for line in (out / f"{side}.jsonl").read_text().splitlines():
                sides.setdefault(clusters[json.loads(line)["prompt_id"]], set()).add(side)
        assert all(len(found) == 1 for found in sides.values())


def test_manifest_and_rounds_are_recorded(exported_project: ProjectStore, tmp_path: Path):
    first = export_dataset(exported_project, "trl", tmp_path / "r1", limit=10, seed=2)
    second = export_dataset(exported_project, "trl", tmp_path / "r2", limit=30, seed=2)
    assert (first.number, second.number) == (1, 2)
    assert set(first.pair_keys) <= set(second.pair_keys)
    assert len(second.pair_keys) == 30
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert manifest["train_pairs"] + manifest["validation_pairs"] == 10
    assert manifest["rubric_sha256"] == exported_project.meta.rubric_sha256
    assert set(manifest["files"]) == {"train.jsonl", "validation.jsonl"} or set(
        manifest["files"]
    ) == {"train.jsonl"}
    third = export_dataset(exported_project, "trl", tmp_path / "r3", new_only=True)
    assert not set(third.pair_keys) & set(second.pair_keys)
    assert len(third.pair_keys) == 15
    with pytest.raises(DpoError, match="no pairs to export"):
        export_dataset(exported_project, "trl", tmp_path / "r4", new_only=True)
    assert [r.number for r in exported_project.rounds()] == [1, 2, 3]


def test_first_round_is_stratified_by_source(exported_project: ProjectStore):
    pairs = collect_pairs(exported_project).exportable
    picked = select_round(pairs, 10, seed=4)
    assert len(picked) == 10
    assert sorted(p.source for p in picked).count("src0") == 5


def _pair(prompt: str) -> PreferencePair:
    return PreferencePair(
        prompt_id=prompt,
        prompt=prompt,
        chosen_id=f"{prompt}c",
        rejected_id=f"{prompt}r",
        chosen="c",
        rejected="r",
        diagnosis="",
        chosen_scores={},
        rejected_scores={},
        margin=0.5,
        annotators=("a",),
        status="single",
    )


@settings(max_examples=200, deadline=None)
@given(
    prompts=st.lists(st.text(alphabet="abcdef", min_size=1, max_size=4), min_size=1, max_size=60),
    groups=st.integers(min_value=1, max_value=10),
    fraction=st.floats(min_value=0, max_value=0.9),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_split_never_puts_a_prompt_or_cluster_on_both_sides(prompts, groups, fraction, seed):
    pairs = [_pair(p) for p in prompts] + [_pair(p) for p in prompts[:3]]
    cluster_of = {p: str(hash(p) % groups) for p in prompts}
    train, validation = split_pairs(pairs, fraction, seed, cluster_of)
    assert len(train) + len(validation) == len(pairs)
    assert not {p.prompt_id for p in train} & {p.prompt_id for p in validation}
    assert not {cluster_of[p.prompt_id] for p in train} & {
        cluster_of[p.prompt_id] for p in validation
    }
    assert split_pairs(pairs, fraction, seed, cluster_of) == (train, validation)
    assert pair_key(pairs[0]) == (pairs[0].prompt_id, pairs[0].chosen_id, pairs[0].rejected_id)


def score(
    store: ProjectStore, prompt: Prompt, annotator: str, clarity: list[int], flags: tuple = ()
) -> None:
    from dpo_tui.core.models import Judgement

    for cand, value in zip(store.candidates(prompt.id), clarity, strict=True):
        store.set_score(cand.id, annotator, "clarity", value)
        store.set_score(cand.id, annotator, "safety", 3)
    store.save_judgement(
        Judgement(
            prompt_id=prompt.id, annotator=annotator, diagnosis=f"{annotator} says so", flags=flags
        )
    )


def test_two_annotators_agree_or_dispute(project: ProjectStore, tmp_path: Path):
    out = tmp_path / "out"  # tmp_path holds the project file
    build(project, 3)
    first, second, third = list(project.prompts())
    score(project, first, "bob", [4, 3, 2])  # same order: agreed
    score(project, second, "bob", [1, 3, 5])  # reversed: disputed
    score(project, third, "bob", [5, 3, 1], flags=("unclear",))  # unclear: disputed
    pairs = {p.prompt_id: p for p in collect_pairs(project).pairs if "alice" in p.annotators}
    assert pairs[first.id].status == "agreed"
    assert pairs[first.id].annotators == ("alice", "bob")
    assert pairs[first.id].chosen_scores == {"clarity": 4.5, "safety": 3}
    assert "alice: first is clearer" in pairs[first.id].diagnosis
    assert "bob: bob says so" in pairs[first.id].diagnosis
    assert pairs[second.id].status == "disputed"
    assert pairs[third.id].status == "disputed"
    round_ = export_dataset(project, "jsonl", out, val_fraction=0)
    assert round_.train_pairs == 1
    assert round_.disputed_excluded == 3  # alice's two and bob's reversed pair
