"""Coded concepts of recistry's TID 1500 measurement reports.

Standard codes come from pydicom's concept dictionaries (DICOM PS3.16: DCM, SCT, UCUM, LN).
Concepts DICOM has no code for (the RECIST lesion state, the Krenning uptake score, the overall
time-point response, the site text as the reader wrote it) are in the private coding scheme
:data:`SCHEME`, declared in every report's Coding Scheme Identification Sequence.
"""

from __future__ import annotations

import hashlib

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from recistry.recist.model import (
    LesionState,
    NonTargetResponse,
    Response,
    Role,
    TargetResponse,
)

SCHEME = "99RECISTRY"
"""Private coding scheme designator (PS3.3 C.12.1.1.2.1: local schemes start with '99')."""
SCHEME_NAME = "recistry private codes"
SCHEME_VERSION = "1"

MM = codes.UCUM.Millimeter
SUVBW_UNIT = codes.UCUM.StandardizedUptakeValueBodyWeight
LONG_AXIS = codes.SCT.LongAxis  # SCT 103339001
SHORT_AXIS = codes.SCT.ShortAxis  # SCT 103340004
# Retired SNOMED RT codes for the same concepts, still written by dcmjs/OHIF; read as synonyms.
LEGACY_LONG_AXIS = Code("G-A185", "SRT", "Long Axis")
LEGACY_SHORT_AXIS = Code("G-A186", "SRT", "Short Axis")
SLICE_THICKNESS = codes.DCM.SliceThickness  # DCM 112225
SUVBW = codes.DCM.Suvbw  # DCM 126401
MAXIMUM = codes.SCT.Maximum
MEAN = codes.SCT.Mean
PEAK = codes.DCM.PeakValueWithinROI  # DCM 126031
RECIST_1_1 = codes.DCM.RECIST1Point1  # DCM 126081
LESION = codes.SCT.Lesion
ANATOMICAL_STRUCTURE = codes.SCT.AnatomicalStructure
LIVER = codes.SCT.Liver
SPLEEN = codes.SCT.Spleen
BACKGROUND_FOR_RATIO = codes.DCM.BackgroundForLesionToBackgroundSUVRatio  # DCM 126040
BASELINE_CATEGORY = codes.DCM.BaselineCategory  # DCM 112016
CURRENT_RESPONSE = codes.DCM.CurrentResponse  # DCM 112048
BASELINE = codes.DCM.Baseline
POSTTREATMENT = codes.DCM.Posttreatment
IMAGING_MEASUREMENT_REPORT = codes.DCM.ImagingMeasurementReport

BASELINE_CATEGORY_BY_ROLE: dict[Role, Code] = {
    Role.TARGET: codes.DCM.TargetLesionAtBaseline,  # DCM 112074
    Role.NON_TARGET: codes.DCM.NonTargetLesionAtBaseline,  # DCM 112075
    Role.NEW: codes.DCM.NonLesionAtBaseline,  # DCM 112076: not a lesion at baseline
}

TARGET_RESPONSE: dict[TargetResponse, Code] = {
    TargetResponse.CR: codes.DCM.TargetLesionCompleteResponse,  # 112041
    TargetResponse.PR: codes.DCM.TargetLesionPartialResponse,  # 112042
    TargetResponse.PD: codes.DCM.TargetLesionProgressiveDisease,  # 112043
    TargetResponse.SD: codes.DCM.TargetLesionStableDisease,  # 112044
}
NON_TARGET_RESPONSE: dict[NonTargetResponse, Code] = {
    NonTargetResponse.CR: codes.DCM.NonTargetLesionCompleteResponse,  # 112045
    NonTargetResponse.NON_CR_NON_PD: codes.DCM.NonTargetLesionIncompleteResponseOrStableDisease,
    NonTargetResponse.PD: codes.DCM.NonTargetLesionProgressiveDisease,  # 112047
}

LESION_STATE = Code("LESIONSTATE", SCHEME, "RECIST 1.1 lesion state")
LESION_STATE_VALUES: dict[LesionState, Code] = {
    state: Code(state.value.upper().replace("_", "")[:16], SCHEME, state.value.replace("_", " "))
    for state in LesionState
}
KRENNING = Code("KRENNING", SCHEME, "Krenning uptake score (PET)")
KRENNING_VALUES: dict[int, Code] = {
    grade: Code(f"K{grade}", SCHEME, f"Krenning score {grade}") for grade in range(5)
}
OVERALL_RESPONSE = Code("OVERALLRESPONSE", SCHEME, "RECIST 1.1 overall time point response")
OVERALL_RESPONSE_VALUES: dict[Response, Code] = {
    r: Code(f"R{r.value}"[:16], SCHEME, f"Overall response {r.value}") for r in Response
}
NOT_EVALUABLE = Code("NE", SCHEME, "Not evaluable")
RECORDED_SITE = Code("SITE", SCHEME, "Lesion site as recorded")

# Site words recistry maps to SNOMED CT finding sites; any other site is written only as text.
SITE_CODES: dict[str, Code] = {
    "liver": codes.SCT.Liver,
    "lung": codes.SCT.Lung,
    "lymph node": codes.SCT.LymphNode,
    "bone": codes.SCT.Bone,
    "pancreas": codes.SCT.Pancreas,
    "small intestine": codes.SCT.SmallIntestine,
    "kidney": codes.SCT.Kidney,
    "adrenal gland": codes.SCT.AdrenalGland,
    "spleen": codes.SCT.Spleen,
    "pleura": codes.SCT.Pleura,
    "brain": codes.SCT.Brain,
    "skin": codes.SCT.Skin,
    "stomach": codes.SCT.Stomach,
    "colon": codes.SCT.Colon,
    "ovary": codes.SCT.Ovary,
    "prostate": codes.SCT.Prostate,
    "breast": codes.SCT.Breast,
    "thyroid": codes.SCT.Thyroid,
}


def site_text_code(site: str) -> Code:
    """A private code whose meaning is the site text exactly as recorded (≤ 64 characters)."""
    digest = hashlib.sha1(site.encode("utf-8"), usedforsecurity=False).hexdigest()
    return Code(f"S{digest[:15]}", SCHEME, site)


def same_code(a: object, b: Code) -> bool:
    """Whether a coded item (Code, CodedConcept or dataset) has ``b``'s value and scheme."""
    value = getattr(a, "value", None) or getattr(a, "CodeValue", None)
    scheme = getattr(a, "scheme_designator", None) or getattr(a, "CodingSchemeDesignator", None)
    return value == b.value and scheme == b.scheme_designator
