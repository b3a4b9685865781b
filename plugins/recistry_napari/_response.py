"""Score a reading with the RECIST engine and describe the result for the response panel. No Qt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from recistry.errors import InputError
from recistry.recist.engine import assess_patient
from recistry.recist.model import (
    AssessmentOptions,
    PatientAssessment,
    PatientRecord,
    TimepointAssessment,
)
from recistry_napari._reading import Reading, geometry_checks, to_measurements


@dataclass(frozen=True, slots=True)
class LiveResult:
    """What the panel shows: the engine's assessment, or why there is none yet, and the checks.

    ``checks`` are the engine's baseline warnings (target count, per-organ count, measurable
    size; RECIST 1.1 §3.1.1, §4.2) followed by the drawn-geometry checks of the time point shown.
    """

    assessment: PatientAssessment | None
    blocked_by: str | None
    checks: tuple[str, ...]


def assess_reading(
    reading: Reading, date: dt.date, options: AssessmentOptions | None = None
) -> LiveResult:
    """Score ``reading`` with :func:`recistry.recist.engine.assess_patient`.

    An unfinished reading (a baseline target not yet measured …) makes the engine raise
    :class:`~recistry.errors.InputError`; its message is returned as ``blocked_by``.
    """
    geometry = geometry_checks(reading.at(date))
    rows = to_measurements(reading)
    if not rows:
        return LiveResult(None, "no lesion assessed yet", geometry)
    try:
        assessment = assess_patient(PatientRecord(reading.patient_id, rows), options)
    except InputError as exc:
        return LiveResult(None, exc.message, geometry)
    return LiveResult(assessment, None, (*assessment.warnings, *geometry))


def _mm(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.1f} mm"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def timepoint_of(assessment: PatientAssessment, date: dt.date) -> TimepointAssessment | None:
    """The follow-up assessment of ``date``; ``None`` at baseline."""
    return next((tp for tp in assessment.timepoints if tp.date == date), None)


RESPONSE_WORDS: dict[str, str] = {
    "CR": "complete response (CR)",
    "PR": "partial response (PR)",
    "SD": "stable disease (SD)",
    "PD": "progressive disease (PD)",
    "NE": "not evaluable (NE)",
    "NON_CR_NON_PD": "non-CR/non-PD",
}
"""Plain words for the engine's response codes (RECIST 1.1 §4.3-4.4), code in brackets."""


def words(value: object) -> str:
    """Plain words for a response code (or an enum holding one); "—" for none."""
    if value is None:
        return "—"
    code = str(getattr(value, "value", value))
    return RESPONSE_WORDS.get(code, code.replace("_", " "))


def _plain(reason: str) -> str:
    """An engine reason for the panel: the one code that is not a word (NON_CR_NON_PD) written
    as radiologists write it; CR, PR, SD, PD and NE stay, as in RECIST itself."""
    return reason.replace("NON_CR_NON_PD", RESPONSE_WORDS["NON_CR_NON_PD"])


def describe(result: LiveResult, date: dt.date, pending: Sequence[str] = ()) -> list[str]:
    """Plain-text lines for the response panel at time point ``date``.

    Sums are in mm, changes in % of the baseline and nadir sums, as the engine computed them.
    ``pending`` lists the lesions not yet assessed at ``date`` (the engine does not see them).
    At baseline nothing is scored: the panel gives the baseline sum, the reference for every
    later response (RECIST 1.1 §4.2).
    """
    waiting = [f"Still to assess on {date}: {', '.join(pending)}"] if pending else []
    if result.assessment is None:
        return [f"Response not available yet: {result.blocked_by}", *waiting]
    a = result.assessment
    lines = [f"Baseline {a.baseline_date}: sum of diameters {_mm(a.baseline_sum_mm)}", *waiting]
    if date == a.baseline_date:
        lines.append("Baseline: nothing is scored here; responses start at the first follow-up.")
        return lines
    tp = timepoint_of(a, date)
    if tp is None:
        lines.append(f"{date}: not scored yet: no lesion assessed on this scan")
    else:
        lines += [
            f"{tp.date}: sum {_mm(tp.target_sum_mm)}, "
            f"{_pct(tp.change_from_baseline_pct)} from baseline, "
            f"{_pct(tp.change_from_nadir_pct)} from nadir {_mm(tp.nadir_mm)}",
            f"Targets: {words(tp.target_response)} · non-targets: "
            f"{words(tp.non_target_response)} · new lesions: {tp.new_lesions.value}",
            f"Time-point response: {words(tp.overall_response)}",
            *(f"  • {_plain(r)}" for r in tp.reasons),
        ]
    if a.timepoints:
        lines += [
            f"Best overall response so far: {words(a.best_overall_response)}",
            *(f"  • {_plain(r)}" for r in a.best_response_reasons),
        ]
    return lines
