"""Hand-built PatientAssessment values for the cohort tests (no engine, no files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from recistry.recist.model import (
    AssessmentOptions,
    NewLesions,
    NonTargetResponse,
    PatientAssessment,
    Response,
    TimepointAssessment,
)

ORIGIN = dt.date(2022, 1, 3)


def timepoint(
    day: int,
    change_pct: float | None,
    response: Response,
    *,
    new_lesions: NewLesions = NewLesions.NONE,
    non_target: NonTargetResponse | None = NonTargetResponse.NON_CR_NON_PD,
) -> TimepointAssessment:
    """A complete follow-up time point ``day`` days after ORIGIN."""
    return TimepointAssessment(
        date=ORIGIN + dt.timedelta(days=day),
        target_sum_mm=None,
        complete=change_pct is not None,
        nadir_mm=None,
        nadir_date=None,
        change_from_baseline_pct=None if change_pct is None else Decimal(str(change_pct)),
        change_from_nadir_pct=None,
        target_response=None,
        target_response_strict=None,
        non_target_response=non_target,
        new_lesions=new_lesions,
        overall_response=response,
        reasons=(),
    )


def assessment(
    patient_id: str,
    best: Response,
    *,
    pfs_days: int = 365,
    pfs_event: bool = False,
    os_days: int | None = None,
    os_event: bool | None = None,
    measurable: bool = True,
    other_basis: Response | None = None,
    confirm: bool = False,
    first_response_day: int | None = None,
    covariates: Mapping[str, str] | None = None,
    timepoints: Sequence[TimepointAssessment] = (),
) -> PatientAssessment:
    """A PatientAssessment whose cohort-relevant fields are set by hand.

    ``best`` is the headline best response (confirmed when ``confirm``), ``other_basis`` the
    reading under the other rule (defaults to ``best``).
    """
    other = best if other_basis is None else other_basis
    unconfirmed, conf = (other, best) if confirm else (best, other)
    progression = ORIGIN + dt.timedelta(days=pfs_days) if pfs_event else None
    first_response = (
        None if first_response_day is None else ORIGIN + dt.timedelta(days=first_response_day)
    )
    return PatientAssessment(
        patient_id=patient_id,
        options=AssessmentOptions(confirm=confirm),
        baseline_date=ORIGIN - dt.timedelta(days=7),
        origin_date=ORIGIN,
        baseline_sum_mm=Decimal("50.0") if measurable else None,
        baseline_lesions=(),
        measurable=measurable,
        warnings=(),
        timepoints=tuple(timepoints),
        best_overall_response=best,
        best_overall_response_unconfirmed=unconfirmed,
        best_overall_response_confirmed=conf,
        best_response_reasons=(),
        first_response_date=first_response,
        progression_date=progression,
        pfs_days=pfs_days,
        pfs_event=pfs_event,
        os_days=os_days,
        os_event=os_event,
        covariates=dict(covariates or {}),
    )
