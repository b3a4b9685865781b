"""Somatostatin-receptor uptake in the cohort: Krenning grades, target SUVmax and its change.

Per patient (:func:`patient_uptake`): the highest Krenning grade of any lesion at baseline, the
number of baseline lesions graded 3 or more, and for each target lesion its SUVmax and
lesion-to-liver ratio (SUVmax / liver SUVmean of the same scan) at baseline and at every
follow-up, with the change from baseline. The values come from the measurement rows' ``krenning``,
``suv_max`` and ``liver_suv_mean`` (table columns or store columns; docs/tables.md); a value that
is not a grade 0–4 or a finite SUV ≥ 0 is an :class:`~recistry.errors.InputError` naming the
file, row and column.

Eligibility (:func:`krenning_eligibility`) is the seed study's inclusion rule, uptake on
Ga-68 DOTATATE PET "defined as a lesion with Krenning score 3 or greater" (Iqbal et al., Front
Oncol 2024;14:1393317, §2.1; grades per Kwekkeboom & Krenning, Semin Nucl Med 2002;32:84).
Pure: records in, frozen values out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from recistry.errors import InputError
from recistry.recist.model import Measurement, PatientAssessment, PatientRecord, Role

__all__ = [
    "INCLUSION_GRADE",
    "KRENNING_COVARIATE",
    "KrenningSelection",
    "PatientUptake",
    "TargetUptake",
    "UptakeAtScan",
    "add_krenning_covariate",
    "cohort_uptake",
    "krenning_eligibility",
    "patient_uptake",
    "select_by_krenning",
]

KRENNING_COVARIATE = "krenning"
"""Covariate holding the highest baseline Krenning grade (``--by krenning``, Table 1)."""

GRADES = frozenset({"0", "1", "2", "3", "4"})


@dataclass(frozen=True, slots=True)
class UptakeAtScan:
    """A target's uptake at one scan.

    ``suv_max`` SUVbw (g/ml); ``liver_ratio`` SUVmax / liver SUVmean; ``change_pct`` the %
    change of SUVmax from baseline (``None`` at baseline or without both values).
    """

    date: dt.date
    suv_max: float | None
    liver_ratio: float | None
    change_pct: float | None


@dataclass(frozen=True, slots=True)
class TargetUptake:
    """One target lesion's uptake at baseline (``scans[0]``) and each follow-up."""

    lesion_id: str
    krenning: int | None
    scans: tuple[UptakeAtScan, ...]


@dataclass(frozen=True, slots=True)
class PatientUptake:
    """SSTR-PET summary of one patient.

    Attributes
    ----------
    highest_krenning
        Highest Krenning grade of any lesion at baseline (``None`` if none was graded).
    lesions_grade_3_plus
        Baseline lesions graded 3 or 4.
    targets
        Each baseline target's uptake over time.
    best_suv_change_pct
        Smallest % change from baseline of the summed target SUVmax over the follow-ups
        (targets with SUVmax at baseline and at that scan); ``None`` without such a follow-up.
    """

    patient_id: str
    baseline_date: dt.date
    highest_krenning: int | None
    lesions_grade_3_plus: int
    targets: tuple[TargetUptake, ...]
    best_suv_change_pct: float | None


def _grade(m: Measurement) -> int | None:
    text = (m.extra.get("krenning") or "").strip()
    if not text:
        return None
    if text not in GRADES:
        raise InputError(
            f"'{text}' is not a Krenning grade 0-4",
            path=m.source.path,
            row=m.source.row,
            column="krenning",
        )
    return int(text)


def _suv(m: Measurement, key: str) -> float | None:
    text = (m.extra.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputError(
            f"'{text}' is not an SUV (a finite number >= 0, g/ml)",
            path=m.source.path,
            row=m.source.row,
            column=key,
        )
    return value


def _ratio(suv: float | None, liver: float | None) -> float | None:
    return None if suv is None or not liver else suv / liver


def patient_uptake(record: PatientRecord, baseline_date: dt.date) -> PatientUptake:
    """The SSTR-PET summary of one patient whose baseline scan is ``baseline_date``.

    Raises
    ------
    InputError
        A ``krenning``, ``suv_max`` or ``liver_suv_mean`` value is invalid.
    """
    for m in record.measurements:  # every row is validated, not only those used below
        _grade(m)
        _suv(m, "suv_max")
    at_baseline = [m for m in record.measurements if m.date == baseline_date]
    baseline_grades = [g for g in (_grade(m) for m in at_baseline) if g is not None]
    liver_by_date: dict[dt.date, float] = {}
    for m in record.measurements:
        liver = _suv(m, "liver_suv_mean")
        if liver is not None:
            liver_by_date.setdefault(m.date, liver)
    target_ids = sorted({m.lesion_id for m in at_baseline if m.role is Role.TARGET})
    rows = {(m.lesion_id, m.date): m for m in record.measurements if m.date >= baseline_date}
    dates = sorted({m.date for m in record.measurements if m.date >= baseline_date})
    targets = []
    for lesion_id in target_ids:
        base_row = rows[(lesion_id, baseline_date)]
        base_suv = _suv(base_row, "suv_max")
        scans = []
        for day in dates:
            row = rows.get((lesion_id, day))
            if row is None:
                continue
            suv = _suv(row, "suv_max")
            change = (
                None
                if day == baseline_date or suv is None or not base_suv
                else 100.0 * (suv - base_suv) / base_suv
            )
            scans.append(UptakeAtScan(day, suv, _ratio(suv, liver_by_date.get(day)), change))
        targets.append(TargetUptake(lesion_id, _grade(base_row), tuple(scans)))
    best: float | None = None
    for day in dates[1:]:
        pairs = [
            (t.scans[0].suv_max, s.suv_max)
            for t in targets
            for s in t.scans
            if s.date == day and t.scans[0].suv_max and s.suv_max is not None
        ]
        if pairs:
            base = sum(b for b, _ in pairs if b is not None)
            change = 100.0 * (sum(v for _, v in pairs if v is not None) - base) / base
            best = change if best is None else min(best, change)
    return PatientUptake(
        record.patient_id,
        baseline_date,
        max(baseline_grades) if baseline_grades else None,
        sum(1 for g in baseline_grades if g >= 3),
        tuple(targets),
        best,
    )


def cohort_uptake(
    records: Sequence[PatientRecord], assessments: Sequence[PatientAssessment]
) -> list[PatientUptake]:
    """:func:`patient_uptake` of every patient, at the baseline the RECIST engine chose."""
    baseline = {a.patient_id: a.baseline_date for a in assessments}
    return [patient_uptake(r, baseline[r.patient_id]) for r in records]


def krenning_eligibility(
    uptakes: Sequence[PatientUptake], min_grade: int
) -> tuple[list[str], list[str]]:
    """(eligible, not eligible) patient IDs: a baseline lesion of grade ``min_grade`` or more."""
    if not 0 <= min_grade <= 4:
        raise InputError(f"{min_grade} is not a Krenning grade 0-4", column="--require-krenning")
    eligible: list[str] = []
    other: list[str] = []
    for u in uptakes:
        ok = u.highest_krenning is not None and u.highest_krenning >= min_grade
        (eligible if ok else other).append(u.patient_id)
    return eligible, other


def add_krenning_covariate(
    assessments: Sequence[PatientAssessment], uptakes: Sequence[PatientUptake]
) -> list[PatientAssessment]:
    """The assessments with covariate ``krenning`` (highest baseline grade) where graded.

    A ``krenning`` column of the clinical table is kept as given.
    """
    grade = {u.patient_id: u.highest_krenning for u in uptakes}
    out = []
    for a in assessments:
        g = grade.get(a.patient_id)
        if g is None or KRENNING_COVARIATE in a.covariates:
            out.append(a)
        else:
            covariates = {**a.covariates, KRENNING_COVARIATE: str(g)}
            out.append(dataclasses.replace(a, covariates=covariates))
    return out


@dataclass(frozen=True, slots=True)
class KrenningSelection:
    """The cohort after the Krenning inclusion rule.

    Attributes
    ----------
    assessments
        The patients kept, with covariate ``krenning`` (highest baseline grade) added.
    uptakes
        Their SSTR-PET summaries, in the same order.
    required
        The minimum grade required, or ``None`` when nobody was excluded.
    excluded
        Patients removed by the rule (no baseline lesion of grade ``required`` or more).
    below_inclusion
        Without a requirement: patients kept although they have no baseline lesion of grade
        :data:`INCLUSION_GRADE` or more (the report flags them).
    graded
        Whether any lesion of the cohort has a Krenning grade at all.
    """

    assessments: tuple[PatientAssessment, ...]
    uptakes: tuple[PatientUptake, ...]
    required: int | None
    excluded: tuple[str, ...]
    below_inclusion: tuple[str, ...]
    graded: bool


INCLUSION_GRADE = 3
"""The seed study's inclusion rule: a lesion of Krenning grade 3 or more (§2.1)."""


def select_by_krenning(
    records: Sequence[PatientRecord],
    assessments: Sequence[PatientAssessment],
    required: int | None = None,
) -> KrenningSelection:
    """Summarise uptake, add the ``krenning`` covariate and apply ``--require-krenning``.

    Raises
    ------
    InputError
        A Krenning grade or SUV is invalid, or ``required`` is not a grade 0–4.
    """
    uptakes = cohort_uptake(records, assessments)
    graded = any(u.highest_krenning is not None for u in uptakes)
    eligible, other = krenning_eligibility(
        uptakes, INCLUSION_GRADE if required is None else required
    )
    keep = set(eligible) if required is not None else {u.patient_id for u in uptakes}
    kept = [a for a in assessments if a.patient_id in keep]
    return KrenningSelection(
        assessments=tuple(add_krenning_covariate(kept, uptakes)),
        uptakes=tuple(u for u in uptakes if u.patient_id in keep),
        required=required,
        excluded=tuple(other) if required is not None else (),
        below_inclusion=() if required is not None or not graded else tuple(other),
        graded=graded,
    )
