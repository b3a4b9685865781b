"""The results contract of ``recistry rescore``, stated once: the JSON document, the two CSV
files and the ``--out`` folder.

* :func:`build_document` is the ``--format json`` document: ``criteria``, ``options``,
  ``patients`` (:func:`assessment_to_dict` each) and ``cohort``; :func:`dumps` writes it
  (indented up to :data:`PRETTY_JSON_MAX_PATIENTS` patients, compact beyond).
* :func:`patient_rows` / :data:`PATIENT_COLUMNS` are patients.csv (``--format csv``);
  :func:`timepoint_rows` / :data:`TIMEPOINT_COLUMNS` are timepoints.csv.
* :func:`write_outputs` writes patients.csv, timepoints.csv and results.json into a folder, each
  file complete or not at all (written beside and renamed).

Sizes are mm as JSON numbers, percentages and months rounded to 2 decimals, dates ISO, codes as
their strings; a CSV has a header only when it has rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from recistry.csv_guard import guard_rows
from recistry.errors import InputError
from recistry.recist.model import AssessmentOptions, PatientAssessment, TimepointAssessment

__all__ = [
    "CRITERIA",
    "PATIENT_COLUMNS",
    "PRETTY_JSON_MAX_PATIENTS",
    "TIMEPOINT_COLUMNS",
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


def _mm(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _months(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def options_to_dict(options: AssessmentOptions) -> dict[str, Any]:
    return asdict(options)


def timepoint_to_dict(tp: TimepointAssessment) -> dict[str, Any]:
    return {
        "date": _date(tp.date),
        "target_sum_mm": _mm(tp.target_sum_mm),
        "change_from_baseline_pct": _pct(tp.change_from_baseline_pct),
        "change_from_nadir_pct": _pct(tp.change_from_nadir_pct),
        "nadir_mm": _mm(tp.nadir_mm),
        "nadir_date": _date(tp.nadir_date),
        "target_response": tp.target_response,
        "target_response_strict": tp.target_response_strict,
        "non_target_response": tp.non_target_response,
        "new_lesions": tp.new_lesions,
        "overall_response": tp.overall_response,
        "rescored_from": tp.rescored_from,
        "reasons": list(tp.reasons),
        "lesions": [
            {
                "lesion_id": v.lesion_id,
                "role": v.role,
                "state": v.state,
                "counted_mm": _mm(v.counted_mm),
            }
            for v in tp.lesions
        ],
    }


def assessment_to_dict(a: PatientAssessment) -> dict[str, Any]:
    """One patient of the ``rescore --format json`` document (codes as strings, dates ISO)."""
    return {
        "patient_id": a.patient_id,
        "baseline_date": _date(a.baseline_date),
        "origin_date": _date(a.origin_date),
        "baseline_sum_mm": _mm(a.baseline_sum_mm),
        "measurable": a.measurable,
        "warnings": list(a.warnings),
        "timepoints": [timepoint_to_dict(tp) for tp in a.timepoints],
        "best_overall_response": a.best_overall_response,
        "best_overall_response_unconfirmed": a.best_overall_response_unconfirmed,
        "best_overall_response_confirmed": a.best_overall_response_confirmed,
        "best_response_reasons": list(a.best_response_reasons),
        "first_response_date": _date(a.first_response_date),
        "progression_date": _date(a.progression_date),
        "pfs_months": _months(a.pfs_months),
        "pfs_event": a.pfs_event,
        "os_months": _months(a.os_months),
        "os_event": a.os_event,
    }


def patient_rows(assessments: Sequence[PatientAssessment]) -> list[dict[str, Any]]:
    """One flat row per patient (patients.csv)."""
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
    ]


def timepoint_rows(assessments: Sequence[PatientAssessment]) -> list[dict[str, Any]]:
    """One flat row per follow-up time point (timepoints.csv)."""
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
        for tp in a.timepoints
    ]


def build_document(
    assessments: Sequence[PatientAssessment],
    options: AssessmentOptions,
    by: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``--format json`` document: criteria, options, patients and cohort (with the ORR/DCR
    subgroups of ``by``, see :func:`recistry.cohort.summary.cohort_summary`)."""
    from recistry.cohort.summary import cohort_summary

    return {
        "criteria": CRITERIA,
        "options": options_to_dict(options),
        "patients": [assessment_to_dict(a) for a in assessments],
        "cohort": cohort_summary(assessments, by=tuple(by)),
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
) -> None:
    """patients.csv, timepoints.csv and results.json in ``out`` (created if needed), from rows
    in the order of :data:`PATIENT_COLUMNS` and :data:`TIMEPOINT_COLUMNS`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(out)) from exc
    _write_atomic(out / "patients.csv", csv_text(PATIENT_COLUMNS, patient_rows))
    _write_atomic(out / "timepoints.csv", csv_text(TIMEPOINT_COLUMNS, timepoint_rows))
    _write_atomic(out / "results.json", results_json)


def write_outputs(
    out: str | Path, assessments: Sequence[PatientAssessment], document: dict[str, Any]
) -> None:
    """patients.csv, timepoints.csv and results.json (``document``, as :func:`dumps` writes it)
    in the folder ``out``, created if needed.

    Raises
    ------
    InputError
        The folder cannot be created.
    """
    write_files(
        Path(out),
        [list(row.values()) for row in patient_rows(assessments)],
        [list(row.values()) for row in timepoint_rows(assessments)],
        dumps(document),
    )
