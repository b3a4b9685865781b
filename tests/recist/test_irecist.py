"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152) from the same rows as RECIST 1.1.

Each test names the rule's source: the paper's Table 2 (time-point response) and Table 3 (iBOR
scenarios), the EORTC iRECIST FAQ pages, and admiralonco's iRECIST vignette for the PD date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recistry.errors import InputError
from recistry.recist.irecist import (
    IRecistTimepoint,
    IResponse,
    best_overall_response_irecist,
)
from recistry.recist.model import AssessmentOptions, Measurement
from tests.recist._build import day, row
from tests.recist._ibuild import calls, irecist, irow, new_lesion, target_series

# A target that shrinks to a nadir of 40 mm, then grows to RECIST 1.1 PD at day 112 (+25%, +10 mm).
TO_IUPD = ((0, 50), (56, 40), (112, 50))


def test_first_recist_progression_is_iupd_not_pd() -> None:
    """Seymour 2017 Table 2 row 7: target progression with no prior iUPD is iUPD."""
    a = irecist(target_series(*TO_IUPD))
    assert calls(a) == ["iSD", "iUPD"]
    assert a.timepoints[1].iupd_date == day(112)
    assert a.recist.timepoints[1].overall_response.value == "PD"
    assert any("+10.0 mm" in r for r in a.timepoints[1].reasons)


@pytest.mark.parametrize(("mm", "expected"), [(55.0, "iCPD"), (54.9, "iUPD")])
def test_icpd_needs_a_further_5_mm_in_the_target_sum(mm: float, expected: str) -> None:
    """Seymour 2017 Table 2 row 7: iCPD by a further increase of the target sum >= 5 mm (exact)."""
    a = irecist(target_series(*TO_IUPD, (154, mm)))
    assert calls(a)[-1] == expected


def test_sequential_increases_add_up_from_the_iupd() -> None:
    """Seymour 2017 (iUPD is the reference until confirmed): +4 mm then +2 mm is iCPD."""
    a = irecist(target_series(*TO_IUPD, (154, 54), (196, 56)))
    assert calls(a) == ["iSD", "iUPD", "iUPD", "iCPD"]
    assert any("+6.0 mm over 50.0 mm" in r for r in a.timepoints[-1].reasons)
    assert a.progression_date == day(112)


def test_bar_resets_when_isd_follows_iupd() -> None:
    """Seymour 2017 "reset": iSD after iUPD; a later iUPD needs fresh PD and its confirmation."""
    a = irecist(target_series(*TO_IUPD, (154, 42), (196, 50), (238, 51)))
    assert calls(a) == ["iSD", "iUPD", "iSD", "iUPD", "iUPD"]
    assert any("bar reset" in r for r in a.timepoints[2].reasons)
    assert a.timepoints[3].iupd_date == day(196)
    assert a.progression_date is None
    assert a.unconfirmed_iupd_date == day(196)
    assert not a.pfs_event


def test_pd_date_is_the_iupd_of_the_confirmed_block() -> None:
    """admiralonco iRECIST vignette: SD, SD, iUPD, PR, PR, iUPD, iCPD dates PD at the 2nd iUPD."""
    a = irecist(
        target_series(
            (0, 50), (56, 45), (112, 40), (168, 50), (224, 30), (280, 30), (336, 40), (378, 46)
        )
    )
    assert calls(a) == ["iSD", "iSD", "iUPD", "iPR", "iPR", "iUPD", "iCPD"]
    assert a.progression_date == day(336)
    assert a.pfs_event and a.pfs_days == 336


def non_target_rows(
    state: str, further: str | None = None, d: int = 0, t1: float = 50
) -> list[Measurement]:
    nt = irow(
        d,
        "NT1",
        "non_target",
        state=state,
        site="bone",
        **({"further_increase": further} if further else {}),
    )
    return [row(d, "T1", mm=t1), nt]


@pytest.mark.parametrize(("further", "expected"), [("true", "iCPD"), ("false", "iUPD")])
def test_non_target_iupd_confirmed_by_any_further_increase(further: str, expected: str) -> None:
    """Seymour 2017 Table 2 row 6; EORTC FAQ 'iUPD driven by non-target disease': any further
    increase of the non-target disease confirms, it need not be unequivocal again."""
    rows = [
        *non_target_rows("present"),
        *non_target_rows("progression", d=56, t1=48),
        *non_target_rows("progression", further, d=98, t1=48),
    ]
    a = irecist(rows)
    assert calls(a) == ["iUPD", expected]


def test_progression_in_another_category_confirms() -> None:
    """EORTC FAQ 'iUPD driven by non-target disease': progression in another category (here the
    non-targets after a target iUPD) confirms iCPD."""
    rows = [
        *non_target_rows("present"),
        *non_target_rows("present", d=56, t1=40),
        *non_target_rows("present", d=112, t1=50),
        *non_target_rows("progression", d=154, t1=50),
    ]
    assert calls(irecist(rows)) == ["iSD", "iUPD", "iCPD"]


@pytest.mark.parametrize(("size", "expected"), [(17.0, "iCPD"), (16.9, "iUPD")])
def test_new_lesion_iupd_confirmed_by_5_mm_in_the_new_lesion_target_sum(
    size: float, expected: str
) -> None:
    """Seymour 2017 Table 2 row 5: a new lesion is iUPD; iCPD when the new-lesion target sum grows
    >= 5 mm (new lesions are never added to the target sum)."""
    rows = [
        *target_series((0, 50), (56, 45), (98, 45)),
        new_lesion(56, 12.0),
        new_lesion(98, size),
    ]
    a = irecist(rows)
    assert calls(a) == ["iUPD", expected]
    assert a.timepoints[0].new_lesion_targets == ("N1",)
    assert a.timepoints[1].new_lesion_target_sum_mm == Decimal(str(size))
    assert a.timepoints[1].recist.target_sum_mm == Decimal(45)


def test_another_new_lesion_confirms() -> None:
    """Seymour 2017 Table 2 row 5: an increase in the number of new lesions confirms iCPD."""
    rows = [
        *target_series((0, 50), (56, 45), (98, 45)),
        new_lesion(56, 12.0),
        new_lesion(98, 12.0),
        new_lesion(98, 11.0, "N2"),
    ]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "iCPD"]
    assert any("another new lesion N2" in r for r in a.timepoints[1].reasons)


def test_a_scan_within_four_weeks_of_iupd_is_disregarded_for_growth() -> None:
    """EORTC FAQ 'confirm progression less than four weeks after iUPD': growth on a scan < 4 weeks
    after the iUPD does not confirm; only an additional new lesion can."""
    grown = irecist(target_series(*TO_IUPD, (126, 60)))
    assert calls(grown) == ["iSD", "iUPD", "iUPD"]
    assert any("disregarded" in r for r in grown.timepoints[-1].reasons)
    extra = irecist([*target_series(*TO_IUPD, (126, 50)), new_lesion(126, 12.0)])
    assert calls(extra) == ["iSD", "iUPD", "iCPD"]


def test_faq_scenario_b_new_lesion_then_further_shrinkage_is_ipr() -> None:
    """EORTC FAQ 'must new lesions resolve before iPR or iCR', scenario B: a new lesion (iUPD)
    followed by further shrinkage of the baseline lesions to PR is iPR, the lesion persisting."""
    rows = [
        *target_series((0, 100), (56, 80), (112, 60)),
        new_lesion(56, 12.0),
        new_lesion(112, 12.0),
    ]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "iPR"]
    assert a.unconfirmed_iupd_date is None


def test_faq_scenario_f_pr_then_new_lesion_with_no_change_stays_iupd() -> None:
    """Same FAQ, scenario F: PR first, then a new lesion (iUPD), then no change: still iUPD."""
    rows = [
        *target_series((0, 100), (56, 60), (112, 60), (168, 60)),
        new_lesion(112, 12.0),
        new_lesion(168, 12.0),
    ]
    assert calls(irecist(rows)) == ["iPR", "iUPD", "iUPD"]


@pytest.mark.parametrize(("state", "expected"), [("absent", "iCR"), ("present", "iPR")])
def test_icr_needs_the_new_lesions_gone(state: str, expected: str) -> None:
    """Seymour 2017 Table 2 row 1: iCR needs target, non-target and new lesions all gone."""
    rows = [
        *target_series((0, 30), (56, 15)),
        row(112, "T1", state="absent"),
        new_lesion(56, 12.0),
        new_lesion(112, None if state == "absent" else 12.0, state=state),
    ]
    assert calls(irecist(rows)) == ["iUPD", expected]


def test_small_new_node_is_not_a_new_lesion() -> None:
    """RECIST committee FAQ 'New lymph node lesions' (kept by iRECIST): a new node < 10 mm short
    axis is normal, not iUPD."""
    rows = [*target_series((0, 50), (56, 45)), irow(56, "N1", "new", mm=8.0, nodal=True)]
    assert calls(irecist(rows)) == ["iSD"]


def test_new_lesion_targets_at_most_five_two_per_organ() -> None:
    """Seymour 2017 'new lesions': up to five measurable new-lesion targets, two per organ; the
    rest, and unmeasurable ones, are new non-targets; ``new_lesion_category`` overrides."""
    rows = [*target_series((0, 50), (56, 45))]
    for i in range(3):
        rows.append(irow(56, f"L{i}", "new", mm=12.0, site="liver"))
    rows.append(irow(56, "S1", "new", mm=8.0, site="spleen"))
    rows.append(irow(56, "K1", "new", mm=12.0, site="kidney", new_lesion_category="non_target"))
    tp = irecist(rows).timepoints[0]
    assert tp.new_lesion_targets == ("L0", "L1")
    assert tp.new_lesion_non_targets == ("K1", "L2", "S1")
    assert tp.new_lesion_target_sum_mm == Decimal(24)


def test_new_lesion_absent_before_present_is_refused() -> None:
    """A new lesion's first row is 'present' or 'equivocal': the error names the row's column."""
    rows = [*target_series((0, 50), (56, 45)), new_lesion(56, None, state="absent")]
    with pytest.raises(InputError, match="state"):
        irecist(rows)


def test_bad_further_increase_value_is_refused() -> None:
    rows = [*non_target_rows("present"), *non_target_rows("progression", "maybe", d=56)]
    with pytest.raises(InputError, match="further_increase"):
        irecist(rows)


def test_without_progression_irecist_is_recist_with_an_i() -> None:
    """Seymour 2017: before any progression iRECIST assigns RECIST 1.1's categories as iCR, iPR,
    iSD, NON_iCR_NON_iUPD and NE."""
    a = irecist(target_series((0, 50), (56, 30), (112, 33), (168, 34)))
    assert calls(a) == [f"i{tp.overall_response.value}" for tp in a.recist.timepoints]
    only_nt = irecist([row(0, "NT1", "non_target"), row(56, "NT1", "non_target")])
    assert calls(only_nt) == ["NON_iCR_NON_iUPD"]


# --- iBOR (Seymour 2017 Table 3: test_irecist_worked_examples.py) -------------------------


def test_ibor_with_confirmation_uses_recist_table_3() -> None:
    """RECIST 1.1 §4.6.1 Table 3 applied to iRECIST (non-randomised trials): an iPR confirmed by a
    later iPR is iPR; an unconfirmed one counts as iSD."""
    template = irecist(target_series((0, 50), (56, 45))).timepoints[0]

    def scans(codes: list[str]) -> list[IRecistTimepoint]:
        return [
            dataclasses.replace(template, date=day(56 * (i + 1)), response=IResponse(c))
            for i, c in enumerate(codes)
        ]

    opts = AssessmentOptions(confirm=True)
    confirmed, _ = best_overall_response_irecist(
        scans(["iPR", "iPR"]), day(0), opts, has_targets=True
    )
    single, _ = best_overall_response_irecist(
        scans(["iPR", "iUPD", "iCPD"]), day(0), opts, has_targets=True
    )
    assert (confirmed, single) == (IResponse.IPR, IResponse.ISD)


def test_whole_patient_ibor_after_pseudoprogression() -> None:
    """Seymour 2017 Table 3 example 3 end to end: iUPD by a new lesion, then iPR: iBOR iPR."""
    rows = [
        *target_series((0, 100), (56, 80), (112, 60), (168, 60)),
        new_lesion(56, 12.0),
        new_lesion(112, 12.0),
        new_lesion(168, None, state="absent"),
    ]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "iPR", "iPR"]
    assert a.best_overall_response is IResponse.IPR
    assert a.recist.best_overall_response.value == "PD"
    assert isinstance(a.timepoints[0].date, dt.date)


# --- an independent exact oracle for single-target series -----------------------------------


def irecist_oracle(series: list[Fraction]) -> list[str]:
    """iRECIST codes of each follow-up of a non-nodal single-target series, scans 8 weeks apart.

    RECIST 1.1 §4.3.1 in exact rationals (PD: +20% and +5 mm over the nadir, or any size after a
    CR; PR: -30% from baseline, carried while PD is not met), then Seymour 2017 Table 2: the first
    PD is iUPD, confirmed by a further >= 5 mm over the sum at the iUPD, reset by any non-PD call.
    """
    baseline = nadir = series[0]
    out: list[str] = []
    after_cr = responded = progressed = False
    anchor: Fraction | None = None
    confirmed = False
    for value in series[1:]:
        growth = value - nadir
        pd_ = (growth >= 5 and (nadir == 0 or growth / nadir >= Fraction(1, 5))) or (
            after_cr and value > 0
        )
        if pd_:
            call = "PD"
        elif value == 0:
            call = "CR"
        elif (value - baseline) / baseline <= Fraction(-3, 10):
            call = "PR"
        else:
            call = "SD"
        if call == "SD" and responded and not progressed:
            call = "PR"
        progressed = progressed or call == "PD"
        responded = responded or (call in ("PR", "CR") and not progressed)
        after_cr = call == "CR"
        nadir = min(nadir, value)
        if confirmed:
            out.append("iCPD")
        elif anchor is not None and value - anchor >= 5:
            out.append("iCPD")
            confirmed = True
        elif call == "PD":
            anchor = value if anchor is None else anchor
            out.append("iUPD")
        else:
            anchor = None
            out.append("i" + call)
    return out


@settings(max_examples=300, deadline=None)
@given(
    baseline=st.integers(min_value=100, max_value=1500),
    followups=st.lists(st.integers(min_value=0, max_value=1500), max_size=7),
)
def test_single_target_irecist_matches_an_exact_oracle(baseline: int, followups: list[int]) -> None:
    """Seymour 2017 Table 2 over RECIST 1.1 §4.3.1, against the oracle above (exact rationals)."""
    tenths = [baseline, *followups]
    rows = [
        row(56 * i, "T1", mm=f"{t / 10:.1f}") if t else row(56 * i, "T1", state="absent")
        for i, t in enumerate(tenths)
    ]
    expected = irecist_oracle([Fraction(t, 10) for t in tenths])
    assert calls(irecist(rows)) == expected


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=7, max_value=70),  # days since the previous scan
            st.integers(min_value=0, max_value=900),  # target, tenths of mm (0: absent)
            st.sampled_from([None, 80, 120, 180, -120]),  # new lesion N1, tenths (<0 equivocal)
            st.booleans(),  # another new lesion appears
        ),
        min_size=1,
        max_size=8,
    )
)
def test_irregular_intervals_keep_the_invariants(steps: list) -> None:
    """Seymour 2017 Table 2 and the EORTC FAQ on early scans, over irregular intervals: once
    iCPD, always iCPD; every iUPD and iCPD names its iUPD; the progression date is the iUPD the
    first iCPD names; an iCPD within the minimum interval only by another new lesion; a
    response clears the iUPD."""
    rows, d = [row(0, "T1", mm=50)], 0
    for i, (gap, tenths, n1, extra) in enumerate(steps):
        d += gap
        rows.append(row(d, "T1", mm=tenths / 10) if tenths else row(d, "T1", state="absent"))
        if n1:
            state = "equivocal" if n1 < 0 else "present"
            rows.append(new_lesion(d, abs(n1) / 10, state=state))
        if extra:
            rows.append(new_lesion(d, 11.0, f"X{i}"))
    a = irecist(rows)
    codes = calls(a)
    if "iCPD" in codes:
        first = codes.index("iCPD")
        assert set(codes[first:]) == {"iCPD"}
        assert a.progression_date == a.timepoints[first].iupd_date
        iupd = a.timepoints[first].iupd_date
        assert iupd is not None and codes[[t.date for t in a.timepoints].index(iupd)] == "iUPD"
        if (a.timepoints[first].date - iupd).days < 28:
            assert any("another new lesion" in r for r in a.timepoints[first].reasons)
    else:
        assert a.progression_date is None
    for tp in a.timepoints:
        if tp.response in (IResponse.IUPD, IResponse.ICPD):
            assert tp.iupd_date is not None
        elif tp.response is not IResponse.NE:  # a response resets the bar; NE keeps the iUPD
            assert tp.iupd_date is None
