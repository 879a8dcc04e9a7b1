"""Judge calibration on a hand-made project where every figure is worked out by hand below
(alpha is cross-checked with the `krippendorff` package, rho with scipy)."""

import krippendorff
import numpy as np
import pytest
from scipy.stats import spearmanr

from dpo_tui.core.judge_calibration import (
    CalibrationInput,
    JudgeFacts,
    VerdictFacts,
    judge_calibration,
)
from dpo_tui.core.judge_figures import MIN_SHARED_ITEMS, judge_pairs_refusal
from dpo_tui.core.models import Criterion, Judgement, PairPolicy, Rubric, RubricInfo, Scale

JUDGE = "judge:tiny@000000000000"
RUBRIC = Rubric(
    rubric=RubricInfo(name="One", domain="tests", description="d", success="s"),
    pairs=PairPolicy(min_margin=0),
    criteria=[
        Criterion(
            key="q",
            label="Quality",
            question="How good?",
            scale=Scale(min=1, max=5, labels={1: "bad", 5: "good"}),
        )
    ],
)

# Each annotator's value of the one criterion q (total = (q - 1) / 4, so totals order as q).
CARDS = {
    ("p1", JUDGE): {"a1": 5, "b1": 3, "c1": 1},
    ("p1", "alice"): {"a1": 5, "b1": 4, "c1": 1},
    ("p1", "bob"): {"a1": 4, "b1": 4, "c1": 2},
    ("p2", JUDGE): {"a2": 2, "b2": 4},
    ("p2", "alice"): {"a2": 4, "b2": 2},
    ("p2", "bob"): {"a2": 1, "b2": 5},
    ("p3", JUDGE): {"a3": 3, "b3": 3, "c3": 5},
    ("p3", "alice"): {"a3": 2, "b3": 3, "c3": 5},
    ("p4", JUDGE): {"a4": 4, "b4": 1},  # no human judged p4
}
# (prompt, annotator) -> (item order, judge's scores shown)
JUDGEMENTS = {
    ("p1", "alice"): ("file", False),
    ("p1", "bob"): ("random", False),
    ("p2", "alice"): ("random", False),
    ("p2", "bob"): ("uncertain", True),
    ("p3", "alice"): ("", True),
    ("p1", JUDGE): ("", False),  # a judge's judgement counts in no item order
}
SAMPLES = {
    "p1": {"a1": [5, 5], "b1": [3], "c1": [1, 1]},
    "p2": {"a2": [2], "b2": [3, 5]},
    "p3": {"a3": [3], "b3": [3], "c3": [5]},
    "p4": {"a4": [4], "b4": [1]},
}
VERDICTS = [
    VerdictFacts("p1", "a1", "c1", "a1"),
    VerdictFacts("p1", "c1", "a1", "a1"),  # the same after the swap
    VerdictFacts("p2", "b2", "a2", None),  # failed, then asked again:
    VerdictFacts("p2", "b2", "a2", "b2"),  # the latest answer counts
    VerdictFacts("p2", "a2", "b2", "a2"),  # the first shown wins both times: inconsistent
    VerdictFacts("p3", "c3", "a3", "c3"),
    VerdictFacts("p3", "a3", "c3", None),  # failed: the swap is counted apart
    VerdictFacts("p4", "a4", "b4", "a4"),  # asked in one order only
]
# A response's length is ten times the judge's score of it: the judge's rho is exactly 1.
LENGTHS = {cid: 10 * q for (_, a), item in CARDS.items() if a == JUDGE for cid, q in item.items()}


def data() -> CalibrationInput:
    return CalibrationInput(
        cards={key: {cid: {"q": q} for cid, q in item.items()} for key, item in CARDS.items()},
        judgements={
            (pid, who): Judgement(prompt_id=pid, annotator=who, item_order=order, suggested=shown)
            for (pid, who), (order, shown) in JUDGEMENTS.items()
        },
        judges=[
            JudgeFacts(
                name=JUDGE,
                samples={
                    pid: {cid: [{"q": q} for q in qs] for cid, qs in item.items()}
                    for pid, item in SAMPLES.items()
                },
                verdicts=VERDICTS,
                failures=2,
            )
        ],
        lengths=LENGTHS,
    )


@pytest.fixture(scope="module")
def calibration():
    return judge_calibration(RUBRIC, data())


def test_humans_item_orders_and_references(calibration):
    assert calibration.humans == ["alice", "bob"]
    assert calibration.item_orders == {"file": 1, "random": 2, "uncertain": 1, "unknown": 1}
    assert calibration.tolerance == 0
    assert calibration.min_shared_items == MIN_SHARED_ITEMS == 50
    mt_bench, alpaca = calibration.references
    assert (mt_bench.judge_human, mt_bench.human_human) == (0.66, 0.63)
    assert (alpaca.judge_human, alpaca.human_human) == (0.69, 0.66)
    assert calibration.swap_inconsistent_reference == 0.35
    [judge] = calibration.judges
    assert judge.judge == JUDGE
    assert (judge.prompts, judge.candidates, judge.samples, judge.failures) == (4, 10, 13, 2)
    assert judge.judge_only_prompts == 1  # p4


def test_per_criterion(calibration):
    [criterion] = calibration.judges[0].criteria
    # (judge, human) per candidate and human:
    # p1 alice (5,5) (3,4) (1,1); p1 bob (5,4) (3,4) (1,2); p2 alice (2,4) (4,2);
    # p2 bob (2,1) (4,5); p3 alice (3,2) (3,3) (5,5)
    judge = [5, 3, 1, 5, 3, 1, 2, 4, 2, 4, 3, 3, 5]
    human = [5, 4, 1, 4, 4, 2, 4, 2, 1, 5, 2, 3, 5]
    assert criterion.criterion == "q"
    assert criterion.units == 13
    assert criterion.exact == pytest.approx(4 / 13)  # (5,5) (1,1) (3,3) (5,5)
    assert criterion.within_one == pytest.approx(11 / 13)  # all but (2,4) and (4,2)
    # judge - human: 0 -1 0 +1 -1 -1 -2 +2 +1 -1 +1 0 0 = -1
    assert criterion.mean_difference == pytest.approx(-1 / 13)
    theirs = krippendorff.alpha(np.array([judge, human], float), level_of_measurement="ordinal")
    assert criterion.alpha == pytest.approx(theirs)
    assert criterion.alpha == pytest.approx(0.7131, abs=1e-4)
    # spreads of the candidates with 2+ samples: a1 [5,5] 0, c1 [1,1] 0, b2 [3,5] 1
    assert criterion.sample_spread == pytest.approx(1 / 3)


def test_pair_direction_and_chosen_with_the_humans(calibration):
    judge = calibration.judges[0]
    # p1 (a1b1 a1c1 b1c1): judge > > >, alice > > > (3 of 3), bob = > > (2 of 3);
    # p2 (a2b2): judge <, alice > (reversed), bob < (agrees);
    # p3 (a3b3 a3c3 b3c3): judge = < <, alice < < < (2 of 3)
    direction = judge.pair_direction
    assert (direction.items, direction.pairs, direction.agreed, direction.reversed) == (3, 11, 8, 1)
    assert direction.percent == pytest.approx(8 / 11)
    # best candidates: judge p1 {a1}, p2 {b2}, p3 {c3}; alice {a1} {a2} {c3};
    # bob {a1, b1} (tied) {b2}
    chosen = judge.chosen
    assert (chosen.items, chosen.comparisons, chosen.agreed, chosen.with_ties) == (3, 5, 3, 1)


def test_shared_items_against_the_humans_own_agreement(calibration):
    judge = calibration.judges[0]
    assert judge.shared_items == 2  # p1 and p2: two humans and the judge
    jh, hh = judge.shared_judge_human, judge.shared_human_human
    assert (jh.items, jh.pairs, jh.agreed) == (2, 8, 6)  # p1 5 of 6, p2 1 of 2
    # alice and bob: p1 = vs > on a1b1, agree on a1c1 and b1c1; p2 > vs <
    assert (hh.items, hh.pairs, hh.agreed, hh.reversed) == (2, 4, 2, 1)
    assert (jh.percent, hh.percent) == (0.75, 0.5)
    judge_chosen, human_chosen = judge.shared_judge_chosen, judge.shared_human_chosen
    assert (judge_chosen.comparisons, judge_chosen.agreed, judge_chosen.with_ties) == (4, 2, 1)
    assert (human_chosen.comparisons, human_chosen.agreed, human_chosen.with_ties) == (2, 0, 1)
    assert judge.meets_humans is None  # 2 shared items: fewer than 50


def test_position_consistency_and_own_scores(calibration):
    position = calibration.judges[0].position
    # the latest answer per order: p1 a1/a1, p2 b2/a2, p3 c3/failed, p4 a4 (one order)
    assert (position.verdicts, position.failed) == (7, 1)
    assert (position.swapped, position.consistent, position.swap_failed) == (2, 1, 1)
    assert position.consistency == 0.5
    # valid: a1 (shown first), a1 (second), b2 (first), a2 (first), c3 (first), a4 (first)
    assert position.first_shown_wins == pytest.approx(5 / 6)
    # judge's scores: a1 > c1, b2 > a2, c3 > a3, a4 > b4: only "a2" over b2 goes against them
    assert (position.scored, position.agree_with_scores) == (6, 5)
    assert position.scores_agreement == pytest.approx(5 / 6)


def test_length_bias(calibration):
    length = calibration.judges[0].length
    assert (length.judge_rho, length.judge_n) == (pytest.approx(1.0), 10)
    human = [5, 4, 1, 4, 4, 2, 4, 2, 1, 5, 2, 3, 5]
    sizes = [50, 30, 10, 50, 30, 10, 20, 40, 20, 40, 30, 30, 50]
    assert length.human_n == 13
    assert length.human_rho == pytest.approx(spearmanr(human, sizes).statistic)
    assert length.human_rho == pytest.approx(0.7153, abs=1e-4)


def test_suggested_against_blind(calibration):
    judge = calibration.judges[0]
    # shown the judge's scores: p2 bob (1 of 1), p3 alice (2 of 3)
    assert (judge.suggested.items, judge.suggested.pairs, judge.suggested.agreed) == (2, 4, 3)
    # blind: p1 alice (3 of 3), p1 bob (2 of 3), p2 alice (0 of 1)
    assert (judge.blind.items, judge.blind.pairs, judge.blind.agreed) == (2, 7, 5)


def test_verdict_in_words(calibration):
    assert calibration.judges[0].verdict == (
        "the judge agrees with humans on 75% of pair directions; humans agree with each other "
        "on 50% (on 2 shared items); fewer than 50 shared items: too few to trust its pairs on "
        "their own; its verdict changes when the two responses are swapped on 50% of 2 pairs "
        "(GPT-4 on MT-Bench: 35%); 1 verdict failed; its verdicts agree with its own scores on "
        "83% of 6 verdicts; Spearman's rho of its totals with response length 1.00 (humans 0.72); "
        "humans shown its scores agree with it on 75% of pair directions (2 items), blind on "
        "71% (2 items)"
    )


def test_anchoring_is_named_and_no_overlap_is_said():
    facts = data()
    judgements = dict(facts.judgements)
    judgements["p1", "alice"] = judgements["p1", "alice"].model_copy(update={"suggested": True})
    figures = judge_calibration(
        RUBRIC, CalibrationInput(facts.cards, judgements, facts.judges, facts.lengths)
    ).judges[0]
    # shown: p1 alice 3 of 3, p2 bob 1 of 1, p3 alice 2 of 3 = 6 of 7; blind: 2 of 4
    assert (figures.suggested.agreed, figures.suggested.pairs) == (6, 7)
    assert (figures.blind.agreed, figures.blind.pairs) == (2, 4)
    assert figures.verdict.endswith(
        "humans shown its scores agree with it on 86% of pair directions (3 items), blind on "
        "50% (2 items): shown its scores, humans follow them (anchoring)"
    )
    alone = {k: v for k, v in facts.cards.items() if k[0] == "p4" or k[1] != JUDGE}
    lonely = judge_calibration(
        RUBRIC, CalibrationInput(alone, {}, facts.judges, facts.lengths)
    ).judges[0]
    assert lonely.pair_direction.pairs == 0
    assert lonely.verdict.startswith("no candidate pair was totalled by both the judge and a")


def test_refusal_needs_fifty_shared_items_and_the_humans_agreement(calibration):
    judge = calibration.judges[0]
    message, hint = judge_pairs_refusal(judge, None)
    assert "judge pairs need at least 50 shared items" in message
    assert "on 2 shared items" in message
    assert "dpo-tui assign" in hint
    enough = judge.model_copy(update={"shared_items": 50})
    assert judge_pairs_refusal(enough, None) is None  # 75% against the humans' 50%
    assert judge_pairs_refusal(enough, 0.75) is None
    message, hint = judge_pairs_refusal(enough, 0.8)
    assert "below --judge-min-agreement (80%)" in message
    behind = enough.model_copy(
        update={"shared_human_human": enough.shared_human_human.model_copy(update={"percent": 0.9})}
    )
    message, _ = judge_pairs_refusal(behind, None)
    assert "agrees with humans on 75% of pair directions and humans with each other on 90%" in (
        message
    )
    assert "below the humans' own agreement (90%)" in message
