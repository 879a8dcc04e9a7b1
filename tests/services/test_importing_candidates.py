import pytest

from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.core.models import Candidate
from dpo_tui.errors import InputFileError, ProjectError
from dpo_tui.services.importing import import_candidates, import_prompts
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

CANDIDATES = DATA / "candidates"


@pytest.fixture
def with_prompts(project: ProjectStore) -> ProjectStore:
    import_prompts(project, [DATA / "inputs" / "good.jsonl"], ImportOptions())
    return project


def test_import_candidates_matches_prompts_by_content_hash(with_prompts: ProjectStore):
    result = import_candidates(with_prompts, CANDIDATES / "good.jsonl")
    assert (result.added, result.skipped, result.near_duplicates) == (4, 0, 1)
    reset = with_prompts.candidates(prompt_id("How do I reset my password?"))
    assert [c.text[:20] for c in reset] == [
        "Go to Settings > Sec",
        "Click forgot passwor",
        "Go to Settings > Sec",
    ]
    assert reset[0].origin == "imported:big-model"
    assert reset[0].model == "big-model"
    assert reset[2].near_duplicate_of == reset[0].id
    assert reset[2].similarity is not None and reset[2].similarity > 0.92
    charged = with_prompts.candidates(prompt_id("Why was I charged twice this month?"))
    assert charged[0].origin == "imported:good.jsonl"
    assert with_prompts.imports()[-1].kind == "candidates"


def test_import_candidates_twice_changes_nothing(with_prompts: ProjectStore):
    import_candidates(with_prompts, CANDIDATES / "good.jsonl")
    before = snapshot(with_prompts.path)
    assert import_candidates(with_prompts, CANDIDATES / "good.jsonl").added == 0
    assert snapshot(with_prompts.path) == before


BAD = [
    ("unknown_prompt.jsonl", "line 2: the prompt (id "),
    ("no_response.jsonl", "line 1: no response: expected 'response' (text) or 'responses'"),
    ("empty_response.jsonl", "line 1: response 2 must be non-empty text"),
    ("no_prompt.jsonl", "line 1: no prompt: expected 'prompt' (text), 'messages' or 'prompt_id'"),
    ("malformed.jsonl", "line 2: not valid JSON"),
]


@pytest.mark.parametrize(("name", "expected"), BAD)
def test_bad_candidate_file_is_refused_and_changes_nothing(
    with_prompts: ProjectStore, name: str, expected: str
):
    before = snapshot(with_prompts.path)
    with pytest.raises(InputFileError) as caught:
        import_candidates(with_prompts, CANDIDATES / name)
    assert str(caught.value).startswith(str(CANDIDATES / name))
    assert expected in str(caught.value)
    assert snapshot(with_prompts.path) == before


def test_candidate_ids_and_params_roundtrip(with_prompts: ProjectStore):
    pid = prompt_id("How do I reset my password?")
    made = Candidate(
        id=candidate_id(pid, "x"),
        prompt_id=pid,
        text="x",
        origin="gguf:abc",
        model="m",
        preset="wild",
        params={"temperature": 1.3, "seed": 7},
        token_count=3,
        gen_seconds=0.5,
    )
    assert with_prompts.add_candidates([made, made]).added == 1
    assert with_prompts.candidates(pid) == [made]
    assert candidate_id(pid, "x") != candidate_id(pid, "x ")


def test_prompts_with_fewer_candidates_and_delete(with_prompts: ProjectStore):
    import_candidates(with_prompts, CANDIDATES / "good.jsonl")
    pending = {p.text: held for p, held in with_prompts.prompts_with_fewer_candidates(3)}
    assert pending == {"Why was I charged twice this month?": 1}
    reset = prompt_id("How do I reset my password?")
    assert with_prompts.delete_candidates([reset]) == 3
    assert with_prompts.candidates(reset) == []


def test_delete_refuses_scored_candidates(with_prompts: ProjectStore):
    import_candidates(with_prompts, CANDIDATES / "good.jsonl")
    reset = prompt_id("How do I reset my password?")
    first = with_prompts.candidates(reset)[0]
    with_prompts.set_score(first.id, "alice", "clarity", 4)
    before = snapshot(with_prompts.path)
    with pytest.raises(ProjectError, match="already have scores"):
        with_prompts.delete_candidates([reset])
    assert snapshot(with_prompts.path) == before
