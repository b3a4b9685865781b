"""Variable metadata of every dataset recistry writes (the define-style table).

Each variable names its source in the CDISC standards (SDTMIG v3.4, TAUG-Oncology v1.0, ADaMIG v1.3,
ADaM BDS/OCCDS and the admiralonco conventions), its SAS type and, where one exists, its codelist
(CDISC Controlled Terminology, NCI EVS). Names are at most 8 characters and labels at most 40, the
SAS transport v5 limits (a test checks them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Variable:
    """One dataset variable.

    ``kind`` is ``"Char"`` or ``"Num"``; ``codelist`` the CDISC CT codelist (submission value)
    or ``""``; ``source`` where the standard defines it and how recistry derives it.
    """

    name: str
    label: str
    kind: str
    codelist: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A dataset: name, label (at most 40 characters), class and its variables in order."""

    name: str
    label: str
    klass: str
    variables: tuple[Variable, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)


def _c(name: str, label: str, codelist: str = "", source: str = "") -> Variable:
    return Variable(name, label, "Char", codelist, source)


def _n(name: str, label: str, codelist: str = "", source: str = "") -> Variable:
    return Variable(name, label, "Num", codelist, source)


_SDTM_ID = (
    _c("STUDYID", "Study Identifier", source="SDTMIG 3.4 §4.1.2; --study-id"),
    _c("DOMAIN", "Domain Abbreviation", "DOMAIN", "SDTMIG 3.4 §4.1.2"),
    _c("USUBJID", "Unique Subject Identifier", source="SDTMIG 3.4 §4.1.2; STUDYID-patient_id"),
)

TU = DatasetSpec(
    "TU",
    "Tumor/Lesion Identification",
    "FINDINGS",
    (
        *_SDTM_ID,
        _n("TUSEQ", "Sequence Number", source="SDTMIG 3.4 §6.3.12"),
        _c(
            "TULNKID",
            "Link ID",
            source="TAUG-Onc §4.1; lesion_id (T1.a: fragment a), links TU to TR",
        ),
        _c(
            "TUTESTCD",
            "Tumor Identification Short Name",
            "TUTESTCD",
            "TAUG-Onc §4.1: TUMIDENT; TUSPLIT: a split target's fragment",
        ),
        _c("TUTEST", "Tumor Identification Test Name", "TUTEST", "TAUG-Onc §4.1"),
        _c("TUORRES", "Tumor Identification Result", "ONCRSR", "TAUG-Onc §4.1; role"),
        _c("TUSTRESC", "Tumor Identification Result Std. Format", "ONCRSR", "TUORRES"),
        _c("TULOC", "Location of the Tumor/Lesion", "LOC", "SDTMIG 3.4 §6.3.12; site, upper case"),
        _c("TUNODAL", "Nodal Lesion", "NY", "recistry: the table's nodal (Y/N)"),
        _c("TUMETHOD", "Method of Identification", "METHOD", "TAUG-Onc §4.1: CT SCAN"),
        _c("TUEVAL", "Evaluator", "EVAL", "SDTMIG 3.4 §6.3.12; INDEPENDENT ASSESSOR with readers"),
        _c("TUEVALID", "Evaluator Identifier", "MEDEVAL", "SDTMIG 3.4 §6.3.12; the reader"),
        _c("TUACPTFL", "Accepted Record Flag", "NY", "SDTMIG 3.4 §6.3.12; Y: the read in use"),
        _n("VISITNUM", "Visit Number", source="SDTMIG 3.4 §4.4.5; 0 baseline, k k-th follow-up"),
        _c("VISIT", "Visit Name", source="SDTMIG 3.4 §4.4.5"),
        _c("TUDTC", "Date/Time of Tumor Identification", source="ISO 8601 date of the scan"),
        _n("TUDY", "Study Day of Tumor Identification", source="SDTMIG 3.4 §4.4.4; vs origin"),
    ),
)

TR = DatasetSpec(
    "TR",
    "Tumor/Lesion Results",
    "FINDINGS",
    (
        *_SDTM_ID,
        _n("TRSEQ", "Sequence Number", source="SDTMIG 3.4 §6.3.13"),
        _c("TRGRPID", "Group ID", source="TAUG-Onc §4.2: TARGET, NON-TARGET or NEW"),
        _c("TRLNKID", "Link ID", source="TAUG-Onc §4.2; = TU.TULNKID; blank for SUMDIAM"),
        _c("TRLNKGRP", "Link Group ID", source="TAUG-Onc §4.2; links TR to RS of the visit"),
        _c("TRTESTCD", "Tumor/Lesion Assessment Short Name", "TRTESTCD", "TAUG-Onc §4.2"),
        _c("TRTEST", "Tumor/Lesion Assessment Test Name", "TRTEST", "TAUG-Onc §4.2"),
        _c("TRORRES", "Result or Finding in Original Units", source="TAUG-Onc §4.2"),
        _c("TRORRESU", "Original Units", "UNIT", "mm"),
        _c("TRSTRESC", "Character Result/Finding in Std Format", source="TAUG-Onc §4.2"),
        _n("TRSTRESN", "Numeric Result/Finding in Standard Units", source="TSTM as 5 mm"),
        _c("TRSTRESU", "Standard Units", "UNIT", "mm"),
        _c("TRSTAT", "Completion Status", "ND", "SDTMIG 3.4: NOT DONE when not evaluable"),
        _c("TRREASND", "Reason Not Done", source="SDTMIG 3.4"),
        _c("TRMETHOD", "Method Used to Identify the Tumor", "METHOD", "CT SCAN"),
        _c("TREVAL", "Evaluator", "EVAL", "as TUEVAL"),
        _c("TREVALID", "Evaluator Identifier", "MEDEVAL", "as TUEVALID"),
        _c("TRACPTFL", "Accepted Record Flag", "NY", "as TUACPTFL"),
        _n("VISITNUM", "Visit Number", source="as TU"),
        _c("VISIT", "Visit Name", source="as TU"),
        _c("TRDTC", "Date/Time of Tumor/Lesion Measurement", source="ISO 8601 date of the scan"),
        _n("TRDY", "Study Day of Tumor/Lesion Measurement", source="SDTMIG 3.4 §4.4.4"),
    ),
)

RS = DatasetSpec(
    "RS",
    "Disease Response and Clin Classification",
    "FINDINGS",
    (
        *_SDTM_ID,
        _n("RSSEQ", "Sequence Number", source="SDTMIG 3.4 §6.3.14"),
        _c("RSLNKGRP", "Link Group ID", source="TAUG-Onc §4.3; = TR.TRLNKGRP"),
        _c("RSTESTCD", "Assessment Short Name", "ONCRTSCD", "TAUG-Onc §4.3"),
        _c("RSTEST", "Assessment Name", "ONCRTS", "TAUG-Onc §4.3"),
        _c("RSCAT", "Category for Assessment", "ONCRSCAT", "RECIST 1.1, or iRECIST (--irecist)"),
        _c("RSORRES", "Result or Finding in Original Units", "ONCRSR", "the engine's call"),
        _c("RSSTRESC", "Character Result/Finding in Std Format", "ONCRSR", "RSORRES"),
        _c("RSEVAL", "Evaluator", "EVAL", "as TUEVAL"),
        _c("RSEVALID", "Evaluator Identifier", "MEDEVAL", "as TUEVALID"),
        _c("RSACPTFL", "Accepted Record Flag", "NY", "as TUACPTFL"),
        _n("VISITNUM", "Visit Number", source="as TU"),
        _c("VISIT", "Visit Name", source="as TU"),
        _c("RSDTC", "Date/Time of Assessment", source="ISO 8601 date of the scan"),
        _n("RSDY", "Study Day of Assessment", source="SDTMIG 3.4 §4.4.4"),
    ),
)

_ADAM_ID = (
    _c("STUDYID", "Study Identifier", source="ADaMIG 1.3 §3.1; = SDTM"),
    _c("USUBJID", "Unique Subject Identifier", source="ADaMIG 1.3 §3.1; = SDTM"),
    _c("SUBJID", "Subject Identifier for the Study", source="ADaMIG 1.3; the table's patient_id"),
)
_PARAM = (
    _c("PARAMCD", "Parameter Code", source="ADaM BDS; admiralonco codes"),
    _c("PARAM", "Parameter", source="ADaM BDS; admiralonco labels"),
)
_DATES = (
    _n("TRTSDT", "Date of First Exposure to Treatment", source="ADaMIG 1.3; SAS date, origin"),
    _c("TRTSDTC", "Date of First Exposure (ISO 8601)", source="origin as ISO 8601 text"),
)

ADRS = DatasetSpec(
    "ADRS",
    "Response Analysis Dataset",
    "BASIC DATA STRUCTURE",
    (
        *_ADAM_ID,
        *_DATES,
        *_PARAM,
        _c("PARCAT1", "Parameter Category 1", source="admiralonco: Tumor Response"),
        _c("PARCAT2", "Parameter Category 2", source="admiralonco: Investigator or reader"),
        _c("PARCAT3", "Parameter Category 3", source="admiralonco: RECIST 1.1 or iRECIST"),
        _c("AVALC", "Analysis Value (C)", "ONCRSR", "ADaM BDS; response or Y/N"),
        _n(
            "AVAL",
            "Analysis Value",
            source="admiralonco aval_resp (CR 1 … NE 6); iRECIST: iCPD 1 … iCR 6, NE 8; Y 1, N 0",
        ),
        _n("ADT", "Analysis Date", source="ADaM BDS; SAS date (days since 1960-01-01)"),
        _c("ADTC", "Analysis Date (ISO 8601)", source="ADT as ISO 8601 text"),
        _n("ADY", "Analysis Relative Day", source="ADaM BDS; ADT - TRTSDT (+1 on or after)"),
        _c("AVISIT", "Analysis Visit", source="ADaM BDS; = VISIT"),
        _n("AVISITN", "Analysis Visit (N)", source="ADaM BDS; = VISITNUM"),
        _c("ANL01FL", "Analysis Flag 01", "NY", "admiralonco: record used for parameters"),
        _c("ANL02FL", "Analysis Flag 02", "NY", "admiralonco: up to and including first PD"),
        _c("RSEVAL", "Evaluator", "EVAL", "= RS.RSEVAL"),
        _c("RSEVALID", "Evaluator Identifier", "MEDEVAL", "= RS.RSEVALID"),
        _c("ADJFL", "Adjudicated Read Flag", "NY", "recistry: the read was adjudicated"),
    ),
)

ADTR = DatasetSpec(
    "ADTR",
    "Tumor Results Analysis Dataset",
    "BASIC DATA STRUCTURE",
    (
        *_ADAM_ID,
        *_DATES,
        *_PARAM,
        _c("PARCAT1", "Parameter Category 1", source="admiralonco: Target Lesion(s)"),
        _c("PARCAT3", "Parameter Category 3", source="admiralonco: RECIST 1.1"),
        _n("AVAL", "Analysis Value", source="sum of diameters, mm (TR SUMDIAM)"),
        _c("AVALU", "Analysis Value Unit", "UNIT", "mm"),
        _n("BASE", "Baseline Value", source="ADaM BDS; baseline sum"),
        _n("CHG", "Change from Baseline", source="ADaM BDS; AVAL - BASE"),
        _n("PCHG", "Percent Change from Baseline", source="ADaM BDS; 100 CHG / BASE"),
        _n("NADIR", "Nadir", source="admiralonco ADTR: smallest earlier sum (engine's nadir)"),
        _n("CHGNAD", "Change from Nadir", source="admiralonco ADTR: AVAL - NADIR"),
        _n("PCHGNAD", "Percent Change from Nadir", source="admiralonco ADTR: 100 CHGNAD / NADIR"),
        _c("ABLFL", "Baseline Record Flag", "NY", "ADaM BDS"),
        _c("ANL01FL", "Analysis Flag 01", "NY", "complete target assessment"),
        _n("ADT", "Analysis Date", source="SAS date"),
        _c("ADTC", "Analysis Date (ISO 8601)", source="ISO 8601 text"),
        _n("ADY", "Analysis Relative Day", source="as ADRS"),
        _c("AVISIT", "Analysis Visit", source="= VISIT"),
        _n("AVISITN", "Analysis Visit (N)", source="= VISITNUM"),
    ),
)

ADTTE = DatasetSpec(
    "ADTTE",
    "Time-to-Event Analysis Dataset",
    "BASIC DATA STRUCTURE",
    (
        *_ADAM_ID,
        *_PARAM,
        _n("AVAL", "Analysis Value", source="ADaM TTE; days, ADT - STARTDT (as rescore)"),
        _c("AVALU", "Analysis Value Unit", "UNIT", "DAYS"),
        _n("STARTDT", "Time to Event Origin Date for Subject", source="ADaM TTE; SAS date"),
        _c("STARTDTC", "Origin Date (ISO 8601)", source="ISO 8601 text"),
        _n("ADT", "Analysis Date", source="ADaM TTE; event or censoring date, SAS date"),
        _c("ADTC", "Analysis Date (ISO 8601)", source="ISO 8601 text"),
        _n("CNSR", "Censor", source="ADaM TTE: 0 event, 1 censored"),
        _c("EVNTDESC", "Event or Censoring Description", source="admiralonco tte_source"),
        _c("CNSDTDSC", "Censor Date Description", source="admiralonco tte_source"),
        _c("SRCDOM", "Source Data", source="ADaM TTE: ADRS or ADSL"),
        _c("SRCVAR", "Source Variable", source="ADaM TTE"),
        _c("ADJFL", "Adjudicated Read Flag", "NY", "as ADRS"),
    ),
)

SPECS: tuple[DatasetSpec, ...] = (TU, TR, RS, ADRS, ADTR, ADTTE)
"""Every dataset, in the order they are written."""
