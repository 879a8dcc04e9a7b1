"""A rubric revision, criterion by criterion: what each kind of change does to old scores."""

from __future__ import annotations

import pytest

from dpo_tui.core.models import Rubric
from dpo_tui.core.revision import Lineage, RevisionError, plan_step


def rubric(*criteria: dict, policy: str = "best-worst", margin: float = 0.1) -> Rubric:
    return Rubric.model_validate(
        {
            "rubric": {"name": "r", "domain": "d", "description": "x", "success": "y"},
            "pairs": {"policy": policy, "min_margin": margin},
            "criteria": list(criteria),
        }
    )


def criterion(key: str, low: int = 1, high: int = 5, **extra: object) -> dict:
    return {
        "key": key,
        "label": key.title(),
        "question": f"{key}?",
        "scale": {"min": low, "max": high, "labels": {low: "bad", high: "good"}},
        **extra,
    }


V1 = rubric(criterion("clarity"), criterion("safety", 1, 3))


def kinds(step) -> dict[str, str]:
    return {c.key: c.kind for c in step.changes}


def test_unchanged_criteria_are_kept_and_scores_carry():
    step = plan_step(V1, rubric(criterion("clarity", weight=2.0), criterion("safety", 1, 3)), {})
    assert kinds(step) == {"clarity": "kept", "safety": "kept"}
    assert step.needs_scores == ()
    assert step.other == ("clarity: weight 1 -> 2",)
    assert step.translate({"clarity": 4, "safety": 2}) == {"clarity": 4, "safety": 2}


def test_a_mapped_criterion_is_renamed_and_its_scores_count_for_the_new_key():
    step = plan_step(
        V1,
        rubric(criterion("completeness"), criterion("safety", 1, 3)),
        {"clarity": "completeness"},
    )
    assert kinds(step) == {"completeness": "renamed", "safety": "kept"}
    assert step.translate({"clarity": 4, "safety": 2}) == {"completeness": 4, "safety": 2}


def test_a_rescaled_criterion_is_stale_by_default_and_linear_on_request():
    new = rubric(criterion("clarity", 1, 3), criterion("safety", 1, 3))
    stale = plan_step(V1, new, {})
    assert kinds(stale)["clarity"] == "rescaled"
    assert stale.needs_scores == ("clarity",)
    assert stale.translate({"clarity": 5, "safety": 3}) == {"safety": 3}
    linear = plan_step(V1, new, {}, "linear")
    assert linear.needs_scores == ()
    # 1..5 onto 1..3: 1 -> 1, 2 -> 1.5 -> 2 (half up), 3 -> 2, 4 -> 2.5 -> 3, 5 -> 3
    assert [linear.translate({"clarity": v})["clarity"] for v in range(1, 6)] == [1, 2, 2, 3, 3]


def test_an_added_criterion_needs_scores_and_a_removed_one_stops_counting():
    step = plan_step(V1, rubric(criterion("clarity"), criterion("tone", 1, 4)), {})
    assert kinds(step) == {"clarity": "kept", "tone": "added", "safety": "removed"}
    assert step.needs_scores == ("tone",)
    assert step.translate({"clarity": 2, "safety": 1}) == {"clarity": 2}


def test_changes_needing_no_scores_are_listed():
    new = rubric(
        criterion("safety", 1, 3, veto_below=2),
        criterion("clarity", guidance="say more"),
        policy="all-pairs",
        margin=0.2,
    )
    step = plan_step(V1, new, {})
    assert step.needs_scores == ()
    assert set(step.other) == {
        "pair policy: best-worst -> all-pairs",
        "min margin: 0.1 -> 0.2",
        "safety: veto below None -> 2",
        "clarity: guidance changed",
        "criteria order changed",
    }


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"tone": "clarity"}, "the project's rubric has no criterion 'tone'"),
        ({"clarity": "tone"}, "the new rubric has no criterion 'tone'"),
        ({"clarity": "safety", "safety": "safety"}, "given scores by more than one"),
    ],
)
def test_a_mapping_that_does_not_fit_is_refused(mapping, problem):
    with pytest.raises(RevisionError, match=problem):
        plan_step(V1, V1, mapping)


def test_a_lineage_translates_through_every_later_version():
    v2 = rubric(criterion("completeness"), criterion("safety", 1, 3))
    v3 = rubric(criterion("completeness", 1, 3), criterion("safety", 1, 3), criterion("tone"))
    lineage = Lineage(
        [V1, v2, v3],
        [plan_step(V1, v2, {"clarity": "completeness"}), plan_step(v2, v3, {}, "linear")],
    )
    assert lineage.current == 3
    assert lineage.translate({"clarity": 5, "safety": 1}, 1) == {"completeness": 3, "safety": 1}
    assert lineage.translate({"completeness": 1, "safety": 2}, 2) == {
        "completeness": 1,
        "safety": 2,
    }
    assert lineage.translate({"completeness": 2, "tone": 4, "safety": 3}, 3) == {
        "completeness": 2,
        "tone": 4,
        "safety": 3,
    }
