from pathlib import Path

import pytest

from dpo_tui.core.rubric import load_rubric, resolve_rubric
from dpo_tui.errors import RubricError
from dpo_tui.paths import bundled_rubrics
from tests.conftest import DATA, REPO

BAD = {
    "unknown_key.toml": "criteria[1] ('clarity').wieght: unknown key",
    "missing_question.toml": "criteria[1] ('clarity').question: missing required key",
    "scale_max_below_min.toml": "('clarity').scale: max (1) must be greater than min (5)",
    "label_outside_scale.toml": "labels [9] lie outside the scale 1..5",
    "label_missing_end.toml": "labels must name both ends of the scale; missing [5]",
    "scale_too_many_points.toml": "21 points from 0 to 20 is too many",
    "veto_outside_scale.toml": "criteria[2] ('safety'): veto_below (4) must lie above",
    "duplicate_key.toml": "criterion key 'clarity' is used twice",
    "bad_key_shape.toml": "'Clarity Score' is not a valid key",
    "negative_weight.toml": "criteria[2] ('safety').weight: Input should be greater than 0",
    "unknown_policy.toml": "pairs.policy: Input should be 'best-worst', 'all-pairs' or",
    "invalid_toml.toml": "not valid TOML",
    "weight_not_number.toml": "criteria[1] ('clarity').weight: Input should be a valid number",
    "no_criteria.toml": "criteria: missing required key",
    "not_utf8.toml": "line 1: not valid UTF-8",
}


def test_every_bad_rubric_file_has_a_case():
    files = {p.name for p in (DATA / "rubrics").glob("*.toml")} - {"good.toml"}
    assert files == set(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_rubric_names_file_key_and_problem(name: str):
    path = DATA / "rubrics" / name
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert BAD[name] in message


def test_good_rubric_loads_with_text_and_hash():
    loaded = load_rubric(DATA / "rubrics" / "good.toml")
    assert [c.key for c in loaded.rubric.criteria] == ["clarity", "safety"]
    assert loaded.rubric.criteria[1].veto_below == 2
    assert list(loaded.rubric.criteria[1].scale.points) == [1, 2, 3]
    assert loaded.text == (DATA / "rubrics" / "good.toml").read_text()
    assert len(loaded.sha256) == 64


def test_the_five_bundled_rubrics_are_valid():
    bundled = bundled_rubrics()
    expected = {
        "general_assistant",
        "customer_support",
        "code_generation",
        "summarization",
        "academic_writing",
    }
    assert expected <= set(bundled)
    for path in bundled.values():
        rubric = load_rubric(path).rubric
        assert rubric.rubric.success.strip()
        for criterion in rubric.criteria:
            assert len(criterion.scale.labels) == len(criterion.scale.points), criterion.key


def test_bundled_rubrics_cover_the_criteria_the_guides_ask_for():
    keys = {
        name: {c.key for c in load_rubric(p).rubric.criteria}
        for name, p in bundled_rubrics().items()
    }
    assert {"clarity", "correctness", "completeness", "safety", "relevance"} <= keys[
        "general_assistant"
    ]
    assert {"answers_question", "acknowledges_emotion", "next_steps", "tone", "safety"} <= keys[
        "customer_support"
    ]


def test_resolve_by_name_path_and_unknown():
    assert resolve_rubric("customer_support") == REPO / "rubrics" / "customer_support.toml"
    assert resolve_rubric("customer_support.toml").name == "customer_support.toml"
    direct = DATA / "rubrics" / "good.toml"
    assert resolve_rubric(str(direct)) == direct
    with pytest.raises(RubricError, match="bundled rubrics: academic_writing"):
        resolve_rubric("no_such_rubric")


def test_unreadable_path_is_an_error(tmp_path: Path):
    with pytest.raises(RubricError, match="cannot read the file"):
        load_rubric(tmp_path)
