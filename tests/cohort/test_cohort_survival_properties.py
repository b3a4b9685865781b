"""Properties of the Kaplan–Meier median that hold whatever the data (hypothesis, derandomised).

R documents (``print.survfit``, "the median ... agrees with the usual median for uncensored
data") that its midpoint rule gives the ordinary sample median without censoring, ties included;
lifelines alone does not (cohort-stats.md §1.3 row 2).
"""

from __future__ import annotations

import itertools
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from recistry.cohort.survival import kaplan_meier

times = st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=40)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(times)
def test_uncensored_median_is_the_sample_median(sample: list[int]) -> None:
    fit = kaplan_meier(sample, [True] * len(sample))
    assert fit.median == statistics.median(sample)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(times, st.lists(st.booleans(), min_size=40, max_size=40))
def test_median_lies_within_its_interval_and_at_risk_is_monotone(
    sample: list[int], flags: list[bool]
) -> None:
    events = flags[: len(sample)]
    fit = kaplan_meier(sample, events)
    lower, upper = fit.median_ci95
    if fit.median is not None and lower is not None:
        assert lower <= fit.median
    if fit.median is not None and upper is not None:
        assert fit.median <= upper
    if fit.median is None:
        assert upper is None  # the upper band lies above the curve: it cannot cross first
    ticks = sorted(set(sample))
    at_risk = fit.number_at_risk([0, *ticks, max(sample) + 1])
    assert at_risk[0] == len(sample) and at_risk[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(at_risk))
