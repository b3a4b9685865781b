"""Property tests: the engine's target calls against an independent exact oracle.

The oracle restates RECIST 1.1 §4.3.1 with :class:`fractions.Fraction` (exact rationals, no Decimal,
no cross-multiplication), for random single-target series in tenths of a millimetre.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.recist._build import assess, row

sizes = st.integers(min_value=0, max_value=1500)  # tenths of a mm, 0 to 150.0 mm


def oracle(series: list[Fraction]) -> list[str]:
    """Strict target category of each follow-up of a non-nodal single-target series."""
    baseline = series[0]
    nadir = baseline
    out = []
    after_cr = False
    for value in series[1:]:
        pd_ = value - nadir >= 5 and (nadir == 0 or (value - nadir) / nadir >= Fraction(1, 5))
        if pd_ or (after_cr and value > 0):
            call = "PD"
        elif value == 0:
            call = "CR"
        elif (value - baseline) / baseline <= Fraction(-3, 10):
            call = "PR"
        else:
            call = "SD"
        out.append(call)
        # Overall equals target here (no non-targets), so the previous overall CR is this call.
        after_cr = call == "CR"
        nadir = min(nadir, value)
    return out


@settings(max_examples=300, deadline=None)
@given(baseline=st.integers(min_value=100, max_value=1500), followups=st.lists(sizes, max_size=6))
def test_target_calls_match_exact_oracle_recist_4_3_1(baseline, followups):
    tenths = [baseline, *followups]
    rows = [
        row(56 * i, "T1", mm=f"{t / 10:.1f}") if t else row(56 * i, "T1", state="absent")
        for i, t in enumerate(tenths)
    ]
    a = assess(rows)
    expected = oracle([Fraction(t, 10) for t in tenths])
    assert [tp.target_response_strict.value for tp in a.timepoints] == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=100, max_value=800), min_size=2, max_size=5), st.randoms())
def test_row_order_does_not_change_the_result_item77(tenths, rnd):
    rows = [row(56 * i, "T1", mm=f"{t / 10:.1f}", line=i + 1) for i, t in enumerate(tenths)]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    assert assess(rows) == assess(shuffled)


def test_shared_empty_extra_pickles_to_itself_and_equals_an_empty_dict():
    import pickle

    from recistry.recist.model import EMPTY_MAPPING

    assert pickle.loads(pickle.dumps(EMPTY_MAPPING)) is EMPTY_MAPPING
    assert EMPTY_MAPPING == {} and dict(EMPTY_MAPPING) == {} and len(EMPTY_MAPPING) == 0
