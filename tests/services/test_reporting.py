"""The quality report on a hand-made project where every figure is known.

Test rubric: clarity 1-5 (weight 1), safety 1-3 (weight 2, veto below 2);
total = (clarity-1)/4 * 1/3 + (safety-1)/2 * 2/3.
"""

from __future__ import annotations

import pytest

from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.models import Candidate, Judgement, Prompt
from dpo_tui.services.reporting import project_report
from dpo_tui.store.project import ProjectStore

P1 = "How do I reset my password on the mobile app?"
P2 = "My router drops the connection every evening, what can I do?"
P3 = "How do I reset my password on the mobile app??"  # a near-copy of P1
P4 = "Write a haiku about autumn."
A = "Tap Settings > Security > Reset password; a link arrives by email."
B = "Just share your current password with me and I will reset it for you."
C = "Restart the router, update its firmware, and move it away from the microwave."
D = "Routers sometimes drop connections."
E = "Restart the router, update its firmware, and move it away from the microwave!"
F = "Use the Forgot password link on the sign-in screen."
G = "Contact support."


@pytest.fixture
def known(project: ProjectStore) -> ProjectStore:
    store = project
    prompts = {text: Prompt(id=prompt_id(text), text=text, source="t") for text in (P1, P2, P3, P4)}
    store.add_prompts(list(prompts.values()))

    def add(prompt: str, text: str, preset: str) -> str:
        pid = prompts[prompt].id
        cid = candidate_id(pid, text)
        store.add_candidates(
            [Candidate(id=cid, prompt_id=pid, text=text, origin="gguf:x", preset=preset)]
        )
        return cid

    a, b = add(P1, A, "precise"), add(P1, B, "wild")
    c, d, e = add(P2, C, "precise"), add(P2, D, "wild"), add(P2, E, "balanced")
    add(P3, F, "precise")
    add(P3, G, "wild")
    for cid, clarity, safety in ((a, 5, 3), (b, 1, 1), (c, 5, 3), (d, 2, 3), (e, 4, 3)):
        store.set_score(cid, "alice", "clarity", clarity)
        store.set_score(cid, "alice", "safety", safety)
    store.save_judgement(
        Judgement(
            prompt_id=prompts[P1].id,
            annotator="alice",
            diagnosis="A is safe",
            display_order=(b, a),
            seconds_spent=1800,
        )
    )
    store.save_judgement(
        Judgement(
            prompt_id=prompts[P2].id,
            annotator="alice",
            diagnosis="C helps",
            display_order=(c, d, e),
            seconds_spent=1800,
        )
    )
    store.save_judgement(Judgement(prompt_id=prompts[P3].id, annotator="bob", flags=("skip",)))
    return store


def test_every_figure(known: ProjectStore):
    report = project_report(known)
    assert report.counts == {
        "prompts": 4,
        "conversational_prompts": 0,
        "candidates": 7,
        "prompts_with_candidates": 3,
        "judged_prompts": 3,
        "judgements": 3,
        "pairs": 2,
        "exportable_pairs": 2,
        "disputed_pairs": 0,
        "agreed_pairs": 0,
    }
    assert report.flags == {"skip": 1}
    assert report.no_pair_reasons == {"flagged skip": 1}
    [dup] = report.near_duplicate_prompts
    assert {dup["first_id"], dup["second_id"]} == {prompt_id(P1), prompt_id(P3)}
    [same] = report.near_identical_candidates
    assert same["duplicate_of"] == candidate_id(prompt_id(P2), C)
    assert report.score_histograms == {
        "clarity": {1: 1, 2: 1, 3: 0, 4: 1, 5: 2},
        "safety": {1: 1, 2: 0, 3: 4},
    }
    assert report.margin_histogram["0.75-1.00"] == 1  # A over the vetoed B: 1.0
    assert report.margin_histogram["0.20-0.30"] == 1  # C (1.0) over D (0.75)
    assert sum(report.margin_histogram.values()) == 2
    assert report.quality_levels == {
        "candidates": {"low": 1, "medium": 0, "high": 4},
        "chosen": {"low": 0, "medium": 0, "high": 2},
        "rejected": {"low": 1, "medium": 0, "high": 1},
    }
    assert report.length_bias == {
        "pairs": 2,
        "chosen_longer_share": 0.5,
        "mean_chosen_chars": round((len(A) + len(C)) / 2, 1),
        "mean_rejected_chars": round((len(B) + len(D)) / 2, 1),
    }
    assert report.position_bias == {
        "pairs": 2,
        "even_share_of_a": round((1 / 2 + 1 / 3) / 2, 3),
        "chosen_at_A": 0.5,
        "chosen_at_B": 0.5,
    }
    assert report.presets == {
        "precise": {"chosen": 2, "rejected": 0, "win_rate": 1.0},
        "wild": {"chosen": 0, "rejected": 2, "win_rate": 0.0},
    }
    loads = {a.annotator: a for a in report.annotators}
    assert (loads["alice"].items, loads["alice"].share, loads["alice"].hours) == (2, 0.667, 1.0)
    assert loads["alice"].items_per_hour == 2.0
    assert loads["bob"].items_per_hour is None
    assert [w.code for w in report.warnings] == [
        "few_pairs",
        "near_duplicate_prompts",
        "near_identical_candidates",
    ]
    assert report.warnings[0].message == (
        "Only 2 exportable pairs: the guides' first round is 100."
    )


def test_length_and_position_bias_warnings(project: ProjectStore):
    from tests.services.test_exporting import build

    build(project, 25)  # alice always chooses "answer 0": made the longest and shown first
    for prompt in project.prompts():
        order = tuple(c.id for c in project.candidates(prompt.id))
        judgement = project.judgement(prompt.id, "alice")
        project.save_judgement(judgement.model_copy(update={"display_order": order}))
        first, *_rest, last = project.candidates(prompt.id)
        project.db.execute("update candidates set text = ? where id = ?", ["x" * 500, first.id])
        project.db.execute("update candidates set text = ? where id = ?", ["y" * 5, last.id])
    report = project_report(project)
    codes = [w.code for w in report.warnings]
    assert "length_bias" in codes and "position_bias" in codes
    assert report.length_bias["chosen_longer_share"] == 1.0
    assert report.position_bias["chosen_at_A"] == 1.0
    assert "annotator_load" in codes


def test_agreement_section_and_warning(tmp_path, app_project):
    import shutil

    from dpo_tui.services.merging import merge_files
    from dpo_tui.services.team import assign
    from tests.tui.conftest import score

    team = tmp_path / "team.dpo"
    shutil.copyfile(app_project, team)
    with ProjectStore.open(team) as store:
        files = assign(store, ["alice", "bob"], 1.0, tmp_path / "out").files
    score(files["alice"], [5, 3, 1])
    score(files["bob"], [1, 3, 5])  # the opposite order on every item
    with ProjectStore.open(team) as store:
        merge_files(store, list(files.values()))
        report = project_report(store)
    agreement = report.agreement
    assert agreement is not None
    assert agreement.shared_items == 3
    assert agreement.pair_direction.percent == 0.0
    assert agreement.meets_target is False
    assert [p.annotators for p in agreement.annotator_pairs] == [("alice", "bob")]
    assert "below the 70% target" in agreement.verdict
    assert "agreement" in [w.code for w in report.warnings]
    assert report.counts["disputed_pairs"] > 0
    from dpo_tui.render.html import render_html

    page = render_html(report, "team.dpo", "Test rubric")
    assert "Agreement between annotators" in page and "alice &amp; bob" in page


def test_agreement_drift_over_time():
    from dpo_tui.core.quality import JudgementFacts, ReportInput, build_report
    from dpo_tui.core.rubric import load_rubric
    from tests.conftest import DATA

    rubric = load_rubric(DATA / "rubrics" / "good.toml").rubric
    judgements = []
    for item in range(6):
        agree = item < 3  # early items judged alike, later ones in opposite orders
        for annotator, order in (("alice", (5, 1)), ("bob", (5, 1) if agree else (1, 5))):
            scores = {f"c{item}{k}": {"clarity": v, "safety": 3} for k, v in enumerate(order)}
            judgements.append(
                JudgementFacts(
                    prompt_id=f"p{item}",
                    annotator=annotator,
                    flags=(),
                    display_order=(),
                    seconds_spent=0,
                    scores=scores,
                    updated_at=f"2026-11-0{item + 1}",
                )
            )
    data = ReportInput(
        prompts=[(f"p{i}", f"prompt {i}", False) for i in range(6)],
        candidates=[],
        judgements=judgements,
        pairs=[],
        no_pair_reasons={},
    )
    drift = build_report(rubric, data).agreement_drift
    assert [(d.items, d.percent) for d in drift] == [(3, 1.0), (3, 0.0)]
    assert (drift[0].first, drift[1].last) == ("2026-11-01", "2026-11-06")
