"""Builders for iRECIST tests: rows by day offset with iRECIST's optional columns."""

from __future__ import annotations

import dataclasses

from recistry.recist.irecist import (
    IRecistOptions,
    IRecistPatientAssessment,
    assess_patient_irecist,
)
from recistry.recist.model import AssessmentOptions, ClinicalRecord, Measurement, PatientRecord
from tests.recist._build import day, row


def irow(*args: object, **extra: str) -> Measurement:
    """A table row (see ``_build.row``) with iRECIST's optional columns as keyword arguments."""
    keys = {"mm", "state", "site", "nodal", "thickness", "line"}
    kwargs = {k: v for k, v in extra.items() if k in keys}
    m = row(*args, **kwargs)  # type: ignore[arg-type]
    more = {k: str(v) for k, v in extra.items() if k not in keys}
    return dataclasses.replace(m, extra=more) if more else m


def irecist(rows: list[Measurement], **settings: object) -> IRecistPatientAssessment:
    """Score ``rows`` by iRECIST; ``settings`` are policy-profile fields (``irecist_*`` too)."""
    record = PatientRecord("P1", tuple(rows), ClinicalRecord("P1", treatment_start=day(0)))
    profile = AssessmentOptions(**settings)  # type: ignore[arg-type]
    return assess_patient_irecist(record, IRecistOptions(recist=profile))


def calls(a: IRecistPatientAssessment) -> list[str]:
    return [tp.response.value for tp in a.timepoints]


def target_series(*series: tuple[int, float | str]) -> list[Measurement]:
    """Target T1 (liver) measured at each (day, mm); 0 is recorded absent."""
    return [row(d, "T1", state="absent") if mm == 0 else row(d, "T1", mm=mm) for d, mm in series]


def new_lesion(
    d: int, mm: float | None, lesion_id: str = "N1", site: str = "lung", **extra: str
) -> Measurement:
    """A new lesion's row; ``state`` and iRECIST's columns as keywords."""
    state = extra.pop("state", None)
    nodal = bool(extra.pop("nodal", ""))
    return irow(d, lesion_id, "new", mm=mm, state=state, site=site, nodal=nodal, **extra)
