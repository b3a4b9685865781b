"""Coded concepts of recistry's TID 1500 measurement reports.

Standard codes come from pydicom's concept dictionaries (DICOM PS3.16: DCM, SCT, UCUM, LN):
tracking identifier and UID (DCM 112039/112040), finding, finding sites (SNOMED CT), response
evaluation method RECIST 1.1 (DCM 112021 = DCM 126081), baseline category (CID 6145), target and
non-target responses (CID 6143/6144). Only what DICOM and SNOMED have no code for is in the private
coding scheme :data:`SCHEME`, declared in every report's Coding Scheme Identification Sequence
and listed in docs/store.md: a RECIST lesion state other than the default of its role, the
Krenning uptake score, the overall time-point response, target/non-target "not evaluable", and
a site text that no SNOMED CT finding site expresses exactly.
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
# Meanings as dcmjs's Bidirectional adapter matches them (it compares Code Meaning "Long Axis").
LONG_AXIS = Code("103339001", "SCT", "Long Axis")
SHORT_AXIS = Code("103340004", "SCT", "Short Axis")
# Retired SNOMED RT codes for the same concepts, still written by dcmjs/OHIF; read as synonyms.
LEGACY_LONG_AXIS = Code("G-A185", "SRT", "Long Axis")  # read through LEGACY_SNOMED_RT
LEGACY_SHORT_AXIS = Code("G-A186", "SRT", "Short Axis")
LENGTH = codes.SCT.Length  # SCT 410668003: OHIF's Length tool
DIAMETER = codes.SCT.Diameter  # SCT 81827009
FINDING_SITE = codes.SCT.FindingSite  # SCT 363698007
SUVBW_UNIT_DCMQI = Code("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight")
"""The SUVbw unit as dcmqi writes it; UCUM reads ``{SUVbw}g/ml`` and ``g/ml{SUVbw}`` alike
(an annotation in braces is a unit of 1 wherever it stands, UCUM §2.1.4)."""
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
RESPONSE_EVALUATION_METHOD = codes.DCM.ResponseEvaluationMethod  # DCM 112021
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
SCORE_UNIT = Code("{score}", "UCUM", "score")
"""The Krenning grade is written as a NUM 0-4 in this unit (one private code, the concept);
reports of recistry 1 wrote a CODE with private values K0-K4, still read."""
KRENNING_VALUES: dict[int, Code] = {
    grade: Code(f"K{grade}", SCHEME, f"Krenning score {grade}") for grade in range(5)
}
OVERALL_RESPONSE = Code("OVERALLRESPONSE", SCHEME, "RECIST 1.1 overall time point response")
OVERALL_RESPONSE_VALUES: dict[Response, Code] = {
    r: Code(f"R{r.value}"[:16], SCHEME, f"Overall response {r.value}") for r in Response
}
TARGET_NOT_EVALUABLE = Code("TARGETNE", SCHEME, "Target lesions not evaluable")
NON_TARGET_NOT_EVALUABLE = Code("NONTARGETNE", SCHEME, "Non-target lesions not evaluable")
RECORDED_SITE = Code("SITE", SCHEME, "Lesion site as recorded")
FRAGMENT = Code("FRAGMENT", SCHEME, "Fragment of a split lesion")
"""Names one fragment of a split target [EJC09 §4.3.2]: the fragments of a lesion are groups with
the lesion's Tracking Unique Identifier, each with this evaluation (value: the fragment's name)."""

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


# Legacy SNOMED RT identifiers (scheme SRT, also written SNM3) that older reports still carry,
# with the SNOMED CT concept each one maps to. Source: DICOM PS3.16 Annex O "SNOMED CT to SNOMED RT
# mapping" as pydicom ships it (pydicom.sr._snomed_dict; tests/sr check every row against it).
# Writers seen using them: dcmjs (G-C0E3 finding site, G-A185/G-A186 axes, G-D7FE length) and
# highdicom/dcmqi examples (T-62000 liver, T-C4000 lymph node).
LEGACY_SNOMED_RT: dict[str, Code] = {
    # concept names
    "G-C0E3": codes.SCT.FindingSite,
    "G-A185": codes.SCT.LongAxis,
    "G-A186": codes.SCT.ShortAxis,
    "G-A195": codes.SCT.PerpendicularAxis,
    "G-D7FE": codes.SCT.Length,
    "M-02550": codes.SCT.Diameter,
    "G-D705": codes.SCT.Volume,
    "G-A166": codes.SCT.Area,
    "R-00317": codes.SCT.Mean,
    "G-A437": codes.SCT.Maximum,
    "R-404FB": codes.SCT.Minimum,
    "R-10047": codes.SCT.StandardDeviation,
    # findings
    "M-01100": codes.SCT.Lesion,
    "M-01000": codes.SCT.MorphologicallyAbnormalStructure,
    "M-8FFFF": codes.SCT.Neoplasm,
    "DF-00436": codes.SCT.Metastasis,
    "T-D0005": codes.SCT.AnatomicalStructure,
    "T-D0050": codes.SCT.Tissue,
    # finding sites
    "T-62000": codes.SCT.Liver,
    "T-C4000": codes.SCT.LymphNode,
    "T-28000": codes.SCT.Lung,
    "T-D016E": codes.SCT.Bone,
    "T-65000": codes.SCT.Pancreas,
    "T-58000": codes.SCT.SmallIntestine,
    "T-58600": codes.SCT.Ileum,
    "T-71000": codes.SCT.Kidney,
    "T-B3000": codes.SCT.AdrenalGland,
    "T-C3000": codes.SCT.Spleen,
    "T-29000": codes.SCT.Pleura,
    "T-A0100": codes.SCT.Brain,
    "T-01000": codes.SCT.Skin,
    "T-57000": codes.SCT.Stomach,
    "T-59300": codes.SCT.Colon,
    "T-87000": codes.SCT.Ovary,
    "T-92000": codes.SCT.Prostate,
    "T-04000": codes.SCT.Breast,
    "T-B6000": codes.SCT.Thyroid,
}
LEGACY_SCHEMES = frozenset({"SRT", "SNM3", "99SDM"})


def standard_code(value: str, scheme: str, meaning: str) -> Code:
    """The SNOMED CT code of a legacy SNOMED RT code (:data:`LEGACY_SNOMED_RT`); others as given."""
    if scheme in LEGACY_SCHEMES and value in LEGACY_SNOMED_RT:
        return LEGACY_SNOMED_RT[value]
    return Code(value, scheme, meaning)


def site_text_code(site: str) -> Code:
    """A private code whose meaning is the site text exactly as recorded (≤ 64 characters)."""
    return _text_code("S", site)


def fragment_text_code(name: str) -> Code:
    """A private code whose meaning is a fragment's name exactly as recorded."""
    return _text_code("F", name)


def _text_code(prefix: str, text: str) -> Code:
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return Code(f"{prefix}{digest[:15]}", SCHEME, text)


def same_code(a: object, b: Code) -> bool:
    """Whether a coded item (Code, CodedConcept or dataset) has ``b``'s value and scheme."""
    value = getattr(a, "value", None) or getattr(a, "CodeValue", None)
    scheme = getattr(a, "scheme_designator", None) or getattr(a, "CodingSchemeDesignator", None)
    return value == b.value and scheme == b.scheme_designator
