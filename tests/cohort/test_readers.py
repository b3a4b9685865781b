"""Comparing independent reads: the named adjudication rules and the agreement per reader pair."""

from __future__ import annotations

import datetime as dt

import pytest

from recistry.cohort.readers import AdjudicationRule, ReaderRead, compare_readers
from recistry.recist.model import Response

DAY = dt.date(2024, 1, 1)


def read(pid, reader, bor=Response.SD, pd=None, targets=("T1", "T2"), total=50.0):
    return ReaderRead(pid, reader, bor, pd, DAY, frozenset(targets), total)


def test_each_rule_sends_a_patient_to_adjudication_and_names_itself():
    pd_day = DAY + dt.timedelta(days=180)
    day29, day28 = pd_day + dt.timedelta(days=29), pd_day + dt.timedelta(days=28)
    reads = [
        read("P1", "a"), read("P1", "b"),  # agree
        read("P2", "a", Response.PR), read("P2", "b", Response.SD),
        read("P3", "a", Response.PD, pd_day), read("P3", "b", Response.PD, day29),
        read("P4", "a", Response.PD, pd_day), read("P4", "b", Response.PD, day28),
        read("P5", "a", pd=pd_day), read("P5", "b"),  # PD by one reader only
        read("P6", "a", targets=("T1", "T2")), read("P6", "b", targets=("T1", "T3")),
        read("P7", "a"),  # a single read: nothing to compare
    ]  # fmt: skip
    comparison = compare_readers(reads, pd_window_days=28)
    rules = {p.patient_id: p.rules for p in comparison.patients}
    assert rules == {
        "P1": (),
        "P2": (AdjudicationRule.BEST_RESPONSE,),
        "P3": (AdjudicationRule.PROGRESSION_DATE,),
        "P4": (),  # exactly 28 days apart is within the window
        "P5": (AdjudicationRule.PROGRESSION_DATE,),
        "P6": (AdjudicationRule.BASELINE_TARGETS,),
        "P7": (),
    }
    # Denominator: patients with two reads (P7 has one).
    assert (comparison.adjudication_rate.successes, comparison.adjudication_rate.n) == (4, 6)
    assert [p.patient_id for p in comparison.pending] == ["P2", "P3", "P5", "P6"]


def test_adjudicated_patients_leave_the_pending_list():
    reads = [read("P1", "a", Response.PR), read("P1", "b", Response.SD)]
    comparison = compare_readers(reads, adjudicated={"P1": "b"})
    assert comparison.patients[0].needs_adjudication and comparison.pending == ()
    assert comparison.adjudicated == 1
    assert comparison.as_dict()["patients"][0]["adjudicated_reader"] == "b"


def test_agreement_is_computed_per_pair_over_patients_both_read():
    reads = [
        read("P1", "a", total=40.0), read("P1", "b", total=41.0), read("P1", "c", total=40.0),
        read("P2", "a", total=60.0), read("P2", "b", total=60.5),
        read("P3", "a", total=80.0), read("P3", "c", total=79.0),
    ]  # fmt: skip
    comparison = compare_readers(reads)
    pairs = {(p.first, p.second): p for p in comparison.pairs}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert [pairs[k].patients for k in sorted(pairs)] == [2, 2, 1]
    assert pairs[("a", "b")].bland_altman.bias == pytest.approx(0.75)


def test_a_reader_reading_a_patient_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        compare_readers([read("P1", "a"), read("P1", "a")])
    with pytest.raises(ValueError, match="window"):
        compare_readers([read("P1", "a")], pd_window_days=-1)


def test_agreement_rows_say_what_was_measured():
    from recistry.cohort.readers_output import agreement_rows

    reads = [
        read("P1", "a", total=40.0), read("P1", "b", total=40.0),
        read("P2", "a", Response.PR, total=60.0), read("P2", "b", Response.SD, total=60.0),
    ]  # fmt: skip
    rows = {(who, what): value for who, what, value in agreement_rows(compare_readers(reads))}
    assert rows[("all", "Patients needing adjudication (exact 95% CI)")].startswith("1/2 (50.0%")
    assert rows[("a vs b", "Bland-Altman bias of baseline SoD, mm (second - first)")] == "0.00"
    assert rows[("a vs b", "Cohen's kappa, best overall response")].startswith("0.000")
