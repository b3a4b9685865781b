"""SDTM TU, TR, RS and ADaM ADRS, ADTR, ADTTE built from RECIST assessments (pure).

Every value comes from the same :class:`~recistry.recist.model.PatientAssessment` that
``recistry rescore`` serialises, so the datasets and rescore's JSON cannot disagree: ADRS BOR is
``best_overall_response_unconfirmed``, CBOR ``best_overall_response_confirmed``, ADTTE PFS and OS
are ``pfs_days``/``pfs_event`` and ``os_days``/``os_event``. docs/cdisc.md lists every variable
with its source in the SDTMIG, TAUG-Oncology and ADaMIG.

Datasets are columns: ``{variable: [value, ...]}`` in the order of
:mod:`recistry.cdisc._metadata`; ``None`` is a missing value (blank character, numeric ``.``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from recistry.cdisc._metadata import ADRS, ADTR, ADTTE, RS, SPECS, TR, TU, DatasetSpec
from recistry.recist.irecist import IRecistPatientAssessment, IResponse
from recistry.recist.model import (
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

Columns = dict[str, list[object]]

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


class _Table:
    """The records of one dataset, kept as the dicts they are written as and turned into
    columns once (:meth:`columns`): fast enough for 10⁶ records."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self._rows: list[Mapping[str, object]] = []
        self._names = frozenset(spec.names)

    def add(self, values: Mapping[str, object]) -> None:
        """Append one record (a fresh mapping: it is kept, not copied); absent variables are
        missing values."""
        self._rows.append(values)

    def columns(self) -> Columns:
        unknown = set().union(*self._rows) - self._names
        if unknown:
            raise KeyError(f"{self.spec.name} has no variable(s) {', '.join(sorted(unknown))}")
        return {name: [row.get(name) for row in self._rows] for name in self.spec.names}


def _visits(record: PatientRecord, a: PatientAssessment) -> dict[dt.date, int]:
    """Visit number of each scan date: 0 the baseline, then 1, 2 … in date order."""
    dates = sorted({m.date for m in record.measurements if m.date >= a.baseline_date})
    return {d: i for i, d in enumerate(dates)}


def _visit_name(number: int) -> str:
    return "BASELINE" if number == 0 else f"FOLLOW-UP {number}"


def _evaluator(record: PatientRecord) -> tuple[str, str | None]:
    readers = {m.extra.get("reader", "") for m in record.measurements} - {""}
    if not readers:
        return "INVESTIGATOR", None
    return "INDEPENDENT ASSESSOR", ", ".join(sorted(readers))


def build_datasets(
    records: Sequence[PatientRecord],
    assessments: Sequence[PatientAssessment],
    context: StudyContext | None = None,
) -> dict[str, Columns]:
    """TU, TR, RS, ADRS, ADTR and ADTTE of the given patients, in this order.

    ``records`` and ``assessments`` are matched by ``patient_id`` (the assessment of each record).
    """
    context = context or StudyContext()
    by_id = {a.patient_id: a for a in assessments}
    tables = {spec.name: _Table(spec) for spec in SPECS}
    for record in records:
        a = by_id[record.patient_id]
        _patient(record, a, context, tables)
    return {name: table.columns() for name, table in tables.items()}


def _patient(
    record: PatientRecord,
    a: PatientAssessment,
    context: StudyContext,
    tables: Mapping[str, _Table],
) -> None:
    visits = _visits(record, a)
    evaluator, evaluator_id = _evaluator(record)
    adjudicated = "Y" if a.patient_id in context.adjudicated else "N"
    origin = a.origin_date
    common = {"STUDYID": context.study_id, "USUBJID": context.usubjid(a.patient_id)}
    _sdtm_tu(record, a, visits, evaluator, evaluator_id, common, origin, tables[TU.name])
    _sdtm_tr(record, a, visits, evaluator, evaluator_id, common, origin, tables[TR.name])
    rs_seq = _sdtm_rs(a, visits, evaluator, evaluator_id, common, origin, tables[RS.name])
    adam = {**common, "SUBJID": a.patient_id, "TRTSDT": sas_date(origin)}
    adam["TRTSDTC"] = origin.isoformat()
    _adrs(a, visits, evaluator, evaluator_id, adjudicated, adam, tables[ADRS.name])
    if context.irecist is not None:
        ia = context.irecist[a.patient_id]
        _sdtm_rs_irecist(
            ia, visits, evaluator, evaluator_id, common, origin, rs_seq, tables[RS.name]
        )
        _adrs_irecist(ia, visits, evaluator, evaluator_id, adjudicated, adam, tables[ADRS.name])
    _adtr(a, visits, adam, tables[ADTR.name])
    _adtte(a, adjudicated, adam, tables[ADTTE.name])


def _sdtm_tu(
    record: PatientRecord,
    a: PatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    common: Mapping[str, object],
    origin: dt.date,
    table: _Table,
) -> None:
    first: dict[str, Measurement] = {}
    for m in sorted(record.measurements, key=lambda m: m.date):
        if m.date >= a.baseline_date and m.lesion_id not in first:
            first[m.lesion_id] = m
    for seq, m in enumerate(sorted(first.values(), key=lambda m: (m.date, m.lesion_id)), 1):
        number = visits[m.date]
        table.add(
            {
                **common,
                "DOMAIN": "TU",
                "TUSEQ": seq,
                "TULNKID": m.lesion_id,
                "TUTESTCD": "TUMIDENT",
                "TUTEST": "Tumor Identification",
                "TUORRES": _ROLE_TEXT[m.role],
                "TUSTRESC": _ROLE_TEXT[m.role],
                "TULOC": m.site.upper(),
                "TUNODAL": "Y" if m.nodal else "N",
                "TUMETHOD": METHOD,
                "TUEVAL": evaluator,
                "TUEVALID": evaluator_id,
                "TUACPTFL": "Y",
                "VISITNUM": number,
                "VISIT": _visit_name(number),
                "TUDTC": m.date.isoformat(),
                "TUDY": study_day(m.date, origin),
            }
        )


def _target_result(m: Measurement, axis: Decimal | None) -> dict[str, object]:
    """TRORRES/TRSTRESC/TRSTRESN/TRSTAT of one target diameter (TAUG-Onc §4.2)."""
    if m.state is LesionState.TOO_SMALL:
        return {"TRORRES": "TOO SMALL TO MEASURE", "TRSTRESC": "5", "TRSTRESN": TSTM_MM}
    if m.state in (LesionState.ABSENT, LesionState.MERGED):
        return {"TRORRES": "0", "TRSTRESC": "0", "TRSTRESN": 0.0}
    if m.state is LesionState.NOT_EVALUABLE or axis is None:
        return {"TRSTAT": "NOT DONE", "TRREASND": "NOT EVALUABLE"}
    text = str(axis)
    return {"TRORRES": text, "TRSTRESC": text, "TRSTRESN": float(axis)}


def _sdtm_tr(
    record: PatientRecord,
    a: PatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    common: Mapping[str, object],
    origin: dt.date,
    table: _Table,
) -> None:
    sums = {a.baseline_date: a.baseline_sum_mm}
    sums.update({tp.date: tp.target_sum_mm for tp in a.timepoints})
    seq = 0
    by_date: dict[dt.date, list[Measurement]] = {}
    for m in record.measurements:
        if m.date in visits:
            by_date.setdefault(m.date, []).append(m)
    for day in sorted(by_date):
        number = visits[day]
        base = {
            **common,
            "DOMAIN": "TR",
            "TRLNKGRP": f"V{number}",
            "TRMETHOD": METHOD,
            "TREVAL": evaluator,
            "TREVALID": evaluator_id,
            "TRACPTFL": "Y",
            "VISITNUM": number,
            "VISIT": _visit_name(number),
            "TRDTC": day.isoformat(),
            "TRDY": study_day(day, origin),
        }
        for m in sorted(by_date[day], key=lambda m: m.lesion_id):
            group = _ROLE_TEXT[m.role]
            if m.role is Role.TARGET:
                tests = [("SAXIS", "Short Axis", m.short_axis_mm)] if m.nodal else []
                if not m.nodal or m.long_axis_mm is not None:
                    tests.insert(0, ("LDIAM", "Longest Diameter", m.long_axis_mm))
                for code, name, axis in tests:
                    seq += 1
                    result = _target_result(m, axis)
                    units = {"TRORRESU": "mm", "TRSTRESU": "mm"} if "TRSTRESN" in result else {}
                    table.add(
                        {
                            **base,
                            "TRSEQ": seq,
                            "TRGRPID": group,
                            "TRLNKID": m.lesion_id,
                            "TRTESTCD": code,
                            "TRTEST": name,
                            **result,
                            **units,
                        }
                    )
            else:
                seq += 1
                state = _STATE_TEXT.get(m.state, m.state.value.upper())
                done = (
                    {"TRSTAT": "NOT DONE", "TRREASND": "NOT EVALUABLE"}
                    if m.state is LesionState.NOT_EVALUABLE
                    else {"TRORRES": state, "TRSTRESC": state}
                )
                table.add(
                    {
                        **base,
                        "TRSEQ": seq,
                        "TRGRPID": group,
                        "TRLNKID": m.lesion_id,
                        "TRTESTCD": "TUMSTATE",
                        "TRTEST": "Tumor State",
                        **done,
                    }
                )
        total = sums.get(day)
        if total is not None:
            seq += 1
            table.add(
                {
                    **base,
                    "TRSEQ": seq,
                    "TRGRPID": "TARGET",
                    "TRTESTCD": "SUMDIAM",
                    "TRTEST": "Sum of Diameters",
                    "TRORRES": str(total),
                    "TRORRESU": "mm",
                    "TRSTRESC": str(total),
                    "TRSTRESN": float(total),
                    "TRSTRESU": "mm",
                }
            )


_RS_TESTS = (
    ("TRGRESP", "Target Response"),
    ("NTRGRESP", "Non-target Response"),
    ("NEWLPROG", "New Lesion Progression"),
    ("OVRLRESP", "Overall Response"),
)


def _sdtm_rs(
    a: PatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    common: Mapping[str, object],
    origin: dt.date,
    table: _Table,
) -> int:
    """RECIST 1.1 responses per visit; returns the patient's last RSSEQ."""
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
            table.add(
                {
                    **common,
                    "DOMAIN": "RS",
                    "RSSEQ": seq,
                    "RSLNKGRP": f"V{number}",
                    "RSTESTCD": code,
                    "RSTEST": name,
                    "RSCAT": RECIST,
                    "RSORRES": result,
                    "RSSTRESC": result,
                    "RSEVAL": evaluator,
                    "RSEVALID": evaluator_id,
                    "RSACPTFL": "Y",
                    "VISITNUM": number,
                    "VISIT": _visit_name(number),
                    "RSDTC": tp.date.isoformat(),
                    "RSDY": study_day(tp.date, origin),
                }
            )
    return seq


def _sdtm_rs_irecist(
    ia: IRecistPatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    common: Mapping[str, object],
    origin: dt.date,
    seq: int,
    table: _Table,
) -> None:
    """RSCAT "iRECIST" overall responses, after the RECIST 1.1 records (RSSEQ continues from
    ``seq``)."""
    for tp in ia.timepoints:
        number = visits[tp.date]
        result = _IRESPONSE_TEXT[tp.response]
        seq += 1
        table.add(
            {
                **common,
                "DOMAIN": "RS",
                "RSSEQ": seq,
                "RSLNKGRP": f"V{number}",
                "RSTESTCD": "OVRLRESP",
                "RSTEST": "Overall Response",
                "RSCAT": IRECIST,
                "RSORRES": result,
                "RSSTRESC": result,
                "RSEVAL": evaluator,
                "RSEVALID": evaluator_id,
                "RSACPTFL": "Y",
                "VISITNUM": number,
                "VISIT": _visit_name(number),
                "RSDTC": tp.date.isoformat(),
                "RSDY": study_day(tp.date, origin),
            }
        )


class _AddRecord(Protocol):
    def __call__(
        self, code: str, param: str, avalc: str, aval: int, day: dt.date | None, **more: object
    ) -> None: ...


def _adrs_records(
    table: _Table,
    adam: Mapping[str, object],
    origin: dt.date,
    criteria: str,
    evaluator: str,
    evaluator_id: str | None,
    adjudicated: str,
) -> tuple[str, _AddRecord]:
    """The evaluator's PARCAT2 wording and a function adding one ADRS record of ``criteria``
    (PARCAT3) with its analysis date, character date and study day."""
    who = "Investigator" if evaluator == "INVESTIGATOR" else "Independent Assessor"
    cats = {"PARCAT1": "Tumor Response", "PARCAT2": who, "PARCAT3": criteria}
    extra = {"RSEVAL": evaluator, "RSEVALID": evaluator_id, "ADJFL": adjudicated}

    def add(
        code: str, param: str, avalc: str, aval: int, day: dt.date | None, **more: object
    ) -> None:
        dates: dict[str, object] = {}
        if day is not None:
            dates = {"ADT": sas_date(day), "ADTC": day.isoformat(), "ADY": study_day(day, origin)}
        table.add(
            {**adam, "PARAMCD": code, "PARAM": param, **cats, "AVALC": avalc, "AVAL": aval,
             **dates, **extra, **more}
        )  # fmt: skip

    return who, add


def _adrs_irecist(
    ia: IRecistPatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    adjudicated: str,
    adam: Mapping[str, object],
    table: _Table,
) -> None:
    """iRECIST parameters (admiralonco ``vignettes/irecist.Rmd``, PARCAT3 "iRECIST"): IOVR per
    visit, IBOR, ICPD and IUPD. The codes carry an I so that one ADRS holds both criteria with
    one PARAM per PARAMCD (admiralonco's iRECIST-only ADRS uses OVR and BOR)."""
    origin = ia.recist.origin_date
    who, add = _adrs_records(table, adam, origin, IRECIST, evaluator, evaluator_id, adjudicated)
    before_icpd = True
    for tp in ia.timepoints:
        code = _IRESPONSE_TEXT[tp.response]
        number = visits[tp.date]
        add(
            "IOVR",
            f"iRECIST Overall Response by {who}",
            code,
            AVAL_IRESPONSE[code],
            tp.date,
            AVISIT=_visit_name(number),
            AVISITN=number,
            ANL01FL="Y" if tp.date >= origin else None,
            ANL02FL="Y" if before_icpd else None,
        )
        if tp.response is IResponse.ICPD:
            before_icpd = False
    best = _IRESPONSE_TEXT[ia.best_overall_response]
    first = next((tp.date for tp in ia.timepoints if tp.response is ia.best_overall_response), None)
    add("IBOR", f"iRECIST Best Overall Response by {who}", best, AVAL_IRESPONSE[best], first,
        ANL01FL="Y")  # fmt: skip
    confirmed = ia.progression_date is not None
    avalc, aval = _yes_no(confirmed)
    add("ICPD", f"iRECIST Confirmation of Disease Progression by {who}", avalc, aval,
        ia.progression_date, ANL01FL="Y")  # fmt: skip
    unconfirmed = ia.unconfirmed_iupd_date is not None
    avalc, aval = _yes_no(unconfirmed)
    add("IUPD", f"iRECIST Unconfirmed Disease Progression by {who}", avalc, aval,
        ia.unconfirmed_iupd_date, ANL01FL="Y")  # fmt: skip


def _yes_no(flag: bool) -> tuple[str, int]:
    return ("Y", 1) if flag else ("N", 0)


def _adrs(
    a: PatientAssessment,
    visits: Mapping[dt.date, int],
    evaluator: str,
    evaluator_id: str | None,
    adjudicated: str,
    adam: Mapping[str, object],
    table: _Table,
) -> None:
    origin = a.origin_date
    who, add = _adrs_records(table, adam, origin, RECIST, evaluator, evaluator_id, adjudicated)

    before_pd = True
    for tp in a.timepoints:
        code = _RESPONSE_TEXT[tp.overall_response]
        number = visits[tp.date]
        add(
            "OVR",
            f"Overall Response by {who}",
            code,
            AVAL_RESPONSE[code],
            tp.date,
            AVISIT=_visit_name(number),
            AVISITN=number,
            ANL01FL="Y" if tp.date >= origin else None,
            ANL02FL="Y" if before_pd else None,
        )
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
        add(
            pcode,
            f"{label} by {who}"[:200],
            text,
            AVAL_RESPONSE[text],
            first_date(best),
            ANL01FL="Y",
        )
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
        add(pcode, f"{label} by {who}", avalc, aval, day if flag else None, ANL01FL="Y")


def _adtr(
    a: PatientAssessment,
    visits: Mapping[dt.date, int],
    adam: Mapping[str, object],
    table: _Table,
) -> None:
    base = a.baseline_sum_mm
    if base is None:
        return
    origin = a.origin_date
    head = {
        **adam,
        "PARAMCD": "SDIAM",
        "PARAM": "Target Lesions Sum of Diameters",
        "PARCAT1": "Target Lesion(s)",
        "PARCAT3": RECIST,
        "AVALU": "mm",
        "BASE": float(base),
    }
    table.add(
        {
            **head,
            "AVAL": float(base),
            "CHG": 0.0,
            "PCHG": 0.0,
            "ABLFL": "Y",
            "ANL01FL": "Y",
            "ADT": sas_date(a.baseline_date),
            "ADTC": a.baseline_date.isoformat(),
            "ADY": study_day(a.baseline_date, origin),
            "AVISIT": "BASELINE",
            "AVISITN": 0,
        }
    )
    for tp in a.timepoints:
        total = tp.target_sum_mm
        if total is None:
            continue
        nadir = tp.nadir_mm
        number = visits[tp.date]
        table.add(
            {
                **head,
                "AVAL": float(total),
                "CHG": float(total - base),
                "PCHG": _float(tp.change_from_baseline_pct),
                "NADIR": _float(nadir),
                "CHGNAD": None if nadir is None else float(total - nadir),
                "PCHGNAD": _float(tp.change_from_nadir_pct),
                "ANL01FL": "Y" if tp.complete else None,
                "ADT": sas_date(tp.date),
                "ADTC": tp.date.isoformat(),
                "ADY": study_day(tp.date, origin),
                "AVISIT": _visit_name(number),
                "AVISITN": number,
            }
        )


def _tte(
    table: _Table,
    adam: Mapping[str, object],
    code: str,
    param: str,
    start: dt.date,
    days: int,
    event: bool,
    description: str,
    source: tuple[str, str],
    adjudicated: str,
    censor_text: str | None = None,
) -> None:
    """One ADTTE record; CNSDTDSC is ``censor_text`` (default EVNTDESC) when censored."""
    end = start + dt.timedelta(days=days)
    table.add(
        {
            **{k: adam[k] for k in ("STUDYID", "USUBJID", "SUBJID")},
            "PARAMCD": code,
            "PARAM": param,
            "AVAL": days,
            "AVALU": "DAYS",
            "STARTDT": sas_date(start),
            "STARTDTC": start.isoformat(),
            "ADT": sas_date(end),
            "ADTC": end.isoformat(),
            "CNSR": 0 if event else 1,
            "EVNTDESC": description,
            "CNSDTDSC": None if event else (censor_text or description),
            "SRCDOM": source[0],
            "SRCVAR": source[1],
            "ADJFL": adjudicated,
        }
    )


def _pfs_description(a: PatientAssessment) -> tuple[str, tuple[str, str]]:
    end = a.origin_date + dt.timedelta(days=a.pfs_days)
    if a.pfs_event:
        if a.progression_date == end:
            return "Disease Progression", ("ADRS", "ADT")
        return "Death", ("ADSL", "DTHDT")
    if a.pfs_days == 0:
        return "Treatment Start", ("ADSL", "TRTSDT")
    return "Last Tumor Assessment", ("ADRS", "ADT")


def _adtte(
    a: PatientAssessment, adjudicated: str, adam: Mapping[str, object], table: _Table
) -> None:
    origin = a.origin_date
    text, source = _pfs_description(a)
    _tte(
        table,
        adam,
        "PFS",
        "Progression Free Survival",
        origin,
        a.pfs_days,
        a.pfs_event,
        text,
        source,
        adjudicated,
    )
    if a.os_days is not None:
        event = bool(a.os_event)
        text, source = ("Death", ("ADSL", "DTHDT")) if event else ("Alive", ("ADSL", "LSTALVDT"))
        _tte(
            table,
            adam,
            "OS",
            "Overall Survival",
            origin,
            a.os_days,
            event,
            text,
            source,
            adjudicated,
            censor_text="Alive During Study",
        )
    if a.best_overall_response in (Response.CR, Response.PR) and a.first_response_date is not None:
        start = a.first_response_date
        offset = (start - origin).days
        days = max(a.pfs_days - offset, 0)
        text, source = _pfs_description(a)
        _tte(
            table,
            adam,
            "RSD",
            "Duration of Response",
            start,
            days,
            a.pfs_event,
            text,
            source,
            adjudicated,
        )
