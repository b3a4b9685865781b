"""cohort_summary: the "cohort" object of rescore/report JSON, from hand-built assessments."""

from __future__ import annotations

import json

import pytest

from recistry.cohort.summary import (
    Subgroup,
    cohort_summary,
    duration_of_response,
    overall_survival,
)
from recistry.cohort.survival import kaplan_meier
from recistry.errors import InputError
from recistry.recist.model import Response

from ._assessments import assessment

R = Response


def _seed_like() -> list:
    """9 PR, 14 SD, 2 PD as in the seed study (Iqbal et al., Front Oncol 2024, §2.5)."""
    bests = [R.PR] * 9 + [R.SD] * 14 + [R.PD] * 2
    return [
        assessment(
            f"P{i:02d}",
            best,
            pfs_days=100 + 37 * i,
            pfs_event=i % 3 == 0,
            covariates={
                "who_grade": str(1 + i % 3),
                "primary_site": "ileum" if i < 4 else "pancreas",
            },
        )
        for i, best in enumerate(bests)
    ]


def test_orr_and_dcr_match_seed_totals_with_exact_ci() -> None:
    """ORR 9/25 = 36.0% (95% CI 18.0–57.5), DCR 23/25 = 92.0% (74.0–99.0): seed §2.5 and
    cohort-stats.md §1.8 (R binom.test)."""
    summary = cohort_summary(_seed_like())
    assert summary["patients"] == 25
    assert summary["measurable"] == 25
    orr, dcr = summary["orr"], summary["dcr"]
    assert (orr["responders"], orr["n"], orr["rate"]) == (9, 25, 0.36)
    assert [round(100 * x, 1) for x in orr["ci95"]] == [18.0, 57.5]
    assert (dcr["responders"], dcr["n"], dcr["rate"]) == (23, 25, 0.92)
    assert [round(100 * x, 1) for x in dcr["ci95"]] == [74.0, 99.0]
    counts = summary["best_overall_response_counts"]
    assert [counts[c] for c in ("CR", "PR", "SD", "PD", "NE")] == [0, 9, 14, 2, 0]
    json.dumps(summary)  # JSON-ready


def test_orr_denominator_is_patients_with_a_baseline_target() -> None:
    """RECIST 1.1 §4.1: response rate over patients with measurable disease at baseline; a
    non-measurable patient counts in the BOR table but not in ORR/DCR."""
    cohort = [
        assessment("A", R.PR),
        assessment("B", R.SD),
        assessment("C", R.NON_CR_NON_PD, measurable=False),
    ]
    summary = cohort_summary(cohort)
    assert summary["measurable"] == 2
    assert summary["orr"]["n"] == 2 and summary["orr"]["responders"] == 1
    assert summary["dcr"]["responders"] == 2
    assert summary["best_overall_response_counts"]["NON_CR_NON_PD"] == 1


def test_headline_says_which_best_response_it_uses() -> None:
    """RECIST 1.1 §4.6.1: with confirmation required, an unconfirmed PR is not a responder;
    both readings are reported and the headline names its basis."""
    cohort = [
        assessment("A", R.SD, other_basis=R.PR, confirm=True),
        assessment("B", R.PR, confirm=True),
    ]
    summary = cohort_summary(cohort)
    assert summary["response_basis"] == "confirmed"
    assert summary["orr"]["responders"] == 1
    assert summary["by_basis"]["confirmed"]["orr"]["responders"] == 1
    assert summary["by_basis"]["unconfirmed"]["orr"]["responders"] == 2
    assert summary["by_basis"]["confirmed"]["best_overall_response_counts"]["SD"] == 1
    assert summary["by_basis"]["unconfirmed"]["best_overall_response_counts"]["PR"] == 2


def test_mixed_confirmation_options_are_refused() -> None:
    with pytest.raises(ValueError, match="mix confirmed"):
        cohort_summary([assessment("A", R.PR, confirm=True), assessment("B", R.PR)])


def test_pfs_median_in_months_equals_km_on_days_over_30_4375() -> None:
    """Months are days / 30.4375 (365.25 / 12); the median is the R-rule KM median."""
    cohort = _seed_like()
    summary = cohort_summary(cohort)
    fit = kaplan_meier([a.pfs_days / 30.4375 for a in cohort], [a.pfs_event for a in cohort])
    assert summary["pfs_median_months"] == fit.median
    assert summary["pfs_median_ci95"] == list(fit.median_ci95)
    assert summary["pfs_events"] == sum(a.pfs_event for a in cohort)


def test_os_without_clinical_data_is_null_and_not_reached_is_null() -> None:
    """No os_days → OS nulls; few deaths → median not reached (None) with a finite lower
    limit, as R prints NA (cohort-stats.md §1.3 row 4)."""
    assert cohort_summary(_seed_like())["os_median_months"] is None
    assert cohort_summary(_seed_like())["os_median_ci95"] == [None, None]
    cohort = [
        assessment(f"P{i}", R.SD, os_days=200 + 50 * i, os_event=i in (1, 2, 3)) for i in range(12)
    ]
    summary = cohort_summary(cohort)
    assert summary["os_events"] == 3
    assert summary["os_median_months"] is None
    fit = overall_survival(cohort)
    assert fit is not None and fit.median is None
    assert summary["os_median_ci95"][1] is None


def test_subgroups_by_column_and_derived_yes_no_sum_to_n() -> None:
    """Subgroup ORR as k/n per value; unclassified patients are their own row so the n's sum
    to N (cohort-stats.md §1.9)."""
    cohort = [
        assessment("A", R.PR, covariates={"who_grade": "1", "primary_site": "Ileum"}),
        assessment("B", R.SD, covariates={"who_grade": "1", "primary_site": "pancreas"}),
        assessment("C", R.PR, covariates={"who_grade": "2", "primary_site": "pancreas"}),
        assessment("D", R.PD, covariates={"who_grade": " ", "primary_site": "ileum"}),
        assessment("E", R.SD, covariates={}),
    ]
    summary = cohort_summary(cohort, by=["who_grade", "ileal=primary_site==ileum"])
    grade = summary["subgroups"]["who_grade"]
    assert list(grade) == ["1", "2", "unclassified"]
    assert grade["1"]["n"] == 2 and grade["1"]["orr"]["responders"] == 1
    assert grade["2"]["orr"]["rate"] == 1.0
    assert grade["unclassified"]["n"] == 2
    ileal = summary["subgroups"]["ileal"]
    assert {v: g["n"] for v, g in ileal.items()} == {"no": 2, "yes": 2, "unclassified": 1}
    assert ileal["yes"]["orr"]["responders"] == 1 and ileal["yes"]["dcr"]["responders"] == 1
    assert sum(g["n"] for g in ileal.values()) == len(cohort)


@pytest.mark.parametrize("text", ["", "a=b", "=primary_site==ileum", "x=primary_site==", "x==y"])
def test_malformed_subgroup_spec_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="--by"):
        Subgroup.parse(text)


def test_duration_of_response_runs_from_first_response_to_progression() -> None:
    """RECIST 1.1 §4.5: duration of overall response from the first CR/PR to progression;
    non-responders do not contribute, responders without PD are censored."""
    cohort = [
        assessment("A", R.PR, first_response_day=90, pfs_days=400, pfs_event=True),
        assessment("B", R.PR, first_response_day=60, pfs_days=300, pfs_event=False),
        assessment("C", R.SD, pfs_days=500, pfs_event=True),
    ]
    fit = duration_of_response(cohort)
    assert fit.n == 2 and fit.events == 1
    assert fit.table.time == pytest.approx((240 / 30.4375, 310 / 30.4375))
    assert fit.median == pytest.approx(310 / 30.4375)


def test_summary_reports_duration_of_response_over_responders() -> None:
    cohort = [
        assessment("A", R.PR, first_response_day=90, pfs_days=400, pfs_event=True),
        assessment("B", R.PR, first_response_day=60, pfs_days=300, pfs_event=False),
        assessment("C", R.SD, pfs_days=500, pfs_event=True),
    ]
    summary = cohort_summary(cohort)
    assert (summary["dor_responders"], summary["dor_events"]) == (2, 1)
    assert summary["dor_median_months"] == pytest.approx(310 / 30.4375)
