"""The RECIST 1.1 engine: pure functions from immutable measurement values to assessments.

Public API (everything else is private and may change):

* values in: :class:`Measurement`, :class:`ClinicalRecord`, :class:`PatientRecord`,
  :class:`AssessmentOptions`;
* values out: :class:`PatientAssessment`, :class:`TimepointAssessment` (one follow-up scan:
  target sum, nadir, target / non-target / new-lesion calls, overall response, reasons),
  :class:`LesionValue`;
* codes: :class:`Role`, :class:`LesionState`, :class:`TargetResponse`,
  :class:`NonTargetResponse`, :class:`NewLesions`, :class:`Response`;
* functions: :func:`assess_patient`, :func:`assess_patients`, :func:`validate_patient`,
  :func:`organ_of`;
* policy profiles: :data:`PROFILES`, :func:`profile`, :func:`policy_from_mapping` and the
  policies :class:`NodeReappearance`, :class:`NodeComplete` (TOML files:
  :func:`recistry.scoring.load_policy`); iRECIST is :mod:`recistry.recist.irecist`.
"""

from recistry.recist.engine import assess_patient, assess_patients, organ_of, validate_patient
from recistry.recist.model import (
    AssessmentOptions,
    ClinicalRecord,
    LesionState,
    LesionValue,
    Measurement,
    NewLesions,
    NodeComplete,
    NodeReappearance,
    NonTargetResponse,
    PatientAssessment,
    PatientRecord,
    Response,
    Role,
    Source,
    TargetResponse,
    TimepointAssessment,
)
from recistry.recist.policy import PROFILES, policy_from_mapping, profile

__all__ = [
    "PROFILES",
    "AssessmentOptions",
    "ClinicalRecord",
    "LesionState",
    "LesionValue",
    "Measurement",
    "NewLesions",
    "NodeComplete",
    "NodeReappearance",
    "NonTargetResponse",
    "PatientAssessment",
    "PatientRecord",
    "Response",
    "Role",
    "Source",
    "TargetResponse",
    "TimepointAssessment",
    "assess_patient",
    "assess_patients",
    "organ_of",
    "policy_from_mapping",
    "profile",
    "validate_patient",
]
