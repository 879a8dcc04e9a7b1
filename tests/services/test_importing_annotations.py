"""import-annotations / export-annotations: round trip, and bad files refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpo_tui.core.rubric import load_rubric
from dpo_tui.errors import InputFileError
from dpo_tui.services.importing import export_annotations, import_annotations
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

BAD = DATA / "annotations"


def everything(store: ProjectStore) -> dict[str, object]:
    return {
        "scores": sorted(
            store.db.execute(
                "select candidate_id, annotator, card.key, card.value "
                "from scores, json_each(scores.criteria) card"
            )
        ),
        "judgements": sorted(
            store.db.execute("select prompt_id, annotator, diagnosis, flags from judgements")
        ),
        "candidates": sorted(store.db.execute("select id, prompt_id, text from candidates")),
        "prompts": sorted(store.db.execute("select id, text from prompts")),
    }


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_round_trip_into_an_empty_project(scored_project: ProjectStore, tmp_path: Path, suffix):
    store = scored_project
    first, second, *_ = list(store.prompts())
    for number, cand in enumerate(store.candidates(first.id)):
        store.set_score(cand.id, "alice", "clarity", 5 - number)
        store.set_score(cand.id, "alice", "safety", 3)
        store.set_score(cand.id, "bob", "clarity", 1 + number)
    from dpo_tui.core.models import Judgement

    store.save_judgement(
        Judgement(
            prompt_id=first.id, annotator="alice", diagnosis='A, says why; with "quotes"\nand lines'
        )
    )
    store.save_judgement(Judgement(prompt_id=second.id, annotator="bob", flags=("tie",)))
    out = tmp_path / f"annotations{suffix}"
    rows = export_annotations(store, out)
    assert rows == 3 + 3 + 2  # alice and bob on the first prompt, bob on the second
    fresh = ProjectStore.create(
        tmp_path / "fresh.dpo", load_rubric(DATA / "rubrics" / "good.toml"), "carol"
    )
    result = import_annotations(fresh, out)
    assert (result.prompts_added, result.candidates_added) == (2, 5)
    assert (result.scores, result.scores_replaced) == (9, 0)
    mine, theirs = everything(store), everything(fresh)
    assert theirs["scores"] == mine["scores"]
    assert [j for j in theirs["judgements"] if j[2] or j[3] != "[]"] == [
        j for j in mine["judgements"] if j[2] or j[3] != "[]"
    ]
    again = import_annotations(fresh, out)
    assert again.scores_replaced == 0
    fresh.close()


def test_existing_scores_are_replaced_and_counted(scored_project: ProjectStore, tmp_path: Path):
    store = scored_project
    first = next(store.prompts())
    cand = store.candidates(first.id)[0]
    store.set_score(cand.id, "alice", "clarity", 2)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        f"prompt_id,candidate_id,annotator,clarity,safety\n{first.id},{cand.id},alice,5,3\n"
    )
    result = import_annotations(store, sheet)
    assert (result.scores, result.scores_replaced) == (2, 1)
    assert store.scores(first.id, "alice")[cand.id] == {"clarity": 5, "safety": 3}


CASES = [
    ("unknown_column.csv", "line 2: unknown column 'charm'"),
    ("outside_scale.csv", "line 3: clarity: '9' is not a whole number on the scale 1..5"),
    ("not_a_number.csv", "line 2: clarity: 'four' is not a whole number"),
    ("unknown_flag.csv", "line 2: unknown flag 'maybe'"),
    (
        "conflicting_diagnosis.csv",
        "line 3: a different diagnosis or flags for the same prompt and annotator as line 2",
    ),
    ("no_annotator.csv", "line 2: the annotator is empty"),
    ("unknown_prompt_id.csv", "line 2: no prompt with id '0123456789abcdef'"),
]


@pytest.mark.parametrize(("name", "expected"), CASES)
def test_bad_annotation_file_is_refused_and_changes_nothing(
    scored_project: ProjectStore, name: str, expected: str
):
    before = snapshot(scored_project.path)
    with pytest.raises(InputFileError) as caught:
        import_annotations(scored_project, BAD / name)
    assert str(caught.value).startswith(str(BAD / name))
    assert expected in str(caught.value)
    assert snapshot(scored_project.path) == before


def test_every_bad_annotation_file_has_a_case():
    assert {p.name for p in BAD.glob("*.csv")} == {name for name, _ in CASES}
