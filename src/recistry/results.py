"""Plain JSON-ready dictionaries and flat rows from assessments (the rescore output contract)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from recistry.recist.model import AssessmentOptions, PatientAssessment, TimepointAssessment

__all__ = [
    "PATIENT_COLUMNS",
    "TIMEPOINT_COLUMNS",
    "assessment_to_dict",
    "options_to_dict",
    "patient_rows",
    "timepoint_rows",
]

CRITERIA = "RECIST 1.1"

PATIENT_COLUMNS = (
    "patient_id",
    "baseline_date",
    "origin_date",
    "baseline_sum_mm",
    "measurable",
    "best_overall_response",
    "best_overall_response_unconfirmed",
    "best_overall_response_confirmed",
    "best_change_from_baseline_pct",
    "first_response_date",
    "progression_date",
    "pfs_days",
    "pfs_months",
    "pfs_event",
    "os_days",
    "os_months",
    "os_event",
    "warnings",
)
"""Columns of patients.csv, the keys of :func:`patient_rows`."""

TIMEPOINT_COLUMNS = (
    "patient_id",
    "date",
    "days_from_origin",
    "target_sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "nadir_mm",
    "target_response",
    "target_response_strict",
    "non_target_response",
    "new_lesions",
    "overall_response",
    "rescored_from",
    "reasons",
)
"""Columns of timepoints.csv, the keys of :func:`timepoint_rows`."""


def _mm(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _months(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def options_to_dict(options: AssessmentOptions) -> dict[str, Any]:
    return asdict(options)


def timepoint_to_dict(tp: TimepointAssessment) -> dict[str, Any]:
    return {
        "date": _date(tp.date),
        "target_sum_mm": _mm(tp.target_sum_mm),
        "change_from_baseline_pct": _pct(tp.change_from_baseline_pct),
        "change_from_nadir_pct": _pct(tp.change_from_nadir_pct),
        "nadir_mm": _mm(tp.nadir_mm),
        "nadir_date": _date(tp.nadir_date),
        "target_response": tp.target_response,
        "target_response_strict": tp.target_response_strict,
        "non_target_response": tp.non_target_response,
        "new_lesions": tp.new_lesions,
        "overall_response": tp.overall_response,
        "rescored_from": tp.rescored_from,
        "reasons": list(tp.reasons),
        "lesions": [
            {
                "lesion_id": v.lesion_id,
                "role": v.role,
                "state": v.state,
                "counted_mm": _mm(v.counted_mm),
            }
            for v in tp.lesions
        ],
    }


def assessment_to_dict(a: PatientAssessment) -> dict[str, Any]:
    """One patient of the ``rescore --format json`` document (codes as strings, dates ISO)."""
    return {
        "patient_id": a.patient_id,
        "baseline_date": _date(a.baseline_date),
        "origin_date": _date(a.origin_date),
        "baseline_sum_mm": _mm(a.baseline_sum_mm),
        "measurable": a.measurable,
        "warnings": list(a.warnings),
        "timepoints": [timepoint_to_dict(tp) for tp in a.timepoints],
        "best_overall_response": a.best_overall_response,
        "best_overall_response_unconfirmed": a.best_overall_response_unconfirmed,
        "best_overall_response_confirmed": a.best_overall_response_confirmed,
        "best_response_reasons": list(a.best_response_reasons),
        "first_response_date": _date(a.first_response_date),
        "progression_date": _date(a.progression_date),
        "pfs_months": _months(a.pfs_months),
        "pfs_event": a.pfs_event,
        "os_months": _months(a.os_months),
        "os_event": a.os_event,
    }


def patient_rows(assessments: Sequence[PatientAssessment]) -> list[dict[str, Any]]:
    """One flat row per patient (patients.csv)."""
    return [
        {
            "patient_id": a.patient_id,
            "baseline_date": _date(a.baseline_date),
            "origin_date": _date(a.origin_date),
            "baseline_sum_mm": _mm(a.baseline_sum_mm),
            "measurable": a.measurable,
            "best_overall_response": a.best_overall_response.value,
            "best_overall_response_unconfirmed": a.best_overall_response_unconfirmed.value,
            "best_overall_response_confirmed": a.best_overall_response_confirmed.value,
            "best_change_from_baseline_pct": _pct(a.best_change_from_baseline_pct),
            "first_response_date": _date(a.first_response_date),
            "progression_date": _date(a.progression_date),
            "pfs_days": a.pfs_days,
            "pfs_months": _months(a.pfs_months),
            "pfs_event": a.pfs_event,
            "os_days": a.os_days,
            "os_months": _months(a.os_months),
            "os_event": a.os_event,
            "warnings": " | ".join(a.warnings),
        }
        for a in assessments
    ]


def timepoint_rows(assessments: Sequence[PatientAssessment]) -> list[dict[str, Any]]:
    """One flat row per follow-up time point (timepoints.csv)."""
    return [
        {
            "patient_id": a.patient_id,
            "date": _date(tp.date),
            "days_from_origin": (tp.date - a.origin_date).days,
            "target_sum_mm": _mm(tp.target_sum_mm),
            "change_from_baseline_pct": _pct(tp.change_from_baseline_pct),
            "change_from_nadir_pct": _pct(tp.change_from_nadir_pct),
            "nadir_mm": _mm(tp.nadir_mm),
            "target_response": tp.target_response and tp.target_response.value,
            "target_response_strict": tp.target_response_strict and tp.target_response_strict.value,
            "non_target_response": tp.non_target_response and tp.non_target_response.value,
            "new_lesions": tp.new_lesions.value,
            "overall_response": tp.overall_response.value,
            "rescored_from": tp.rescored_from and tp.rescored_from.value,
            "reasons": " | ".join(tp.reasons),
        }
        for a in assessments
        for tp in a.timepoints
    ]
