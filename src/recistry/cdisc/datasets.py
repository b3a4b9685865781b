"""SDTM TU, TR, RS and ADaM ADRS, ADTR, ADTTE built from RECIST assessments (pure).

Every value comes from the same :class:`~recistry.recist.model.PatientAssessment` that
``recistry rescore`` serialises, so the datasets and rescore's JSON cannot disagree: ADRS BOR is
``best_overall_response_unconfirmed``, CBOR ``best_overall_response_confirmed``, ADTTE PFS and OS
are ``pfs_days``/``pfs_event`` and ``os_days``/``os_event``. docs/cdisc.md lists every variable
with its source in the SDTMIG, TAUG-Oncology and ADaMIG.

A dataset is built in two steps, so that 10⁶ records take about a second: per patient, one
tuple per record holds only what varies from record to record (:class:`_Records`); then every
column is made at once (:func:`_assemble`), the study's constants and each patient's values
(identifiers, evaluator, origin) spread over its records by index, and the dates, study days and
visit names derived with numpy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import numpy as np

from recistry._gc import cyclic_gc_paused
from recistry.cdisc._metadata import ADRS, ADTR, ADTTE, RS, TR, TU, DatasetSpec
from recistry.recist.irecist import IRecistPatientAssessment, IResponse
from recistry.recist.model import (
    FRAGMENT_KEY,
    LesionState,
    Measurement,
    NewLesions,
    PatientAssessment,
    PatientRecord,
    Response,
    Role,
)

__all__ = ["Columns", "StudyContext", "build_datasets", "sas_date", "study_day"]

SAS_EPOCH = dt.date(1960, 1, 1)
RECIST = "RECIST 1.1"
IRECIST = "iRECIST"
METHOD = "CT SCAN"
TSTM_MM = 5.0
"""TRSTRESN of a target 'too small to measure' (RECIST 1.1 §4.3.1 default value, TAUG-Onc §4.2)."""

Columns = dict[str, np.ndarray]
"""A dataset's variables in the order of :mod:`recistry.cdisc._metadata`: character variables as
object arrays of ``str`` (``""`` when missing), numeric ones as ``float64`` arrays (``NaN`` when
missing, SAS ``.``)."""

_RESPONSE_TEXT = {
    Response.CR: "CR",
    Response.PR: "PR",
    Response.SD: "SD",
    Response.NON_CR_NON_PD: "NON-CR/NON-PD",
    Response.PD: "PD",
    Response.NE: "NE",
}
"""Engine codes as CDISC CT submission values (codelist ONCRSR / RECIST 1.1 responses)."""

AVAL_RESPONSE = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, "MISSING": 7}
"""admiralonco ``aval_resp()``: best (1) to worst."""

_IRESPONSE_TEXT = {
    IResponse.ICR: "iCR",
    IResponse.IPR: "iPR",
    IResponse.ISD: "iSD",
    IResponse.NON_ICR_NON_IUPD: "NON-iCR/NON-iUPD",
    IResponse.IUPD: "iUPD",
    IResponse.ICPD: "iCPD",
    IResponse.NE: "NE",
}
"""iRECIST codes as the RS values of admiralonco's iRECIST vignette (``vignettes/irecist.Rmd``)."""

AVAL_IRESPONSE = {
    "NE": 8,
    "MISSING": 7,
    "iCR": 6,
    "iPR": 5,
    "iSD": 4,
    "NON-iCR/NON-iUPD": 3,
    "iUPD": 2,
    "iCPD": 1,
}
"""admiralonco's iRECIST ``aval_resp_new()``: worst (1) to best, then NE and MISSING."""

_ROLE_TEXT = {Role.TARGET: "TARGET", Role.NON_TARGET: "NON-TARGET", Role.NEW: "NEW"}
# A fragment of a split target is identified anew (SDTMIG v3.3 TU; CDISC CT C96784 TUSPLIT).
_SPLIT = ("TUSPLIT", "Tumor Split")

_STATE_TEXT = {
    LesionState.PRESENT: "PRESENT",
    LesionState.ABSENT: "ABSENT",
    LesionState.PROGRESSION: "UNEQUIVOCAL PROGRESSION",
    LesionState.EQUIVOCAL: "EQUIVOCAL",
    LesionState.NOT_EVALUABLE: "NOT EVALUABLE",
}

_NEW_LESION_TEXT = {
    NewLesions.NONE: "N",
    NewLesions.PRESENT: "Y",
    NewLesions.EQUIVOCAL: "EQUIVOCAL",
}


def sas_date(day: dt.date | None) -> int | None:
    """A SAS date: days since 1960-01-01 (``None`` stays missing)."""
    return None if day is None else (day - SAS_EPOCH).days


def study_day(day: dt.date, origin: dt.date) -> int:
    """SDTM study day: day 1 is the origin, the day before is -1 (no day 0; SDTMIG §4.4.4)."""
    delta = (day - origin).days
    return delta + 1 if delta >= 0 else delta


def _response(code: StrEnum | None) -> str | None:
    """An engine code (overall, target or non-target response) as its CDISC CT value."""
    return None if code is None else code.value.replace("NON_CR_NON_PD", "NON-CR/NON-PD")


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class StudyContext:
    """What the datasets say about the study and the reads.

    ``adjudicated`` are the patients whose read in use was chosen by adjudication (ADJFL = Y);
    ``irecist`` the iRECIST assessments (by patient) to add as RSCAT "iRECIST" records in RS and
    iRECIST parameters in ADRS (``None``: RECIST 1.1 only).
    """

    study_id: str = "RECISTRY"
    adjudicated: Collection[str] = field(default_factory=frozenset)
    irecist: Mapping[str, IRecistPatientAssessment] | None = None

    def usubjid(self, patient_id: str) -> str:
        return f"{self.study_id}-{patient_id}"


# What varies from record to record in each dataset, in the order of a record's tuple. The first
# item is always the patient's index (into _Patients); "day" is the record's date (or None).
_TU_FIELDS = (
    "patient", "TUSEQ", "TULNKID", "TUTESTCD", "TUTEST", "TUORRES", "TULOC", "TUNODAL",
    "VISITNUM", "day",
)  # fmt: skip
_TR_FIELDS = ("patient", "TRSEQ", "TRGRPID", "TRLNKID", "TRTESTCD", "TRTEST", "TRORRES",
              "TRSTRESC", "TRSTRESN", "TRSTAT", "TRREASND", "VISITNUM", "day")  # fmt: skip
_RS_FIELDS = ("patient", "RSSEQ", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES", "VISITNUM", "day")
_ADRS_FIELDS = ("patient", "PARAMCD", "PARAM", "PARCAT3", "AVALC", "AVAL", "AVISITN", "ANL01FL",
                "ANL02FL", "day")  # fmt: skip
_ADTR_FIELDS = ("patient", "AVAL", "BASE", "CHG", "PCHG", "NADIR", "CHGNAD", "PCHGNAD", "ABLFL",
                "ANL01FL", "AVISITN", "day")  # fmt: skip
_ADTTE_FIELDS = ("patient", "PARAMCD", "PARAM", "AVAL", "start", "day", "CNSR", "EVNTDESC",
                 "CNSDTDSC", "SRCDOM", "SRCVAR")  # fmt: skip


class _Records:
    """One dataset's records as tuples of the variables that vary (``fields``), in order."""

    def __init__(self, spec: DatasetSpec, fields: tuple[str, ...]) -> None:
        self.spec = spec
        self.fields = fields
        self.rows: list[tuple[object, ...]] = []

    def fields_as_lists(self) -> dict[str, list[object]]:
        if not self.rows:
            return {name: [] for name in self.fields}
        return dict(zip(self.fields, map(list, zip(*self.rows, strict=True)), strict=True))


@dataclass(frozen=True, slots=True)
class _Patients:
    """Each patient's values that its records repeat, as arrays indexed by patient."""

    usubjid: np.ndarray
    subjid: np.ndarray
    origin: np.ndarray
    """Origin date (treatment start, else the baseline scan) as a proleptic ordinal."""
    evaluator: np.ndarray
    evaluator_id: np.ndarray
    who: np.ndarray
    """PARCAT2: Investigator or Independent Assessor."""
    adjudicated: np.ndarray


def _evaluator(record: PatientRecord) -> tuple[str, str, str]:
    """--EVAL, --EVALID and ADRS PARCAT2 of a patient's read: the investigator's, or an
    independent assessor's when the read names its reader(s)."""
    readers = {m.extra.get("reader", "") for m in record.measurements} - {""}
    if not readers:
        return "INVESTIGATOR", "", "Investigator"
    return "INDEPENDENT ASSESSOR", ", ".join(sorted(readers)), "Independent Assessor"


def _text(values: Sequence[object]) -> np.ndarray:
    """Character values as an object array, ``None`` as ``""``."""
    column = np.array(values, dtype=object)
    column[column == None] = ""  # noqa: E711 (elementwise)
    return column


def _visits(record: PatientRecord, a: PatientAssessment) -> dict[dt.date, int]:
    """Visit number of each scan date: 0 the baseline, then 1, 2 … in date order."""
    dates = sorted({m.date for m in record.measurements if m.date >= a.baseline_date})
    return {d: i for i, d in enumerate(dates)}


def _visit_name(number: int) -> str:
    return "BASELINE" if number == 0 else f"FOLLOW-UP {number}"


def _ordinals(days: Sequence[object]) -> np.ndarray:
    """Dates (:class:`datetime.date` or ``None``) as proleptic ordinals (float, NaN for
    ``None``), each distinct date converted once."""
    ordinal: dict[object, float] = {None: np.nan}
    for day in dict.fromkeys(days):
        if isinstance(day, dt.date):
            ordinal[day] = day.toordinal()
    return np.fromiter(map(ordinal.__getitem__, days), dtype=float, count=len(days))


def _iso(ordinals: np.ndarray) -> np.ndarray:
    """ISO 8601 text of ordinals ('' for NaN)."""
    distinct, codes = np.unique(ordinals, return_inverse=True)
    text = [
        "" if np.isnan(x) else dt.date.fromordinal(int(x)).isoformat() for x in distinct.tolist()
    ]
    return np.array(text, dtype=object)[codes]


def _study_days(ordinals: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """:func:`study_day` of every record (no day 0)."""
    delta = ordinals - origin
    days: np.ndarray = np.where(delta >= 0, delta + 1, delta)
    return days


def _by_visit(numbers: np.ndarray, name: Callable[[int], str]) -> np.ndarray:
    """``name(visit number)`` of every record ('' for NaN)."""
    known = ~np.isnan(numbers)
    last = int(numbers[known].max()) if known.any() else -1
    names = np.array([name(i) for i in range(last + 1)] + [""], dtype=object)
    return names[np.where(known, numbers, -1).astype(np.int64)]


def _visit_names(numbers: np.ndarray) -> np.ndarray:
    """VISIT / AVISIT of visit numbers."""
    return _by_visit(numbers, _visit_name)


def _link_groups(numbers: np.ndarray) -> np.ndarray:
    """TRLNKGRP / RSLNKGRP of visit numbers: V0, V1 …"""
    return _by_visit(numbers, "V{}".format)


def _assemble(spec: DatasetSpec, n: int, values: Mapping[str, object]) -> Columns:
    """Every variable of ``spec`` as an array of ``n`` records: a scalar is repeated, a sequence
    taken as is, a variable not given is missing."""
    unknown = set(values) - set(spec.names)
    if unknown:
        raise KeyError(f"{spec.name} has no variable(s) {', '.join(sorted(unknown))}")
    columns: Columns = {}
    for v in spec.variables:
        value = values.get(v.name)
        if v.kind == "Num":
            if value is None or isinstance(value, (int, float)):
                column = np.full(n, np.nan if value is None else float(value))
            else:
                column = np.asarray(value, dtype=float)
        elif value is None or isinstance(value, str):
            column = np.full(n, "" if value is None else value, dtype=object)
        elif isinstance(value, np.ndarray) and value.dtype == object:
            column = value
        else:
            column = _text(value)  # type: ignore[arg-type]
        if len(column) != n:
            raise ValueError(f"{spec.name}.{v.name}: {len(column)} values for {n} records")
        columns[v.name] = column
    return columns


def build_datasets(
    records: Sequence[PatientRecord],
    assessments: Sequence[PatientAssessment],
    context: StudyContext | None = None,
) -> dict[str, Columns]:
    """TU, TR, RS, ADRS, ADTR and ADTTE of the given patients, in this order.

    ``records`` and ``assessments`` are matched by ``patient_id`` (the assessment of each record).
    """
    with cyclic_gc_paused():
        return _build(records, assessments, context or StudyContext())


def _build(
    records: Sequence[PatientRecord],
    assessments: Sequence[PatientAssessment],
    context: StudyContext,
) -> dict[str, Columns]:
    by_id = {a.patient_id: a for a in assessments}
    tu, tr, rs = (_Records(TU, _TU_FIELDS), _Records(TR, _TR_FIELDS), _Records(RS, _RS_FIELDS))
    adrs, adtr = _Records(ADRS, _ADRS_FIELDS), _Records(ADTR, _ADTR_FIELDS)
    adtte = _Records(ADTTE, _ADTTE_FIELDS)
    evaluators = []
    for p, record in enumerate(records):
        a = by_id[record.patient_id]
        visits = _visits(record, a)
        evaluators.append(_evaluator(record))
        who = evaluators[-1][2]
        _sdtm_tu(p, record, a, visits, tu.rows)
        _sdtm_tr(p, record, a, visits, tr.rows)
        rs_seq = _sdtm_rs(p, a, visits, rs.rows)
        _adrs(p, a, visits, who, adrs.rows)
        if context.irecist is not None:
            ia = context.irecist[a.patient_id]
            _sdtm_rs_irecist(p, ia, visits, rs_seq, rs.rows)
            _adrs_irecist(p, ia, visits, who, adrs.rows)
        _adtr(p, a, visits, adtr.rows)
        _adtte(p, a, adtte.rows)
    ids = [record.patient_id for record in records]
    patients = _Patients(
        usubjid=np.array([context.usubjid(pid) for pid in ids], dtype=object),
        subjid=np.array(ids, dtype=object),
        origin=_ordinals([by_id[pid].origin_date for pid in ids]),
        evaluator=np.array([e[0] for e in evaluators], dtype=object),
        evaluator_id=np.array([e[1] for e in evaluators], dtype=object),
        who=np.array([e[2] for e in evaluators], dtype=object),
        adjudicated=np.array(
            ["Y" if pid in context.adjudicated else "N" for pid in ids], dtype=object
        ),
    )
    return {
        "TU": _sdtm_columns(tu, patients, context.study_id),
        "TR": _sdtm_columns(tr, patients, context.study_id),
        "RS": _sdtm_columns(rs, patients, context.study_id),
        "ADRS": _adam_columns(adrs, patients, context.study_id),
        "ADTR": _adam_columns(adtr, patients, context.study_id),
        "ADTTE": _adtte_columns(adtte, patients, context.study_id),
    }


def _sdtm_columns(records: _Records, patients: _Patients, study_id: str) -> Columns:
    """An SDTM domain: its varying fields plus the identifiers, evaluator, visit, date and
    study day every record of the domain carries."""
    name = records.spec.name
    fields = records.fields_as_lists()
    patient = np.asarray(fields.pop("patient"), dtype=np.int64)
    ordinals = _ordinals(fields.pop("day"))
    visit = np.asarray(fields["VISITNUM"], dtype=float)
    values: dict[str, object] = {
        "STUDYID": study_id,
        "DOMAIN": name,
        "USUBJID": patients.usubjid[patient],
        **fields,
        f"{name}EVAL": patients.evaluator[patient],
        f"{name}EVALID": patients.evaluator_id[patient],
        f"{name}ACPTFL": "Y",
        "VISIT": _visit_names(visit),
        f"{name}DTC": _iso(ordinals),
        f"{name}DY": _study_days(ordinals, patients.origin[patient]),
    }
    if name == "TU":
        values.update(
            TUSTRESC=fields["TUORRES"],
            TUMETHOD=METHOD,
        )
    elif name == "TR":
        units = np.full(len(patient), "", dtype=object)
        units[~np.isnan(np.asarray(fields["TRSTRESN"], dtype=float))] = "mm"
        values.update(
            TRLNKGRP=_link_groups(visit),
            TRORRESU=units,
            TRSTRESU=units,
            TRMETHOD=METHOD,
        )
    else:
        values.update(RSLNKGRP=_link_groups(visit), RSSTRESC=fields["RSORRES"])
    return _assemble(records.spec, len(patient), values)


def _adam_columns(records: _Records, patients: _Patients, study_id: str) -> Columns:
    """ADRS or ADTR: the varying fields plus the subject, origin and analysis dates."""
    fields = records.fields_as_lists()
    patient = np.asarray(fields.pop("patient"), dtype=np.int64)
    ordinals = _ordinals(fields.pop("day"))
    origin = patients.origin[patient]
    values: dict[str, object] = {
        "STUDYID": study_id,
        "USUBJID": patients.usubjid[patient],
        "SUBJID": patients.subjid[patient],
        "TRTSDT": origin - SAS_EPOCH.toordinal(),
        "TRTSDTC": _iso(origin),
        **fields,
        "ADT": ordinals - SAS_EPOCH.toordinal(),
        "ADTC": _iso(ordinals),
        "ADY": _study_days(ordinals, origin),
        "AVISIT": _visit_names(np.asarray(fields["AVISITN"], dtype=float)),
    }
    if records.spec.name == "ADRS":
        values.update(
            PARCAT1="Tumor Response",
            PARCAT2=patients.who[patient],
            RSEVAL=patients.evaluator[patient],
            RSEVALID=patients.evaluator_id[patient],
            ADJFL=patients.adjudicated[patient],
        )
    else:
        values.update(
            PARAMCD="SDIAM",
            PARAM="Target Lesions Sum of Diameters",
            PARCAT1="Target Lesion(s)",
            PARCAT3=RECIST,
            AVALU="mm",
        )
    return _assemble(records.spec, len(patient), values)


def _adtte_columns(records: _Records, patients: _Patients, study_id: str) -> Columns:
    fields = records.fields_as_lists()
    patient = np.asarray(fields.pop("patient"), dtype=np.int64)
    start = _ordinals(fields.pop("start"))
    end = _ordinals(fields.pop("day"))
    values: dict[str, object] = {
        "STUDYID": study_id,
        "USUBJID": patients.usubjid[patient],
        "SUBJID": patients.subjid[patient],
        **fields,
        "AVALU": "DAYS",
        "STARTDT": start - SAS_EPOCH.toordinal(),
        "STARTDTC": _iso(start),
        "ADT": end - SAS_EPOCH.toordinal(),
        "ADTC": _iso(end),
        "ADJFL": patients.adjudicated[patient],
    }
    return _assemble(records.spec, len(patient), values)


Rows = list[tuple[object, ...]]


def _link_id(m: Measurement) -> str:
    """TULNKID / TRLNKID: the lesion id, or ``T1.a`` for fragment ``a`` of a split target."""
    fragment = m.extra.get(FRAGMENT_KEY)
    return f"{m.lesion_id}.{fragment}" if fragment else m.lesion_id


def _sdtm_tu(
    p: int, record: PatientRecord, a: PatientAssessment, visits: Mapping[dt.date, int], rows: Rows
) -> None:
    """TU: each lesion at the first scan it appears on, from baseline on (_TU_FIELDS); each
    fragment of a split target at the scan it splits, as TUSPLIT with its own link id."""
    first: dict[str, Measurement] = {}
    for m in sorted(record.measurements, key=lambda m: m.date):
        if m.date >= a.baseline_date:
            first.setdefault(m.lesion_id, m)
            first.setdefault(_link_id(m), m)
    ordered = sorted(first.items(), key=lambda item: (item[1].date, item[0]))
    for seq, (link, m) in enumerate(ordered, 1):
        test = ("TUMIDENT", "Tumor Identification") if link == m.lesion_id else _SPLIT
        rows.append(
            (p, seq, link, *test, _ROLE_TEXT[m.role], m.site.upper(), "Y" if m.nodal else "N",
             visits[m.date], m.date)
        )  # fmt: skip


def _target_result(m: Measurement, axis: Decimal | None) -> tuple[str, str, float | None, str, str]:
    """TRORRES, TRSTRESC, TRSTRESN, TRSTAT, TRREASND of one target diameter (TAUG-Onc §4.2)."""
    if m.state is LesionState.TOO_SMALL:
        return "TOO SMALL TO MEASURE", "5", TSTM_MM, "", ""
    if m.state in (LesionState.ABSENT, LesionState.MERGED):
        return "0", "0", 0.0, "", ""
    if m.state is LesionState.NOT_EVALUABLE or axis is None:
        return "", "", None, "NOT DONE", "NOT EVALUABLE"
    text = str(axis)
    return text, text, float(axis), "", ""


def _sdtm_tr(
    p: int, record: PatientRecord, a: PatientAssessment, visits: Mapping[dt.date, int], rows: Rows
) -> None:
    """TR: per scan, each lesion's diameters or state, then the sum of diameters (_TR_FIELDS;
    TRORRESU/TRSTRESU are mm where TRSTRESN is given)."""
    sums = {a.baseline_date: a.baseline_sum_mm}
    sums.update({tp.date: tp.target_sum_mm for tp in a.timepoints})
    seq = 0
    by_date: dict[dt.date, list[Measurement]] = {}
    for m in record.measurements:
        if m.date in visits:
            by_date.setdefault(m.date, []).append(m)
    for day in sorted(by_date):
        number = visits[day]
        for m in sorted(by_date[day], key=_link_id):
            group = _ROLE_TEXT[m.role]
            if m.role is Role.TARGET:
                tests = [("SAXIS", "Short Axis", m.short_axis_mm)] if m.nodal else []
                if not m.nodal or m.long_axis_mm is not None:
                    tests.insert(0, ("LDIAM", "Longest Diameter", m.long_axis_mm))
                for code, name, axis in tests:
                    seq += 1
                    rows.append(
                        (p, seq, group, _link_id(m), code, name, *_target_result(m, axis),
                         number, day)
                    )  # fmt: skip
            else:
                seq += 1
                if m.state is LesionState.NOT_EVALUABLE:
                    result = ("", "", None, "NOT DONE", "NOT EVALUABLE")
                else:
                    state = _STATE_TEXT.get(m.state, m.state.value.upper())
                    result = (state, state, None, "", "")
                rows.append(
                    (p, seq, group, m.lesion_id, "TUMSTATE", "Tumor State", *result, number, day)
                )
        total = sums.get(day)
        if total is not None:
            seq += 1
            text = str(total)
            rows.append(
                (p, seq, "TARGET", "", "SUMDIAM", "Sum of Diameters", text, text, float(total),
                 "", "", number, day)
            )  # fmt: skip


_RS_TESTS = (
    ("TRGRESP", "Target Response"),
    ("NTRGRESP", "Non-target Response"),
    ("NEWLPROG", "New Lesion Progression"),
    ("OVRLRESP", "Overall Response"),
)


def _sdtm_rs(p: int, a: PatientAssessment, visits: Mapping[dt.date, int], rows: Rows) -> int:
    """RECIST 1.1 responses per visit (_RS_FIELDS); returns the patient's last RSSEQ."""
    seq = 0
    for tp in a.timepoints:
        number = visits[tp.date]
        results = (
            _response(tp.target_response),
            _response(tp.non_target_response),
            _NEW_LESION_TEXT[tp.new_lesions],
            _response(tp.overall_response),
        )
        for (code, name), result in zip(_RS_TESTS, results, strict=True):
            if result is None:
                continue
            seq += 1
            rows.append((p, seq, code, name, RECIST, result, number, tp.date))
    return seq


def _sdtm_rs_irecist(
    p: int, ia: IRecistPatientAssessment, visits: Mapping[dt.date, int], seq: int, rows: Rows
) -> None:
    """RSCAT "iRECIST" overall responses, after the RECIST 1.1 records (RSSEQ continues from
    ``seq``)."""
    for tp in ia.timepoints:
        seq += 1
        result = _IRESPONSE_TEXT[tp.response]
        rows.append(
            (p, seq, "OVRLRESP", "Overall Response", IRECIST, result, visits[tp.date], tp.date)
        )


def _yes_no(flag: bool) -> tuple[str, int]:
    return ("Y", 1) if flag else ("N", 0)


def _adrs_irecist(
    p: int, ia: IRecistPatientAssessment, visits: Mapping[dt.date, int], who: str, rows: Rows
) -> None:
    """iRECIST parameters (admiralonco ``vignettes/irecist.Rmd``, PARCAT3 "iRECIST"): IOVR per
    visit, IBOR, ICPD and IUPD (_ADRS_FIELDS). The codes carry an I so that one ADRS holds both
    criteria with one PARAM per PARAMCD (admiralonco's iRECIST-only ADRS uses OVR and BOR)."""
    origin = ia.recist.origin_date
    before_icpd = True
    for tp in ia.timepoints:
        code = _IRESPONSE_TEXT[tp.response]
        rows.append(
            (p, "IOVR", f"iRECIST Overall Response by {who}", IRECIST, code, AVAL_IRESPONSE[code],
             visits[tp.date], "Y" if tp.date >= origin else "", "Y" if before_icpd else "",
             tp.date)
        )  # fmt: skip
        if tp.response is IResponse.ICPD:
            before_icpd = False
    best = _IRESPONSE_TEXT[ia.best_overall_response]
    first = next((tp.date for tp in ia.timepoints if tp.response is ia.best_overall_response), None)
    rows.append(
        (p, "IBOR", f"iRECIST Best Overall Response by {who}", IRECIST, best,
         AVAL_IRESPONSE[best], None, "Y", "", first)
    )  # fmt: skip
    for code, label, day in (
        ("ICPD", "iRECIST Confirmation of Disease Progression", ia.progression_date),
        ("IUPD", "iRECIST Unconfirmed Disease Progression", ia.unconfirmed_iupd_date),
    ):
        avalc, aval = _yes_no(day is not None)
        rows.append((p, code, f"{label} by {who}", IRECIST, avalc, aval, None, "Y", "", day))


def _adrs(
    p: int, a: PatientAssessment, visits: Mapping[dt.date, int], who: str, rows: Rows
) -> None:
    """RECIST 1.1 parameters (admiralonco ``vignettes/adrs_basic.Rmd``): OVR per visit, BOR,
    CBOR, RSP, CRSP, CB, PD, MDIS (_ADRS_FIELDS)."""
    origin = a.origin_date
    before_pd = True
    for tp in a.timepoints:
        code = _RESPONSE_TEXT[tp.overall_response]
        rows.append(
            (p, "OVR", f"Overall Response by {who}", RECIST, code, AVAL_RESPONSE[code],
             visits[tp.date], "Y" if tp.date >= origin else "", "Y" if before_pd else "", tp.date)
        )  # fmt: skip
        if tp.overall_response is Response.PD:
            before_pd = False

    def first_date(code: Response) -> dt.date | None:
        return next((tp.date for tp in a.timepoints if tp.overall_response is code), None)

    for pcode, label, best in (
        (
            "BOR",
            "Best Overall Response (confirmation not required)",
            a.best_overall_response_unconfirmed,
        ),
        ("CBOR", "Best Confirmed Overall Response", a.best_overall_response_confirmed),
    ):
        text = _RESPONSE_TEXT[best]
        rows.append(
            (p, pcode, f"{label} by {who}"[:200], RECIST, text, AVAL_RESPONSE[text], None, "Y",
             "", first_date(best))
        )  # fmt: skip
    responders = (Response.CR, Response.PR)
    control = (*responders, Response.SD)
    flags = (
        (
            "RSP",
            "Response (confirmation not required)",
            a.best_overall_response_unconfirmed in responders,
            a.first_response_date,
        ),
        ("CRSP", "Confirmed Response", a.best_overall_response_confirmed in responders, None),
        (
            "CB",
            "Clinical Benefit (confirmation not required)",
            a.best_overall_response_unconfirmed in control,
            None,
        ),
        ("PD", "Disease Progression", a.progression_date is not None, a.progression_date),
        ("MDIS", "Measurable Disease at Baseline", a.measurable, a.baseline_date),
    )
    for pcode, label, flag, day in flags:
        avalc, aval = _yes_no(flag)
        rows.append(
            (p, pcode, f"{label} by {who}", RECIST, avalc, aval, None, "Y", "",
             day if flag else None)
        )  # fmt: skip


def _adtr(p: int, a: PatientAssessment, visits: Mapping[dt.date, int], rows: Rows) -> None:
    """Sum of diameters at baseline and each follow-up with a sum (_ADTR_FIELDS)."""
    base = a.baseline_sum_mm
    if base is None:
        return
    rows.append((p, float(base), float(base), 0.0, 0.0, None, None, None, "Y", "Y", 0,
                 a.baseline_date))  # fmt: skip
    for tp in a.timepoints:
        total = tp.target_sum_mm
        if total is None:
            continue
        nadir = tp.nadir_mm
        rows.append(
            (p, float(total), float(base), float(total - base),
             _float(tp.change_from_baseline_pct), _float(nadir),
             None if nadir is None else float(total - nadir), _float(tp.change_from_nadir_pct),
             "", "Y" if tp.complete else "", visits[tp.date], tp.date)
        )  # fmt: skip


def _pfs_description(a: PatientAssessment) -> tuple[str, str, str]:
    """EVNTDESC, SRCDOM and SRCVAR of the PFS record (admiralonco ``tte_source`` objects)."""
    end = a.origin_date + dt.timedelta(days=a.pfs_days)
    if a.pfs_event:
        if a.progression_date == end:
            return "Disease Progression", "ADRS", "ADT"
        return "Death", "ADSL", "DTHDT"
    if a.pfs_days == 0:
        return "Treatment Start", "ADSL", "TRTSDT"
    return "Last Tumor Assessment", "ADRS", "ADT"


def _tte(
    p: int,
    code: str,
    param: str,
    start: dt.date,
    days: int,
    event: bool,
    description: tuple[str, str, str],
    censor_text: str | None = None,
) -> tuple[object, ...]:
    """One ADTTE record (_ADTTE_FIELDS); CNSDTDSC is ``censor_text`` (default EVNTDESC) when
    censored."""
    text, domain, variable = description
    censor = "" if event else (censor_text or text)
    end = start + dt.timedelta(days=days)
    return (p, code, param, days, start, end, 0 if event else 1, text, censor, domain, variable)


def _adtte(p: int, a: PatientAssessment, rows: Rows) -> None:
    """PFS, OS (with a clinical table) and duration of response of responders."""
    origin = a.origin_date
    pfs = _pfs_description(a)
    rows.append(_tte(p, "PFS", "Progression Free Survival", origin, a.pfs_days, a.pfs_event, pfs))
    if a.os_days is not None:
        event = bool(a.os_event)
        text = ("Death", "ADSL", "DTHDT") if event else ("Alive", "ADSL", "LSTALVDT")
        rows.append(
            _tte(p, "OS", "Overall Survival", origin, a.os_days, event, text,
                 censor_text="Alive During Study")
        )  # fmt: skip
    if a.best_overall_response in (Response.CR, Response.PR) and a.first_response_date is not None:
        start = a.first_response_date
        days = max(a.pfs_days - (start - origin).days, 0)
        rows.append(_tte(p, "RSD", "Duration of Response", start, days, a.pfs_event, pfs))
