"""The rescore JSON contract written as text (:func:`recistry.results.assessment_json`) against
the standard library's ``json.dumps`` of the same values, taken field by field from the result
as docs/rescore.md lists them: an escaping, number or key-order slip of the text writer fails."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recistry.recist import AssessmentOptions, PatientAssessment, PatientRecord, assess_patient
from recistry.results import assessment_json, assessment_to_dict
from recistry.tables import build_records, read_clinical, read_measurements
from tests.recist._build import row
from tests.recist._random_tables import _write_tables


def _number(value: Decimal | None, places: int | None = None) -> float | None:
    if value is None:
        return None
    return float(value if places is None else round(value, places))


def _contract(a: PatientAssessment) -> dict[str, Any]:
    """One patient of the document, straight from docs/rescore.md (not from recistry.results)."""

    def date(d: Any) -> str | None:
        return None if d is None else d.isoformat()

    def code(c: Any) -> str | None:
        return None if c is None else str(c.value)

    return {
        "patient_id": a.patient_id,
        "baseline_date": date(a.baseline_date),
        "origin_date": date(a.origin_date),
        "baseline_sum_mm": _number(a.baseline_sum_mm),
        "measurable": a.measurable,
        "warnings": list(a.warnings),
        "timepoints": [
            {
                "date": date(tp.date),
                "target_sum_mm": _number(tp.target_sum_mm),
                "change_from_baseline_pct": _number(tp.change_from_baseline_pct, 2),
                "change_from_nadir_pct": _number(tp.change_from_nadir_pct, 2),
                "nadir_mm": _number(tp.nadir_mm),
                "nadir_date": date(tp.nadir_date),
                "target_response": code(tp.target_response),
                "target_response_strict": code(tp.target_response_strict),
                "non_target_response": code(tp.non_target_response),
                "new_lesions": code(tp.new_lesions),
                "overall_response": code(tp.overall_response),
                "rescored_from": code(tp.rescored_from),
                "reasons": list(tp.reasons),
                "lesions": [
                    {
                        "lesion_id": v.lesion_id,
                        "role": code(v.role),
                        "state": code(v.state),
                        "counted_mm": _number(v.counted_mm),
                    }
                    for v in tp.lesions
                ],
            }
            for tp in a.timepoints
        ],
        "best_overall_response": code(a.best_overall_response),
        "best_overall_response_unconfirmed": code(a.best_overall_response_unconfirmed),
        "best_overall_response_confirmed": code(a.best_overall_response_confirmed),
        "best_response_reasons": list(a.best_response_reasons),
        "first_response_date": date(a.first_response_date),
        "progression_date": date(a.progression_date),
        "pfs_months": _number(a.pfs_months, 2),
        "pfs_event": a.pfs_event,
        "os_months": _number(a.os_months, 2),
        "os_event": a.os_event,
    }


def _check(a: PatientAssessment) -> None:
    expected = json.dumps(_contract(a), ensure_ascii=False)
    assert assessment_json(a) == expected
    assert assessment_to_dict(a) == _contract(a)


@pytest.mark.parametrize("seed", [3, 17, 2026])
@pytest.mark.parametrize("confirm", [False, True])
def test_text_writer_equals_json_dumps_of_the_contract(
    tmp_path: Path, seed: int, confirm: bool
) -> None:
    measurements, clinical = _write_tables(tmp_path, seed, patients=60, breaches=False)
    records = build_records(read_measurements(measurements), read_clinical(clinical))
    for record in records:
        _check(assess_patient(record, AssessmentOptions(confirm=confirm)))


def test_text_writer_escapes_ids_as_json_dumps_does() -> None:
    # quotes, a backslash, a tab, a line break, non-ASCII text and a control character
    odd = 'P "1" \\ é\t\n\x01 ☃'
    rows = [
        row(0, 'T"1', mm="23.0"),
        row(0, "T\\2", mm="16.15", nodal=True, site="lymph node"),
        row(56, 'T"1', mm="10.1"),
        row(56, "T\\2", mm="9.99", nodal=True, site="lymph node"),
        row(56, "NL é", role="new"),
    ]
    record = PatientRecord(odd, tuple(dataclasses.replace(m, patient_id=odd) for m in rows))
    a = assess_patient(record)
    assert a.patient_id == odd and any("NL é" in r for r in a.timepoints[0].reasons)
    _check(a)
