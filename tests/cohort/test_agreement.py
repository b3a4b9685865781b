"""Reader-agreement statistics against independent computations and the papers' worked examples."""

from __future__ import annotations

import datetime as dt
import random
import statistics

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as statsmodels_kappa

from recistry.cohort.agreement import (
    bland_altman,
    cohen_kappa,
    icc_absolute_agreement,
    progression_discrepancy,
)


def _contingency(first, second):
    categories = sorted(set(first) | set(second))
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(first, second, strict=True):
        table[categories.index(a), categories.index(b)] += 1
    return table


@pytest.mark.parametrize("seed", range(8))
def test_kappa_and_its_interval_equal_statsmodels(seed):
    """Fleiss, Cohen & Everitt (1969) variance: statsmodels' std_kappa is the same formula,
    written independently (statsmodels.stats.inter_rater.cohens_kappa)."""
    rng = random.Random(seed)
    codes = ["CR", "PR", "SD", "PD", "NE"][: rng.randint(2, 5)]
    first = [rng.choice(codes) for _ in range(rng.randint(10, 120))]
    second = [a if rng.random() < 0.7 else rng.choice(codes) for a in first]
    ours = cohen_kappa(first, second)
    theirs = statsmodels_kappa(_contingency(first, second))
    if ours.kappa is None:
        pytest.skip("one category only")
    assert ours.kappa == pytest.approx(theirs.kappa, abs=1e-12)
    assert ours.standard_error == pytest.approx(theirs.std_kappa, abs=1e-12)
    assert ours.ci95 is not None
    if ours.ci95[0] > -1 and ours.ci95[1] < 1:  # ours is clipped to [-1, 1]
        assert ours.ci95 == pytest.approx((theirs.kappa_low, theirs.kappa_upp), abs=1e-12)


def test_kappa_by_hand():
    """2 x 2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no of 50. p_o = 0.7, p_e = 0.5 x 0.6 + 0.5 x
    0.4 = 0.5, kappa = 0.4 (worked by hand)."""
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    k = cohen_kappa(first, second)
    assert k.observed == pytest.approx(0.7)
    assert k.expected == pytest.approx(0.5)
    assert k.kappa == pytest.approx(0.4)


def test_kappa_is_undefined_when_both_readers_use_one_category():
    k = cohen_kappa(["SD"] * 5, ["SD"] * 5)
    assert k.kappa is None and k.ci95 is None and k.observed == 1.0


# Shrout & Fleiss (1979) Table 2: 6 targets rated by 4 judges; their Table 4 gives
# ICC(1,1) = 0.17, ICC(2,1) = 0.29, ICC(3,1) = 0.71.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def test_icc_2_1_reproduces_shrout_and_fleiss_worked_example():
    assert round(icc_absolute_agreement(SHROUT_FLEISS), 2) == 0.29


def test_icc_of_identical_raters_is_one_and_a_constant_offset_lowers_it():
    values = [[x, x] for x in (10.0, 20.0, 35.0, 50.0)]
    assert icc_absolute_agreement(values) == pytest.approx(1.0)
    shifted = [[x, x + 5] for x, _ in values]
    assert icc_absolute_agreement(shifted) < 1.0  # absolute agreement, not consistency


def test_bland_altman_against_numpy():
    rng = random.Random(3)
    first = [rng.uniform(20, 120) for _ in range(40)]
    second = [x + rng.gauss(1.5, 2.0) for x in first]
    ba = bland_altman(first, second)
    d = np.array(second) - np.array(first)
    assert ba.bias == pytest.approx(d.mean())
    assert ba.sd == pytest.approx(d.std(ddof=1))
    assert ba.limits == pytest.approx(
        (d.mean() - 1.96 * d.std(ddof=1), d.mean() + 1.96 * d.std(ddof=1))
    )
    assert ba.sd == pytest.approx(statistics.stdev(d.tolist()))


def test_bland_altman_needs_two_pairs():
    assert bland_altman([1.0], [2.0]) is None


def test_early_and_late_discrepancy_rates_count_the_five_cases():
    """Amit et al. 2011: EDR = (a3 + b) / (a1 + a2 + a3 + b), LDR = (a2 + c) / (a2 + a3 + b + c)."""
    day = dt.date(2024, 1, 1)
    later = day + dt.timedelta(days=60)
    near = day + dt.timedelta(days=28)
    reference = [day, day, later, day, day, None, None]
    second = [day, near, day, later, None, day, None]
    # a1: pairs 1, 2 (28 days is within the window); a2: pair 3; a3: pair 4; b: 5; c: 6
    result = progression_discrepancy(reference, second, window_days=28)
    assert (result.same, result.reference_later, result.reference_earlier) == (2, 1, 1)
    assert (result.reference_only, result.second_only) == (1, 1)
    assert result.early_rate == pytest.approx((1 + 1) / (2 + 1 + 1 + 1))
    assert result.late_rate == pytest.approx((1 + 1) / (1 + 1 + 1 + 1))
    narrow = progression_discrepancy(reference, second, window_days=27)
    assert narrow.same == 1 and narrow.reference_earlier == 2


def test_discrepancy_rates_without_progression_are_undefined():
    result = progression_discrepancy([None, None], [None, None], window_days=28)
    assert result.early_rate is None and result.late_rate is None
