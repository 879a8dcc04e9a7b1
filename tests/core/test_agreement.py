"""Agreement coefficients against published worked examples (to 3 decimals) and, on random data,
against krippendorff, statsmodels and scikit-learn (dev dependencies, used only here)."""

import itertools
import math
import random

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score
from statsmodels.stats import inter_rater

from dpo_tui.core.agreement import (
    DIRECTIONS,
    chosen_agreement,
    direction,
    pair_direction_agreement,
    pair_directions,
    top_candidates,
)
from dpo_tui.core.agreement_report import AgreementReport, ScoreRecord, agreement_report
from dpo_tui.core.stats.coefficients import (
    LEVELS,
    cohen_kappa,
    cohen_kappa_from_table,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
    krippendorff_alpha,
    percent_agreement,
)

N = None
CASES = 50


def units_of(coders):
    """Coders x units (as printed in the sources and taken by `krippendorff.alpha`) -> units x
    coders (as `krippendorff_alpha` takes it)."""
    return [list(unit) for unit in zip(*coders, strict=True)]


def to_nan(coders):
    return np.array([[np.nan if v is None else v for v in row] for row in coders], dtype=float)


def same(ours, theirs, places=9):
    """Equal to `places` decimals, NaN matching NaN."""
    if math.isnan(theirs):
        return math.isnan(ours)
    return round(ours - theirs, places) == 0


# -- Krippendorff's alpha -----------------------------------------------------------------------

KRIPPENDORFF_2011 = [  # observers A-D x units 1-12; None: the observer did not code the unit
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_krippendorff_2011_example(level, published):
    """Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability, section C
    ("any number of observers, missing data"; https://repository.upenn.edu/asc_papers/43):
    4 observers, 12 units, values 1-5; unit 12 has one value and is not pairable. Published:
    alpha nominal .743, ordinal .815, interval .849, ratio .797 (the ordinal and ratio values
    are also asserted by the `krippendorff` package's own test suite,
    tests/test_krippendorff.py)."""
    ours = krippendorff_alpha(units_of(KRIPPENDORFF_2011), level)
    assert round(ours, 3) == published
    theirs = krippendorff.alpha(to_nan(KRIPPENDORFF_2011), level_of_measurement=level)
    assert same(ours, theirs)


WIKIPEDIA_ALPHA = [  # 3 coders x 15 units, values 1-4
    [N, N, N, N, N, 3, 4, 1, 2, 1, 1, 3, 3, N, 3],
    [1, N, 2, 1, 3, 3, 4, 3, N, N, N, N, N, N, N],
    [N, N, 2, 1, 3, 4, 4, N, 2, 1, 1, 3, 3, N, 4],
]


def test_alpha_wikipedia_example():
    """Wikipedia, "Krippendorff's alpha", section "A computational example": 3 coders, 15 units
    with missing values; alpha nominal .691, interval .811 (also asserted as 0.691358 and
    0.810845 by the `krippendorff` package's test suite)."""
    units = units_of(WIKIPEDIA_ALPHA)
    assert round(krippendorff_alpha(units, "nominal"), 3) == 0.691
    assert round(krippendorff_alpha(units, "interval"), 3) == 0.811
    assert round(krippendorff_alpha(units, "nominal"), 6) == 0.691358
    assert round(krippendorff_alpha(units, "interval"), 6) == 0.810845


def test_alpha_accepts_labels_nan_and_ragged_units():
    """Nominal labels need no order; NaN is missing like None; units may differ in length."""
    data = [
        ["pos", "pos", "pos"],
        ["neg", "neg", "neg"],
        ["neu", "neu", "pos"],
        [float("nan"), "pos", "pos"],
    ]
    theirs = krippendorff.alpha(  # coders x units; the package reads the string "nan" as missing
        [["pos", "neg", "neu", np.nan], ["pos", "neg", "neu", "pos"], ["pos", "neg", "pos", "pos"]],
        level_of_measurement="nominal",
    )
    assert round(krippendorff_alpha(data), 6) == round(theirs, 6) == 0.722222
    assert krippendorff_alpha([[1, 2, 2], [3], [None, 1]]) == krippendorff_alpha([[1, 2, 2]])


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package_on_random_data(level):
    """50 random reliability matrices (2-5 coders, 5-30 units, 1-5 scale, ~25% missing)."""
    rng = random.Random(f"alpha-{level}")
    compared = 0
    for _ in range(CASES):
        coders = [
            [rng.randint(1, 5) if rng.random() > 0.25 else None for _ in range(rng.randint(5, 30))]
            for _ in range(rng.randint(2, 5))
        ]
        width = min(len(row) for row in coders)
        coders = [row[:width] for row in coders]
        ours = krippendorff_alpha(units_of(coders), level)
        try:
            theirs = krippendorff.alpha(to_nan(coders), level_of_measurement=level)
        except ValueError:  # the package refuses data with one value or nothing pairable
            assert math.isnan(ours)
            continue
        assert same(ours, theirs)
        compared += 1
    assert compared >= 45


def test_alpha_edge_cases():
    """Perfect agreement on 2+ values: 1.0 (as the package). One value only, or nothing
    pairable: D_e = 0, undefined, NaN (the package raises ValueError for both)."""
    assert krippendorff_alpha([[1, 1, 1], [2, 2], [3, 3, None]], "ordinal") == 1.0
    assert (
        krippendorff.alpha([[1, 2, 3], [1, 2, 3], [1, 2, np.nan]], level_of_measurement="ordinal")
        == 1.0
    )
    assert math.isnan(krippendorff_alpha([[4, 4], [4, 4, 4]]))
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff.alpha([[4, 4], [4, 4]])
    assert math.isnan(krippendorff_alpha([[1, None], [None, 2]]))
    assert math.isnan(krippendorff_alpha([]))
    assert krippendorff_alpha([[0, 0], [1, 1], [2, 2]], "ratio") == 1.0  # 0/0 difference is 0
    with pytest.raises(ValueError, match="negative"):
        krippendorff_alpha([[-1, 1], [1, 1]], "ratio")
    with pytest.raises(ValueError, match="level must be"):
        krippendorff_alpha([[1, 2]], "circular")  # type: ignore[arg-type]


# -- Fleiss' kappa ------------------------------------------------------------------------------

FLEISS_WIKIPEDIA = [  # 10 subjects x 5 categories, 14 raters each
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

FLEISS_1971 = [  # 30 patients x 6 psychiatrists, diagnoses 1-5 (R irr's `diagnoses` data)
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]  # fmt: skip


def test_fleiss_wikipedia_example():
    """Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories;
    P-bar 0.378, P-bar_e 0.213, kappa 0.210 (statsmodels' test_inter_rater.py asserts 0.210
    on the same table)."""
    assert round(fleiss_kappa(FLEISS_WIKIPEDIA), 3) == 0.210
    assert same(
        fleiss_kappa(FLEISS_WIKIPEDIA), inter_rater.fleiss_kappa(np.array(FLEISS_WIKIPEDIA))
    )


def test_fleiss_1971_diagnoses():
    """Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
    Bulletin 76(5), 378-382: 30 patients, 6 psychiatrists, 5 diagnoses, overall kappa .430;
    R irr::kappam.fleiss(diagnoses) gives 0.4302445 (quoted in statsmodels' tests)."""
    ours = fleiss_kappa_from_ratings(FLEISS_1971)
    assert round(ours, 3) == 0.430
    assert round(ours, 7) == 0.4302445
    table, _ = inter_rater.aggregate_raters(np.array(FLEISS_1971))
    assert same(ours, inter_rater.fleiss_kappa(table))


def test_fleiss_matches_statsmodels_on_random_data():
    """50 random cases: 2-30 subjects, 3-8 raters, 2-5 categories."""
    rng = random.Random("fleiss")
    for _ in range(CASES):
        raters, cats = rng.randint(3, 8), rng.randint(2, 5)
        ratings = [[rng.randint(1, cats) for _ in range(raters)] for _ in range(rng.randint(2, 30))]
        table, _ = inter_rater.aggregate_raters(np.array(ratings))
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = inter_rater.fleiss_kappa(table)
        assert same(fleiss_kappa_from_ratings(ratings), theirs)
        assert same(fleiss_kappa(table.tolist()), theirs)


def test_fleiss_missing_and_edge_cases():
    """Units with a missing rating are dropped (listwise, as irr::kappam.fleiss); unequal row
    totals are an error; one category throughout is undefined (NaN, as statsmodels)."""
    with_missing = [*FLEISS_1971, [1, 2, None, 4, 5, 5], [None] * 6]
    assert fleiss_kappa_from_ratings(with_missing) == fleiss_kappa_from_ratings(FLEISS_1971)
    assert math.isnan(fleiss_kappa_from_ratings([[1, None, 2]]))
    assert math.isnan(fleiss_kappa([]))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[1, 2], [2, 2]])
    with pytest.raises(ValueError, match="at least two"):
        fleiss_kappa([[1, 0], [0, 1]])
    assert math.isnan(fleiss_kappa([[3, 0], [3, 0]]))
    with np.errstate(invalid="ignore", divide="ignore"):
        assert math.isnan(inter_rater.fleiss_kappa(np.array([[3, 0], [3, 0]])))
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0


# -- Cohen's kappa and percent agreement --------------------------------------------------------


def expand(table):
    """Two label lists reproducing a contingency table (rows: rater A, columns: rater B)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


def test_cohen_wikipedia_grant_example():
    """Wikipedia, "Cohen's kappa", worked example: 50 grant proposals, readers A and B;
    both yes 20, A yes B no 5, A no B yes 10, both no 15: p_o 0.7, p_e 0.5, kappa 0.4.
    The "same percentage, different kappa" tables there: 0.1304 and 0.2593."""
    table = [[20, 5], [10, 15]]
    a, b = expand(table)
    assert percent_agreement(a, b) == pytest.approx(0.7)
    assert round(cohen_kappa_from_table(table), 3) == 0.400
    assert round(cohen_kappa(a, b), 3) == 0.400
    assert round(cohen_kappa_from_table([[45, 15], [25, 15]]), 4) == 0.1304
    assert round(cohen_kappa_from_table([[25, 35], [5, 35]]), 4) == 0.2593


def test_cohen_artstein_poesio_examples():
    """Artstein, R. & Poesio, M. (2008). Inter-coder agreement for computational linguistics.
    Computational Linguistics 34(4): Table 1 (2 categories) kappa 0.348, Table 4 (3 categories,
    A_o 0.88) kappa 0.8013, as reproduced in scikit-learn's test_cohen_kappa."""
    a = [0] * 40 + [1] * 60
    b = [0] * 20 + [1] * 20 + [0] * 10 + [1] * 50
    assert round(cohen_kappa(a, b), 3) == 0.348
    a = [0] * 46 + [1] * 44 + [2] * 10
    b = [0] * 52 + [1] * 32 + [2] * 16
    assert round(cohen_kappa(a, b), 4) == 0.8013


def test_weighted_kappa_library_examples():
    """Weighted kappa published in library test suites: statsmodels' SAS printout for the
    3x3 table [[0,4,1],[0,8,0],[0,1,5]] (kappa 0.4842, linear-weighted 0.4701), and
    scikit-learn's test_cohen_kappa weighting example (0.9315, linear 0.9412, quadratic
    0.9541)."""
    table = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
    assert round(cohen_kappa_from_table(table), 4) == 0.4842
    assert round(cohen_kappa_from_table(table, "linear"), 4) == 0.4701
    a = [0] * 46 + [1] * 44 + [2] * 10
    b = [0] * 50 + [1] * 40 + [2] * 10
    assert round(cohen_kappa(a, b), 4) == 0.9315
    assert round(cohen_kappa(a, b, "linear"), 4) == 0.9412
    assert round(cohen_kappa(a, b, "quadratic"), 4) == 0.9541


ANXIETY = [  # R irr's `anxiety` data, 20 subjects x 3 raters, column-major as printed
    3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3, 3, 6, 4,
    6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4, 2, 1, 4, 4, 3, 2,
    1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
]  # fmt: skip


def test_weighted_kappa_irr_anxiety():
    """R package irr (Gamer et al.), kappa2(anxiety[, 2:3]) with weights "unweighted",
    "equal" (= linear) and "squared" (= quadratic): -0.006289308, 0.1459075, 0.2520325
    (quoted in statsmodels' test_cohens_kappa_irr). irr weights category positions among the
    levels used (1, 2, 3, 4, 6), like our default categories."""
    rater2, rater3 = ANXIETY[20:40], ANXIETY[40:60]
    assert round(cohen_kappa(rater2, rater3), 3) == -0.006
    assert round(cohen_kappa(rater2, rater3, "linear"), 3) == 0.146
    assert round(cohen_kappa(rater2, rater3, "quadratic"), 3) == 0.252
    assert round(cohen_kappa(rater2, rater3), 7) == -0.0062893
    assert round(cohen_kappa(rater2, rater3, "linear"), 7) == 0.1459075
    assert round(cohen_kappa(rater2, rater3, "quadratic"), 7) == 0.2520325


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_sklearn_and_statsmodels_on_random_data(weights):
    """50 random cases: 5-60 items on a 1-k scale (k 2-7), ~10% missing on either side."""
    rng = random.Random(f"cohen-{weights}")
    for _ in range(CASES):
        k = rng.randint(2, 7)
        size = rng.randint(5, 60)
        a = [rng.randint(1, k) if rng.random() > 0.1 else None for _ in range(size)]
        b = [x if x is not None and rng.random() < 0.5 else rng.randint(1, k) for x in a]
        b = [y if rng.random() > 0.1 else None for y in b]
        kept = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
        xs, ys = [x for x, _ in kept], [y for _, y in kept]
        scale = list(range(1, k + 1))
        ours = cohen_kappa(a, b, weights, scale)
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = cohen_kappa_score(xs, ys, labels=scale, weights=weights)
        assert same(ours, theirs)
        table = [[sum(1 for p in kept if p == (i, j)) for j in scale] for i in scale]
        with np.errstate(invalid="ignore", divide="ignore"):
            sm = inter_rater.cohens_kappa(np.array(table), wt=weights, return_results=False)
        assert same(ours, sm)
        assert same(cohen_kappa(a, b, weights), cohen_kappa_score(xs, ys, weights=weights))
        assert same(percent_agreement(a, b), accuracy_score(xs, ys))


def test_cohen_and_percent_edge_cases():
    """Missing values are dropped pairwise; no pair left gives NaN; one shared category
    throughout gives chance agreement 1 and kappa NaN (as sklearn; statsmodels and irr too)."""
    assert percent_agreement([1, None, 3, 4], [1, 2, None, 5]) == 0.5
    assert percent_agreement([1, 2, 3], [2, 2, 5], within=1) == pytest.approx(2 / 3)
    assert math.isnan(percent_agreement([None], [1]))
    assert math.isnan(percent_agreement([], []))
    assert math.isnan(cohen_kappa([None, 1], [2, None]))
    assert math.isnan(cohen_kappa([3, 3, 3], [3, 3, 3]))
    with pytest.warns(UserWarning):
        assert math.isnan(cohen_kappa_score([3, 3, 3], [3, 3, 3]))
    assert math.isnan(cohen_kappa([3, 3, 3], [3, 3, 3], "quadratic", range(1, 6)))
    assert cohen_kappa([1, 2, 3], [1, 2, 3], "linear") == 1.0
    assert cohen_kappa(["x", "y"], ["y", "x"]) == -1.0
    with pytest.raises(ValueError, match="must match"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="not among the categories"):
        cohen_kappa([1, 9], [1, 2], categories=[1, 2])
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa([1, 2], [1, 2], "cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="square"):
        cohen_kappa_from_table([[1, 2]])


def test_unused_end_points_do_not_change_weighted_kappa_but_gaps_do():
    a, b = [2, 3, 3, 5, 2], [3, 3, 2, 5, 5]
    for weights in ("linear", "quadratic"):
        assert cohen_kappa(a, b, weights, range(2, 6)) == pytest.approx(
            cohen_kappa(a, b, weights, range(1, 8))
        )
        assert cohen_kappa(a, b, weights) != pytest.approx(cohen_kappa(a, b, weights, range(1, 6)))


# -- Pair direction and chosen candidate --------------------------------------------------------


def test_direction_tolerance_matches_pair_extraction():
    """0.3 - 0.2 is 0.09999999999999998 in floats; `extract_pairs` keeps margins >= min_margin
    - 1e-9, so with tolerance 0.1 it is a preference, not a tie."""
    assert direction(0.3, 0.2, 0.1) == ">"
    assert direction(0.2, 0.3, 0.1) == "<"
    assert direction(0.25, 0.2, 0.1) == "="
    assert direction(0.5, 0.5) == "="
    assert direction(0.5, 0.5 + 1e-12) == "="
    assert direction(0.5, 0.51) == "<"
    assert pair_directions({"b": 0.2, "a": 0.5, "c": None}) == {("a", "b"): ">"}


def test_top_candidates_ties():
    assert top_candidates({"a": 0.9, "b": 0.5}) == {"a"}
    assert top_candidates({"a": 0.9, "b": 0.85, "c": 0.1}, tolerance=0.1) == {"a", "b"}
    assert top_candidates({"a": None}) == frozenset()


def test_pair_direction_agreement_by_hand():
    """Item 1: A orders a>b, a>c, b=c; B orders a>b, a<c, b<c: 1 of 3 pairs agree, 1 reversed.
    Item 2: both a>b. Item 3: B has only one candidate totalled: nothing to compare."""
    items = [
        {"A": {"a": 0.9, "b": 0.5, "c": 0.5}, "B": {"a": 0.8, "b": 0.2, "c": 1.0}},
        {"A": {"a": 0.7, "b": 0.1}, "B": {"a": 0.6, "b": 0.0}},
        {"A": {"a": 0.7, "b": 0.1}, "B": {"a": 0.6, "b": None}},
    ]
    figures = pair_direction_agreement(items)
    assert (figures.items, figures.pairs, figures.agreed, figures.reversed) == (2, 4, 2, 1)
    assert figures.percent == 0.5
    a = [">", ">", "=", ">"]
    b = [">", "<", "<", ">"]
    flip = {">": "<", "=": "=", "<": ">"}
    expected = cohen_kappa_score(a + [flip[x] for x in a], b + [flip[x] for x in b])
    assert figures.kappa == pytest.approx(expected)


def test_pair_direction_kappa_does_not_depend_on_candidate_ids():
    """Counting each pair in both orientations makes kappa and alpha invariant when candidates
    are renamed (which flips some pairs); sklearn on the doubled labels agrees, 50 cases."""
    rng = random.Random("directions")
    for _ in range(CASES):
        items = []
        for _ in range(rng.randint(1, 8)):
            ids = list("abcd")[: rng.randint(2, 4)]
            items.append(
                {who: {c: rng.choice([0.0, 0.25, 0.5, 0.75, 1.0]) for c in ids} for who in "AB"}
            )
        figures = pair_direction_agreement(items)
        renamed = [
            {
                who: {c.upper() if c in "ac" else c: t for c, t in totals.items()}
                for who, totals in item.items()
            }
            for item in items
        ]
        again = pair_direction_agreement(renamed)
        assert (again.percent, again.agreed, again.reversed) == (
            figures.percent,
            figures.agreed,
            figures.reversed,
        )
        for ours, theirs in ((figures.kappa, again.kappa), (figures.alpha, again.alpha)):
            assert (ours is None and theirs is None) or ours == pytest.approx(theirs)
        a, b = [], []
        for item in items:
            da, db = pair_directions(item["A"]), pair_directions(item["B"])
            for key in da:
                a += [da[key], {">": "<", "=": "=", "<": ">"}[da[key]]]
                b += [db[key], {">": "<", "=": "=", "<": ">"}[db[key]]]
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = cohen_kappa_score(a, b, labels=list(DIRECTIONS))
        assert same(float("nan") if figures.kappa is None else figures.kappa, theirs)


def test_chosen_agreement_handles_ties_explicitly():
    items = [
        {"A": {"a": 0.9, "b": 0.1}, "B": {"a": 0.8, "b": 0.3}},  # same best: agree
        {"A": {"a": 0.9, "b": 0.1}, "B": {"a": 0.1, "b": 0.8}},  # different best
        {"A": {"a": 0.5, "b": 0.5}, "B": {"a": 0.5, "b": 0.4}},  # tie vs a: disagree
        {"A": {"a": 0.5, "b": 0.5}, "B": {"a": 0.2, "b": 0.2}},  # same tie: agree
        {"A": {"a": 0.5}, "B": {"a": 0.5, "b": 0.2}},  # one common candidate: no choice
        {"A": {"a": 0.5, "b": 0.2}},  # one annotator
    ]
    figures = chosen_agreement(items)
    assert (figures.items, figures.comparisons, figures.agreed, figures.with_ties) == (4, 4, 2, 2)
    assert figures.percent == 0.5
    assert chosen_agreement(items, tolerance=0.2).agreed == 3  # item 3: a, b tied for both


# -- Report -------------------------------------------------------------------------------------


def records(table):
    """{annotator: {(item, candidate): {criterion: value}}} -> score records."""
    return [
        ScoreRecord(item, cand, who, crit, value)
        for who, units in table.items()
        for (item, cand), scores in units.items()
        for crit, value in scores.items()
    ]


def totals_of(table, weights):
    """Mean of criterion scores rescaled from 1-5 to 0-1, by (item, annotator)."""
    out = {}
    for who, units in table.items():
        for (item, cand), scores in units.items():
            total = sum(weights[c] * (v - 1) / 4 for c, v in scores.items()) / sum(weights.values())
            out.setdefault((item, who), {})[cand] = total
    return out


def random_table(rng, annotators, items=12, noise=0.3):
    truth = {
        (f"p{i}", c): {"clarity": rng.randint(1, 5), "safety": rng.randint(1, 5)}
        for i in range(items)
        for c in "abc"
    }
    return {
        who: {
            unit: {
                k: min(5, max(1, v + (rng.choice([-1, 1]) if rng.random() < noise else 0)))
                for k, v in scores.items()
            }
            for unit, scores in truth.items()
            if who == annotators[0] or int(unit[0][1:]) % 2 == 0  # others score half the items
        }
        for who in annotators
    }


def test_report_two_annotators_agrees_with_the_parts():
    rng = random.Random("report")
    table = random_table(rng, ["ann", "bob"])
    weights = {"clarity": 1, "safety": 2}
    report = agreement_report(records(table), totals_of(table, weights), tolerance=0.1)
    assert isinstance(report, AgreementReport)
    assert report.annotators == ["ann", "bob"]
    assert report.shared_items == 6
    assert len(report.annotator_pairs) == 1
    pair = report.annotator_pairs[0]
    assert pair.annotators == ("ann", "bob")
    assert pair.shared_items == 6
    assert pair.pair_direction == report.pair_direction  # two annotators: overall = the pair
    assert pair.chosen == report.chosen
    assert report.pair_direction.pairs == 6 * 3
    assert report.meets_target == (report.pair_direction.percent >= 0.7)
    shared = sorted(u for u in table["bob"])
    for crit in ("clarity", "safety"):
        a = [table["ann"][u][crit] for u in shared]
        b = [table["bob"][u][crit] for u in shared]
        overall = next(c for c in report.criteria if c.criterion == crit)
        by_pair = next(c for c in pair.criteria if c.criterion == crit)
        assert overall.units == by_pair.units == len(shared)
        assert overall.percent == by_pair.percent == percent_agreement(a, b)
        assert by_pair.kappa == pytest.approx(cohen_kappa_score(a, b))
        scale = list(range(min(a + b), max(a + b) + 1))
        for weights_ in ("linear", "quadratic"):
            assert getattr(by_pair, f"kappa_{weights_}") == pytest.approx(
                cohen_kappa_score(a, b, weights=weights_, labels=scale)
            )
        for level in LEVELS:
            theirs = krippendorff.alpha([a, b], level_of_measurement=level)
            assert overall.alpha_by_level[level] == pytest.approx(theirs)
            assert by_pair.alpha[level] == pytest.approx(theirs)
        assert overall.alpha == overall.alpha_by_level["ordinal"]
        assert overall.fleiss_kappa is None
    assert report.verdict.startswith("pair-direction agreement ")
    assert "of the 70% target" not in report.verdict
    assert ("meets the 70% target" in report.verdict) == report.meets_target


def test_report_three_annotators_has_fleiss_and_three_pairs():
    rng = random.Random("three")
    table = random_table(rng, ["ann", "bob", "cy"], items=20, noise=0.2)
    report = agreement_report(records(table), totals_of(table, {"clarity": 1, "safety": 1}))
    assert [p.annotators for p in report.annotator_pairs] == [
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    ]
    assert report.pair_direction.pairs == sum(
        p.pair_direction.pairs for p in report.annotator_pairs
    )
    for crit in report.criteria:
        units = sorted(table["bob"])
        ratings = [[table[w][u][crit.criterion] for w in ("ann", "bob", "cy")] for u in units]
        assert crit.fleiss_units == len(units)
        table_, _ = inter_rater.aggregate_raters(np.array(ratings))
        assert crit.fleiss_kappa == pytest.approx(inter_rater.fleiss_kappa(table_))
        coders = [
            [table[w].get(u, {}).get(crit.criterion) for u in sorted(table["ann"])]
            for w in ("ann", "bob", "cy")
        ]
        assert crit.alpha == pytest.approx(
            krippendorff.alpha(to_nan(coders), level_of_measurement="ordinal")
        )


def test_report_verdicts_in_words():
    perfect = {"A": {("p1", "a"): {"q": 5}, ("p1", "b"): {"q": 1}}}
    perfect["B"] = perfect["A"]
    report = agreement_report(records(perfect), totals_of(perfect, {"q": 1}))
    assert report.meets_target is True
    assert report.verdict.startswith("pair-direction agreement 100% meets the 70% target")
    assert "the same best candidate in 100% of 1 comparison;" in report.verdict

    # 2 items, 3 candidate pairs each; B reverses one pair of item 1 and two of item 2: 3/6 agree.
    totals = {
        ("p1", "A"): {"a": 1.0, "b": 0.5, "c": 0.0},
        ("p1", "B"): {"a": 1.0, "b": 0.0, "c": 0.5},
        ("p2", "A"): {"a": 1.0, "b": 0.5, "c": 0.0},
        ("p2", "B"): {"a": 0.5, "b": 0.0, "c": 1.0},
    }
    report = agreement_report([], totals)
    assert report.pair_direction.percent == 0.5
    assert report.meets_target is False
    assert report.verdict.startswith("pair-direction agreement 50% is below the 70% target")
    assert "3 pairs ordered in opposite directions" in report.verdict
    assert report.criteria == []


def test_report_rounding_never_blurs_the_target():
    """69.6% must not read "70% is below the 70% target"."""
    totals = {}
    for i in range(23):  # 23 items x 1 pair, 16 agree: 69.57%
        totals[(f"p{i}", "A")] = {"a": 1.0, "b": 0.0}
        totals[(f"p{i}", "B")] = {"a": 1.0, "b": 0.0} if i < 16 else {"a": 0.0, "b": 1.0}
    report = agreement_report([], totals)
    assert "agreement 69.6% is below the 70% target" in report.verdict


def test_report_no_shared_items_and_empty_input():
    solo = {"A": {("p1", "a"): {"q": 3}, ("p1", "b"): {"q": 4}}, "B": {("p2", "a"): {"q": 2}}}
    for report in (
        agreement_report(records(solo), totals_of(solo, {"q": 1})),
        agreement_report([], {}),
    ):
        assert report.shared_items == 0
        assert report.annotator_pairs == []
        assert report.meets_target is None
        assert report.pair_direction.percent is None and report.pair_direction.kappa is None
        assert report.chosen.percent is None
        assert report.verdict.startswith("no item was scored by two or more annotators")
        assert all(c.alpha is None and c.units == 0 for c in report.criteria)
        report.model_dump_json()


def test_report_shared_items_without_pairs_and_undefined_alpha():
    """Two annotators scored one candidate of an item alike: no pair to compare, and alpha is
    undefined (one value only) yet percent agreement is 100%."""
    both = {who: {("p1", "a"): {"q": 4}} for who in "AB"}
    report = agreement_report(records(both), totals_of(both, {"q": 1}))
    assert report.shared_items == 1
    assert report.meets_target is None
    assert report.verdict.startswith("pair-direction agreement cannot be measured")
    (crit,) = report.criteria
    assert crit.percent == 1.0 and crit.alpha is None
    assert report.annotator_pairs[0].criteria[0].kappa is None


def test_report_rejects_conflicting_duplicate_scores():
    with pytest.raises(ValueError, match="twice"):
        agreement_report([("p1", "a", "A", "q", 3), ("p1", "a", "A", "q", 4)], {})
    agreement_report([("p1", "a", "A", "q", 3), ("p1", "a", "A", "q", 3)], {})


def team_data(rng, annotators, items=40):
    """Items scored by 1 to all annotators (mostly 2) on 2-4 candidates, in shuffled order, with
    gaps: a missing score leaves that candidate's total None, some (item, annotator) totals are
    left out and so are some of the last annotator's scores. "tone" has half points (no integer
    scale for weighted kappa)."""
    names = [f"ann{i}" for i in range(annotators)]
    scores, totals = [], {}
    for i in range(items):
        who = rng.sample(names, rng.choice([1, 2, 2, 2, 3, annotators]))
        candidates = "abcd"[: rng.randint(2, 4)]
        truth = {(c, k): rng.randint(1, 5) for c in candidates for k in ("clarity", "safety")}
        for w in who:
            own = {}
            for c in candidates:
                values = {
                    k: min(5, max(1, v + rng.choice([-1, 0, 0, 1])))
                    for (d, k), v in truth.items()
                    if d == c
                }
                values["tone"] = rng.choice([1, 1.5, 2, 2.5])
                values = {k: v for k, v in values.items() if rng.random() > 0.1}
                own[c] = sum(values.values()) / 3 if len(values) == 3 else None
                scores += [ScoreRecord(f"p{i}", c, w, k, v) for k, v in values.items()]
            if rng.random() > 0.1:
                totals[(f"p{i}", w)] = own
    rng.shuffle(scores)
    return [s for s in scores if rng.random() > 0.05 or s.annotator != names[-1]], totals


def finite(value):
    return None if math.isnan(value) else value


def reference_directions(items, tolerance):
    """`pair_direction_agreement` spelled out: label lists for kappa, coder rows for alpha."""
    labels_a, labels_b, units = [], [], []
    counted = pairs = agreed = reversed_ = 0
    flip = {">": "<", "=": "=", "<": ">"}
    for item in items:
        who = sorted(item)
        compared = False
        for first, second in itertools.combinations(who, 2):
            common = {c for c, t in item[first].items() if t is not None} & {
                c for c, t in item[second].items() if t is not None
            }
            da = pair_directions({c: item[first][c] for c in common}, tolerance)
            db = pair_directions({c: item[second][c] for c in common}, tolerance)
            for key in da:
                compared = True
                pairs += 1
                agreed += da[key] == db[key]
                reversed_ += {da[key], db[key]} == {">", "<"}
                labels_a += [da[key], flip[da[key]]]
                labels_b += [db[key], flip[db[key]]]
        counted += compared
        own = {w: pair_directions(item[w], tolerance) for w in who}
        for key in sorted({key for d in own.values() for key in d}):
            row = [own[w].get(key) for w in who]
            units += [row, [None if d is None else flip[d] for d in row]]
    return {
        "items": counted,
        "pairs": pairs,
        "agreed": agreed,
        "reversed": reversed_,
        "percent": agreed / pairs if pairs else None,
        "kappa": finite(cohen_kappa(labels_a, labels_b, categories=DIRECTIONS)),
        "alpha": finite(krippendorff_alpha(units, "nominal")),
    }


def reference_chosen(items, tolerance):
    """`chosen_agreement` spelled out."""
    counted = comparisons = agreed = ties = 0
    for item in items:
        compared = False
        for first, second in itertools.combinations(sorted(item), 2):
            common = {c for c, t in item[first].items() if t is not None} & {
                c for c, t in item[second].items() if t is not None
            }
            if len(common) < 2:
                continue
            top_a = top_candidates({c: item[first][c] for c in common}, tolerance)
            top_b = top_candidates({c: item[second][c] for c in common}, tolerance)
            compared = True
            comparisons += 1
            agreed += top_a == top_b
            ties += len(top_a) > 1 or len(top_b) > 1
        counted += compared
    percent = agreed / comparisons if comparisons else None
    return {
        "items": counted,
        "comparisons": comparisons,
        "agreed": agreed,
        "with_ties": ties,
        "percent": percent,
    }


def reference_report(scores, totals, tolerance, level):
    """`agreement_report` the slow, obvious way: every pair scans every item and unit."""
    units, holders, by_item = {}, {}, {}
    for item, cand, who, crit, value in scores:
        units.setdefault(crit, {}).setdefault((item, cand), {})[who] = value
        holders.setdefault(item, set()).add(who)
    for (item, who), own in totals.items():
        by_item.setdefault(item, {})[who] = own
        holders.setdefault(item, set()).add(who)
    shared = sorted(item for item, who in holders.items() if len(who) >= 2)
    annotators = sorted(set().union(*holders.values()))

    def by_pair(crit, first, second):
        both = [u for u in units[crit].values() if first in u and second in u]
        a, b = [u[first] for u in both], [u[second] for u in both]
        values = [v for u in units[crit].values() for v in u.values()]
        integral = all(float(v).is_integer() for v in values)
        scale = list(range(int(min(values)), int(max(values)) + 1)) if integral else None
        return {
            "criterion": crit,
            "units": len(both),
            "percent": finite(percent_agreement(a, b)),
            "percent_within_one": finite(percent_agreement(a, b, within=1)),
            "kappa": finite(cohen_kappa(a, b)),
            "kappa_linear": finite(cohen_kappa(a, b, "linear", scale)),
            "kappa_quadratic": finite(cohen_kappa(a, b, "quadratic", scale)),
            "alpha": {
                lv: finite(krippendorff_alpha(list(zip(a, b, strict=True)), lv)) for lv in LEVELS
            },
        }

    def overall(crit):
        rows = list(units[crit].values())
        coders = sorted({w for u in rows for w in u})
        data = [[u.get(c) for c in coders] for u in rows]
        alphas = {lv: finite(krippendorff_alpha(data, lv)) for lv in LEVELS}
        agree = [x == y for u in rows for x, y in itertools.combinations(u.values(), 2)]
        many = len(coders) >= 3
        return {
            "criterion": crit,
            "units": sum(len(u) >= 2 for u in rows),
            "level": level,
            "alpha": alphas[level],
            "alpha_by_level": alphas,
            "percent": sum(agree) / len(agree) if agree else None,
            "fleiss_kappa": finite(fleiss_kappa_from_ratings(data)) if many else None,
            "fleiss_units": sum(None not in row for row in data) if many else 0,
        }

    def meets(figures):
        return None if figures["percent"] is None else figures["percent"] >= 0.7 - 1e-9

    pairs = []
    for pair in itertools.combinations(annotators, 2):
        items = [item for item in shared if set(pair) <= holders[item]]
        if not items:
            continue
        restricted = [
            {w: t for w, t in by_item[i].items() if w in pair} for i in shared if i in by_item
        ]
        directions = reference_directions(restricted, tolerance)
        pairs.append(
            {
                "annotators": pair,
                "shared_items": len(items),
                "pair_direction": directions,
                "chosen": reference_chosen(restricted, tolerance),
                "criteria": [by_pair(crit, *pair) for crit in sorted(units)],
                "meets_target": meets(directions),
            }
        )
    everyone = [by_item[i] for i in shared if i in by_item]
    directions = reference_directions(everyone, tolerance)
    return {
        "target": 0.7,
        "tolerance": tolerance,
        "annotators": annotators,
        "shared_items": len(shared),
        "pair_direction": directions,
        "chosen": reference_chosen(everyone, tolerance),
        "criteria": [overall(crit) for crit in sorted(units)],
        "annotator_pairs": pairs,
        "meets_target": meets(directions),
    }


@pytest.mark.parametrize(
    ("seed", "annotators", "tolerance", "level"),
    [
        (1, 3, 0.0, "ordinal"),
        (2, 4, 0.2, "interval"),
        (3, 6, 0.1, "ordinal"),
        (4, 7, 0.0, "nominal"),
    ],
)
def test_report_equals_the_slow_reference_exactly(seed, annotators, tolerance, level):
    """The report indexes items and units by annotator pair and builds each coincidence matrix
    once: not one figure (compared exactly, not approximately) may differ from the obvious
    computation, with many pairs sharing different items, gaps, and 3 to 7 annotators on some
    items (where alpha's 1/(m - 1) increments do not add up exactly in floating point)."""
    scores, totals = team_data(random.Random(seed), annotators)
    report = agreement_report(scores, totals, tolerance=tolerance, level=level)
    assert len(report.annotator_pairs) >= 3
    assert all(c.fleiss_units for c in report.criteria)
    assert report.model_dump(exclude={"verdict"}) == reference_report(
        scores, totals, tolerance, level
    )
