"""Small builders for engine tests: rows by day offset from a fixed baseline date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from recistry.recist.engine import assess_patient
from recistry.recist.model import (
    AssessmentOptions,
    ClinicalRecord,
    LesionState,
    Measurement,
    PatientAssessment,
    PatientRecord,
    Role,
    Source,
)

BASE = dt.date(2024, 1, 1)


def day(n: int) -> dt.date:
    return BASE + dt.timedelta(days=n)


def row(
    d: int,
    lesion_id: str,
    role: str = "target",
    mm: str | int | float | None = None,
    state: str | None = None,
    *,
    site: str = "liver",
    nodal: bool = False,
    thickness: str | None = None,
    line: int = 0,
    fragment: str = "",
) -> Measurement:
    """A table row; ``mm`` is the counted axis (short axis when nodal)."""
    if state is None:
        state = {"target": "measured", "non_target": "present", "new": "present"}[role]
    size = None if mm is None else Decimal(str(mm))
    return Measurement(
        patient_id="P1",
        date=day(d),
        lesion_id=lesion_id,
        role=Role(role),
        site=site,
        nodal=nodal,
        state=LesionState(state),
        long_axis_mm=None if nodal else size,
        short_axis_mm=size if nodal else None,
        slice_thickness_mm=None if thickness is None else Decimal(thickness),
        extra={"fragment": fragment} if fragment else {},
        source=Source("test.csv", line or None),
    )


def assess(
    rows: list[Measurement],
    *,
    start: int | None = 0,
    death: int | None = None,
    followup: int | None = None,
    new_therapy: int | None = None,
    **options: object,
) -> PatientAssessment:
    clinical = ClinicalRecord(
        "P1",
        treatment_start=None if start is None else day(start),
        death_date=None if death is None else day(death),
        last_followup=None if followup is None else day(followup),
        new_therapy_date=None if new_therapy is None else day(new_therapy),
    )
    return assess_patient(PatientRecord("P1", tuple(rows), clinical), AssessmentOptions(**options))


def single_target(*series: tuple[int, object], site: str = "liver") -> list[Measurement]:
    """Target T1 over time: a number is measured mm, 'NE' not evaluable, 'TS' too small."""
    out = []
    for d, value in series:
        if value == "NE":
            out.append(row(d, "T1", state="not_evaluable", site=site))
        elif value == "TS":
            out.append(row(d, "T1", state="too_small", site=site))
        elif value == 0:
            out.append(row(d, "T1", state="absent", site=site))
        else:
            out.append(row(d, "T1", mm=value, site=site))
    return out


def calls(a: PatientAssessment) -> list[str]:
    return [tp.overall_response.value for tp in a.timepoints]
