"""The results contract of ``recistry rescore``, stated once: the JSON document, the two CSV
files and the ``--out`` folder.

* :func:`build_document` is the ``--format json`` document: ``criteria``, ``options``,
  ``patients`` (:func:`assessment_to_dict` each) and ``cohort``; :func:`dumps` writes it
  (indented up to :data:`PRETTY_JSON_MAX_PATIENTS` patients, compact beyond).
* :func:`patient_rows` / :data:`PATIENT_COLUMNS` are patients.csv (``--format csv``);
  :func:`timepoint_rows` / :data:`TIMEPOINT_COLUMNS` are timepoints.csv.
* :func:`write_outputs` writes patients.csv, timepoints.csv and results.json into a folder, each
  file complete or not at all (written beside and renamed).

The same functions take iRECIST results
(:class:`~recistry.recist.irecist.IRecistPatientAssessment`): ``criteria`` is then ``iRECIST``,
the codes are iRECIST's and the CSV columns are :data:`IRECIST_PATIENT_COLUMNS` and
:data:`IRECIST_TIMEPOINT_COLUMNS` (docs/irecist.md).

Sizes are mm as JSON numbers, percentages and months rounded to 2 decimals, dates ISO, codes as
their strings; a CSV has a header only when it has rows.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from recistry.csv_guard import guard_rows
from recistry.errors import InputError
from recistry.recist.irecist import IRecistPatientAssessment, IRecistTimepoint, IResponse
from recistry.recist.model import (
    MONTH_DAYS,
    AssessmentOptions,
    NonTargetResponse,
    PatientAssessment,
    Response,
    TargetResponse,
    TimepointAssessment,
)

Assessment = PatientAssessment | IRecistPatientAssessment
"""A patient's result by RECIST 1.1 or by iRECIST."""

__all__ = [
    "CRITERIA",
    "IRECIST_CRITERIA",
    "IRECIST_PATIENT_COLUMNS",
    "IRECIST_TIMEPOINT_COLUMNS",
    "PATIENT_COLUMNS",
    "PRETTY_JSON_MAX_PATIENTS",
    "TIMEPOINT_COLUMNS",
    "Assessment",
    "CohortOutcome",
    "assessment_json",
    "assessment_to_dict",
    "build_document",
    "csv_text",
    "dumps",
    "options_to_dict",
    "patient_rows",
    "timepoint_rows",
    "write_outputs",
]

CRITERIA = "RECIST 1.1"
IRECIST_CRITERIA = "iRECIST"

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


IRECIST_PATIENT_COLUMNS = (
    "patient_id",
    "baseline_date",
    "origin_date",
    "baseline_sum_mm",
    "measurable",
    "best_overall_response",
    "recist_best_overall_response",
    "progression_date",
    "unconfirmed_iupd_date",
    "pfs_days",
    "pfs_months",
    "pfs_event",
    "os_days",
    "os_months",
    "os_event",
    "warnings",
)
"""Columns of patients.csv by iRECIST (``best_overall_response`` is the iBOR)."""

IRECIST_TIMEPOINT_COLUMNS = (
    "patient_id",
    "date",
    "days_from_origin",
    "target_sum_mm",
    "change_from_nadir_pct",
    "new_lesion_target_sum_mm",
    "new_lesion_targets",
    "new_lesion_non_targets",
    "recist_overall_response",
    "response",
    "iupd_date",
    "reasons",
)
"""Columns of timepoints.csv by iRECIST (``response`` is the iRECIST code)."""


def _mm(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _months(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def options_to_dict(options: AssessmentOptions) -> dict[str, Any]:
    # The iRECIST thresholds are Decimal millimetres; JSON has numbers.
    return {k: _mm(v) if isinstance(v, Decimal) else v for k, v in asdict(options).items()}


_text = json.encoder.encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False)


def _json(value: object) -> str:
    """A JSON scalar as ``json.dumps`` writes it: text, code, number, boolean or null."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _text(value)
    return repr(value)


# The codes and flags of the contract as JSON, looked up instead of encoded each time.
_CODE_JSON: Mapping[object, str] = {
    None: "null",
    **{code: f'"{code}"' for code in (*Response, *TargetResponse, *NonTargetResponse)},
}
_FLAG_JSON: Mapping[object, str] = {None: "null", True: "true", False: "false"}


def _pct_json(value: Decimal | None) -> str:
    return "null" if value is None else repr(float(round(value, 2)))


def _date_json(value: dt.date | None) -> str:
    return "null" if value is None else f'"{value}"'


def _texts(values: Iterable[str]) -> str:
    return f"[{', '.join(map(_text, values))}]"


@lru_cache(maxsize=1 << 16)
def _mm_json(value: Decimal | None) -> str:
    return "null" if value is None else repr(float(value))


@lru_cache(maxsize=1 << 16)
def _lesion_json(lesion_id: str, role: str, state: str | None, counted_mm: Decimal | None) -> str:
    # Cached: most lesions of a cohort read alike ("NT1", non_target, present, null).
    return (
        f'{{"lesion_id": {_text(lesion_id)}, "role": "{role}", "state": {_json(state)}, '
        f'"counted_mm": {_mm_json(counted_mm)}}}'
    )


def _timepoint_json(tp: TimepointAssessment) -> str:
    lesions = ", ".join(
        [_lesion_json(v.lesion_id, v.role, v.state, v.counted_mm) for v in tp.lesions]
    )
    return (
        f'{{"date": "{tp.date}", "target_sum_mm": {_mm_json(tp.target_sum_mm)}, '
        f'"change_from_baseline_pct": {_pct_json(tp.change_from_baseline_pct)}, '
        f'"change_from_nadir_pct": {_pct_json(tp.change_from_nadir_pct)}, '
        f'"nadir_mm": {_mm_json(tp.nadir_mm)}, "nadir_date": {_date_json(tp.nadir_date)}, '
        f'"target_response": {_CODE_JSON[tp.target_response]}, '
        f'"target_response_strict": {_CODE_JSON[tp.target_response_strict]}, '
        f'"non_target_response": {_CODE_JSON[tp.non_target_response]}, '
        f'"new_lesions": "{tp.new_lesions}", "overall_response": "{tp.overall_response}", '
        f'"rescored_from": {_CODE_JSON[tp.rescored_from]}, "reasons": {_texts(tp.reasons)}, '
        f'"lesions": [{lesions}]}}'
    )


def assessment_json(a: Assessment) -> str:
    """One patient of the ``rescore --format json`` document, as compact JSON text.

    This is the contract of a patient, stated once: :func:`assessment_to_dict` reads it back,
    and :func:`stream_outputs` writes it as it is (``json.dumps`` of the same values, byte for
    byte, without building the dictionaries of a large cohort first).
    """
    if isinstance(a, IRecistPatientAssessment):
        return json.dumps(irecist_assessment_to_dict(a), ensure_ascii=False)
    timepoints = ", ".join(map(_timepoint_json, a.timepoints))
    return (
        f'{{"patient_id": {_text(a.patient_id)}, "baseline_date": "{a.baseline_date}", '
        f'"origin_date": "{a.origin_date}", '
        f'"baseline_sum_mm": {_mm_json(a.baseline_sum_mm)}, '
        f'"measurable": {_FLAG_JSON[a.measurable]}, "warnings": {_texts(a.warnings)}, '
        f'"timepoints": [{timepoints}], '
        f'"best_overall_response": "{a.best_overall_response}", '
        f'"best_overall_response_unconfirmed": "{a.best_overall_response_unconfirmed}", '
        f'"best_overall_response_confirmed": "{a.best_overall_response_confirmed}", '
        f'"best_response_reasons": {_texts(a.best_response_reasons)}, '
        f'"first_response_date": {_date_json(a.first_response_date)}, '
        f'"progression_date": {_date_json(a.progression_date)}, '
        f'"pfs_months": {_pct_json(a.pfs_months)}, "pfs_event": {_FLAG_JSON[a.pfs_event]}, '
        f'"os_months": {_pct_json(a.os_months)}, "os_event": {_FLAG_JSON[a.os_event]}}}'
    )


def _irecist_reasons(tp: IRecistTimepoint) -> list[str]:
    """iRECIST's sentences, then RECIST 1.1's for the same scan (the sums and rules behind the
    categories iRECIST starts from), each once."""
    out = list(tp.reasons)
    out.extend(
        r for r in tp.recist.reasons if r not in out and not r.startswith(("overall", "PD: new"))
    )
    return out


def irecist_timepoint_to_dict(tp: IRecistTimepoint) -> dict[str, Any]:
    r = tp.recist
    return {
        "date": _date(tp.date),
        "response": tp.response,
        "recist_overall_response": r.overall_response,
        "target_sum_mm": _mm(r.target_sum_mm),
        "change_from_baseline_pct": _pct(r.change_from_baseline_pct),
        "change_from_nadir_pct": _pct(r.change_from_nadir_pct),
        "nadir_mm": _mm(r.nadir_mm),
        "target_response": r.target_response,
        "non_target_response": r.non_target_response,
        "new_lesion_targets": list(tp.new_lesion_targets),
        "new_lesion_non_targets": list(tp.new_lesion_non_targets),
        "new_lesion_target_sum_mm": _mm(tp.new_lesion_target_sum_mm),
        "iupd_date": _date(tp.iupd_date),
        "reasons": _irecist_reasons(tp),
    }


def irecist_assessment_to_dict(a: IRecistPatientAssessment) -> dict[str, Any]:
    """One patient of the ``rescore --criteria irecist --format json`` document."""
    r = a.recist
    return {
        "patient_id": a.patient_id,
        "baseline_date": _date(r.baseline_date),
        "origin_date": _date(r.origin_date),
        "baseline_sum_mm": _mm(r.baseline_sum_mm),
        "measurable": r.measurable,
        "warnings": list(r.warnings),
        "timepoints": [irecist_timepoint_to_dict(tp) for tp in a.timepoints],
        "best_overall_response": a.best_overall_response,
        "best_response_reasons": list(a.best_response_reasons),
        "recist_best_overall_response": r.best_overall_response,
        "progression_date": _date(a.progression_date),
        "unconfirmed_iupd_date": _date(a.unconfirmed_iupd_date),
        "pfs_months": _months(Decimal(a.pfs_days) / MONTH_DAYS),
        "pfs_event": a.pfs_event,
        "os_months": _months(r.os_months),
        "os_event": r.os_event,
    }


def assessment_to_dict(a: Assessment) -> dict[str, Any]:
    """One patient of the ``rescore --format json`` document (codes as strings, dates ISO):
    :func:`assessment_json` read back."""
    if isinstance(a, IRecistPatientAssessment):
        return irecist_assessment_to_dict(a)
    result: dict[str, Any] = json.loads(assessment_json(a))
    return result


def patient_rows(assessments: Sequence[Assessment]) -> list[dict[str, Any]]:
    """One flat row per patient (patients.csv)."""
    if assessments and isinstance(assessments[0], IRecistPatientAssessment):
        return [
            _irecist_patient_row(a) for a in assessments if isinstance(a, IRecistPatientAssessment)
        ]
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
        if isinstance(a, PatientAssessment)
    ]


def _irecist_patient_row(a: IRecistPatientAssessment) -> dict[str, Any]:
    r = a.recist
    return {
        "patient_id": a.patient_id,
        "baseline_date": _date(r.baseline_date),
        "origin_date": _date(r.origin_date),
        "baseline_sum_mm": _mm(r.baseline_sum_mm),
        "measurable": r.measurable,
        "best_overall_response": a.best_overall_response.value,
        "recist_best_overall_response": r.best_overall_response.value,
        "progression_date": _date(a.progression_date),
        "unconfirmed_iupd_date": _date(a.unconfirmed_iupd_date),
        "pfs_days": a.pfs_days,
        "pfs_months": _months(Decimal(a.pfs_days) / MONTH_DAYS),
        "pfs_event": a.pfs_event,
        "os_days": r.os_days,
        "os_months": _months(r.os_months),
        "os_event": r.os_event,
        "warnings": " | ".join(r.warnings),
    }


def _irecist_timepoint_rows(a: IRecistPatientAssessment) -> list[dict[str, Any]]:
    return [
        {
            "patient_id": a.patient_id,
            "date": _date(tp.date),
            "days_from_origin": (tp.date - a.recist.origin_date).days,
            "target_sum_mm": _mm(tp.recist.target_sum_mm),
            "change_from_nadir_pct": _pct(tp.recist.change_from_nadir_pct),
            "new_lesion_target_sum_mm": _mm(tp.new_lesion_target_sum_mm),
            "new_lesion_targets": " ".join(tp.new_lesion_targets),
            "new_lesion_non_targets": " ".join(tp.new_lesion_non_targets),
            "recist_overall_response": tp.recist.overall_response.value,
            "response": tp.response.value,
            "iupd_date": _date(tp.iupd_date),
            "reasons": " | ".join(_irecist_reasons(tp)),
        }
        for tp in a.timepoints
    ]


def timepoint_rows(assessments: Sequence[Assessment]) -> list[dict[str, Any]]:
    """One flat row per follow-up time point (timepoints.csv)."""
    if assessments and isinstance(assessments[0], IRecistPatientAssessment):
        return [
            row
            for a in assessments
            if isinstance(a, IRecistPatientAssessment)
            for row in _irecist_timepoint_rows(a)
        ]
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
        if isinstance(a, PatientAssessment)
        for tp in a.timepoints
    ]


@dataclass(frozen=True, slots=True)
class CohortOutcome:
    """What the cohort roll-up reads of a patient (:class:`~recistry.cohort.summary.Outcome`),
    kept instead of the whole assessment when results are streamed.

    For iRECIST the codes are RECIST's: iCR and iPR are responders, iSD disease control, iCPD
    progression, an unconfirmed iUPD NE; PFS ends at confirmed progression (iCPD) or death.
    """

    patient_id: str
    options: AssessmentOptions
    measurable: bool
    best_overall_response: Response
    best_overall_response_unconfirmed: Response
    best_overall_response_confirmed: Response
    first_response_date: dt.date | None
    origin_date: dt.date
    pfs_days: int
    pfs_event: bool
    os_days: int | None
    os_event: bool | None
    covariates: Mapping[str, str]

    @classmethod
    def of(cls, a: Assessment) -> CohortOutcome:
        if isinstance(a, PatientAssessment):
            return cls(
                a.patient_id,
                a.options,
                a.measurable,
                a.best_overall_response,
                a.best_overall_response_unconfirmed,
                a.best_overall_response_confirmed,
                a.first_response_date,
                a.origin_date,
                a.pfs_days,
                a.pfs_event,
                a.os_days,
                a.os_event,
                a.covariates,
            )
        best = _RECIST_CODE[a.best_overall_response]
        responses = (IResponse.ICR, IResponse.IPR)
        first = next(
            (tp.date for tp in a.timepoints if tp.response in responses and best in _RESPONDED),
            None,
        )
        r = a.recist
        return cls(
            a.patient_id,
            r.options,
            r.measurable,
            best,
            best,
            best,
            first,
            r.origin_date,
            a.pfs_days,
            a.pfs_event,
            r.os_days,
            r.os_event,
            r.covariates,
        )


_RESPONDED = frozenset({Response.CR, Response.PR})
_RECIST_CODE = {
    IResponse.ICR: Response.CR,
    IResponse.IPR: Response.PR,
    IResponse.ISD: Response.SD,
    IResponse.NON_ICR_NON_IUPD: Response.NON_CR_NON_PD,
    IResponse.IUPD: Response.NE,
    IResponse.ICPD: Response.PD,
    IResponse.NE: Response.NE,
}


def build_document(
    assessments: Sequence[Assessment],
    options: AssessmentOptions,
    by: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``--format json`` document: criteria, options, patients and cohort (with the ORR/DCR
    subgroups of ``by``, see :func:`recistry.cohort.summary.cohort_summary`)."""
    from recistry.cohort.summary import cohort_summary

    irecist = any(isinstance(a, IRecistPatientAssessment) for a in assessments)
    return {
        "criteria": IRECIST_CRITERIA if irecist else CRITERIA,
        "options": options_to_dict(options),
        "patients": [assessment_to_dict(a) for a in assessments],
        "cohort": cohort_summary([CohortOutcome.of(a) for a in assessments], by=tuple(by)),
    }


PRETTY_JSON_MAX_PATIENTS = 1000
"""Documents of up to this many patients are indented; larger ones are compact."""


def dumps(document: dict[str, Any]) -> str:
    """The JSON text: indented for a readable document, compact for a large cohort.

    Python's JSON encoder runs in C only without indentation, so documents of more than
    ``PRETTY_JSON_MAX_PATIENTS`` patients are written compactly (several times faster).
    """
    indent = 2 if len(document["patients"]) <= PRETTY_JSON_MAX_PATIENTS else None
    return json.dumps(document, indent=indent, ensure_ascii=False) + "\n"


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A CSV with a header (none without rows), as ``csv.writer`` writes Python values.

    Text cells a spreadsheet would run as formulas are neutralised (:mod:`recistry.csv_guard`).
    """
    buffer = io.StringIO()
    if rows:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(guard_rows(rows))
    return buffer.getvalue()


def _write_atomic(path: Path, content: str | Callable[[TextIO], None]) -> None:
    """Write text (or what ``content`` writes) to a temporary file beside ``path`` and rename,
    so no reader sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # as open() would make it: mkstemp's files are 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            if isinstance(content, str):
                handle.write(content)
            else:
                content(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(
    out: Path,
    patient_rows: Sequence[Sequence[object]],
    timepoint_rows: Sequence[Sequence[object]],
    results_json: str | Callable[[TextIO], None],
    *,
    patient_columns: Sequence[str] = PATIENT_COLUMNS,
    timepoint_columns: Sequence[str] = TIMEPOINT_COLUMNS,
) -> None:
    """patients.csv, timepoints.csv and results.json in ``out`` (created if needed), from rows
    in the order of ``patient_columns`` and ``timepoint_columns``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(out)) from exc
    _write_atomic(out / "patients.csv", csv_text(patient_columns, patient_rows))
    _write_atomic(out / "timepoints.csv", csv_text(timepoint_columns, timepoint_rows))
    _write_atomic(out / "results.json", results_json)


def write_outputs(
    out: str | Path, assessments: Sequence[Assessment], document: dict[str, Any]
) -> None:
    """patients.csv, timepoints.csv and results.json (``document``, as :func:`dumps` writes it)
    in the folder ``out``, created if needed.

    Raises
    ------
    InputError
        The folder cannot be created.
    """
    irecist = document["criteria"] == IRECIST_CRITERIA
    write_files(
        Path(out),
        [list(row.values()) for row in patient_rows(assessments)],
        [list(row.values()) for row in timepoint_rows(assessments)],
        dumps(document),
        patient_columns=IRECIST_PATIENT_COLUMNS if irecist else PATIENT_COLUMNS,
        timepoint_columns=IRECIST_TIMEPOINT_COLUMNS if irecist else TIMEPOINT_COLUMNS,
    )


def stream_outputs(
    chunks: Iterable[Sequence[Assessment]],
    options: AssessmentOptions,
    by: Sequence[str] = (),
    *,
    irecist: bool = False,
    json_to: TextIO | None = None,
    csv_to: TextIO | None = None,
    out: str | Path | None = None,
    warnings: list[tuple[str, str]] | None = None,
    max_warnings: int = 50,
) -> dict[str, Any]:
    """Write the results of a large cohort as its patients are scored, keeping only what the
    cohort figures need (:class:`CohortOutcome`) in memory.

    With ``warnings``, the first ``max_warnings`` (patient, warning) pairs are appended to it.

    The output is what :func:`dumps` (compact: more than ``PRETTY_JSON_MAX_PATIENTS`` patients),
    :func:`csv_text` and :func:`write_outputs` write for the same patients, byte for byte.
    ``json_to`` and ``csv_to`` receive the ``--format json`` document and patients.csv; with
    ``out`` the three files are written beside and renamed when every patient is done, and
    removed if scoring fails (nothing half-written).

    Returns
    -------
    dict
        The document's ``cohort`` object.
    """
    from recistry.cohort.summary import Subgroup, cohort_summary

    for spec in by:  # a malformed spec is refused before any work
        Subgroup.parse(spec)
    patient_columns = IRECIST_PATIENT_COLUMNS if irecist else PATIENT_COLUMNS
    timepoint_columns = IRECIST_TIMEPOINT_COLUMNS if irecist else TIMEPOINT_COLUMNS
    folder = None if out is None else Path(out)
    files: dict[str, tuple[Path, TextIO, Path]] = {}
    created = folder is not None and not folder.exists()
    try:
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"cannot create the output folder: {exc.strerror}", path=str(folder)
                ) from exc
            for name in ("results.json", "patients.csv", "timepoints.csv"):
                files[name] = (*_open_beside(folder / name), folder / name)
        json_outs = [h for h in (json_to, _handle(files, "results.json")) if h is not None]
        patient_outs = [h for h in (csv_to, _handle(files, "patients.csv")) if h is not None]
        timepoint_out = _handle(files, "timepoints.csv")
        head = json.dumps(
            {
                "criteria": IRECIST_CRITERIA if irecist else CRITERIA,
                "options": options_to_dict(options),
            },
            ensure_ascii=False,
        )
        for handle in json_outs:
            handle.write(f'{head[:-1]}, "patients": [')
        patient_writers = [csv.writer(h, lineterminator="\n") for h in patient_outs]
        timepoint_writer = (
            None if timepoint_out is None else csv.writer(timepoint_out, lineterminator="\n")
        )
        outcomes: list[CohortOutcome] = []
        timepoints_written = False
        for chunk in chunks:
            if json_outs:
                text = ", ".join(map(assessment_json, chunk))
                for handle in json_outs:
                    handle.write((", " if outcomes else "") + text)
            if patient_writers:
                # guarded as csv_text writes them (recistry.csv_guard)
                guarded = list(guard_rows([list(r.values()) for r in patient_rows(chunk)]))
                for writer in patient_writers:
                    if not outcomes and guarded:
                        writer.writerow(patient_columns)
                    writer.writerows(guarded)
            if timepoint_writer is not None:
                rows = [list(r.values()) for r in timepoint_rows(chunk)]
                if rows and not timepoints_written:
                    timepoint_writer.writerow(timepoint_columns)
                    timepoints_written = True
                timepoint_writer.writerows(guard_rows(rows))
            outcomes.extend(CohortOutcome.of(a) for a in chunk)
            if warnings is not None and len(warnings) < max_warnings:
                for a in chunk:
                    r = a if isinstance(a, PatientAssessment) else a.recist
                    warnings.extend((a.patient_id, w) for w in r.warnings)
                del warnings[max_warnings:]
        cohort = cohort_summary(outcomes, by=tuple(by))
        tail = f'], "cohort": {json.dumps(cohort, ensure_ascii=False)}}}\n'
        for handle in json_outs:
            handle.write(tail)
        for _, handle, _ in files.values():
            handle.close()
        for tmp, _, final in files.values():
            os.replace(tmp, final)
        return cohort
    except BaseException:
        for tmp, handle, _ in files.values():
            handle.close()
            tmp.unlink(missing_ok=True)
        if created and folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _handle(files: Mapping[str, tuple[Path, TextIO, Path]], name: str) -> TextIO | None:
    return files[name][1] if name in files else None


def _open_beside(path: Path) -> tuple[Path, TextIO]:
    """A temporary file beside ``path`` with the permissions ``open()`` would give ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp), os.fdopen(fd, "w", encoding="utf-8", newline="")
