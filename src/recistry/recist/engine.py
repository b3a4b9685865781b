"""RECIST 1.1 response assessment: pure functions from measurements to calls with reasons.

Sources, cited in every reason string and test:

* [EJC09] Eisenhauer et al., "New response evaluation criteria in solid tumours: revised RECIST
  guideline (version 1.1)", Eur J Cancer 2009;45:228-247 (sections §3-§4, Tables 1-3).
* [FAQ] The RECIST working group's clarifications (Schwartz et al., Eur J Cancer 2016;62:132-137
  and the Q&A at recist.eortc.org): PR carried until PD, nadir over complete time points,
  reappearance after CR, paired organs and lymph nodes as one organ.

Every size is a :class:`~decimal.Decimal` in mm and every threshold is decided by exact
cross-multiplication, so −30 %, +20 % and +5.0 mm are inclusive with no float error.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Protocol, TypeVar

from recistry.errors import InputError
from recistry.recist.model import (
    FRAGMENT_KEY,
    STATES_BY_ROLE,
    AssessmentOptions,
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
    TargetResponse,
    TimepointAssessment,
    fast_constructor,
    repeated_row,
)

__all__ = ["assess_patient", "assess_patients", "organ_of", "validate_patient"]

ZERO = Decimal(0)
TOO_SMALL_MM = Decimal(5)
"""Default for a target present but too small to measure [EJC09 §4.3.2]."""
NODE_NORMAL_MM = Decimal(10)
"""A lymph node with short axis below this is normal [EJC09 §3.1.1, §4.3.1]."""
NODE_MEASURABLE_MM = Decimal(15)
LESION_MEASURABLE_MM = Decimal(10)
PD_ABSOLUTE_MM = Decimal(5)
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
BASELINE_WINDOW_DAYS = 28
_DEFAULT_OPTIONS = AssessmentOptions()

# Lesion and time-point values are made per lesion and scan of every patient (millions in a
# registry): built without the per-field cost of a frozen dataclass's __init__.
_lesion_value = fast_constructor(LesionValue)
_timepoint = fast_constructor(TimepointAssessment)
_patient = fast_constructor(PatientAssessment)

SRC_TARGET = "RECIST 1.1 §4.3.1"
SRC_SPECIAL = "RECIST 1.1 §4.3.2"
SRC_NON_TARGET = "RECIST 1.1 §4.3.3"
SRC_NEW = "RECIST 1.1 §4.3.5"
SRC_MISSING = "RECIST 1.1 §4.4.2"
SRC_TABLE1 = "RECIST 1.1 §4.4.1 Table 1"
SRC_TABLE2 = "RECIST 1.1 §4.4.1 Table 2"
SRC_BOR = "RECIST 1.1 §4.4.3"
SRC_TABLE3 = "RECIST 1.1 §4.6.1 Table 3"
SRC_SELECTION = "RECIST 1.1 §4.2"
SRC_MEASURABLE = "RECIST 1.1 §3.1.1"
SRC_FAQ_PR = "RECIST committee FAQ 'Managing PR'"
SRC_FAQ_REAPPEAR = "RECIST committee FAQ 'Does a new lesion always result in PD?'"
SRC_FAQ_ORGAN = "RECIST committee FAQ 'Paired organs'"
SRC_FAQ_NODES = "RECIST committee FAQ 'New lymph node lesions'"
SRC_FAQ_ABNORMAL_NODE = "RECIST committee FAQ 'Abnormal lymph node'"
SRC_FDA_CENSOR = "FDA cancer trial endpoints guidance, Appendices 2-3"

_PAIRED_WORDS = frozenset({"left", "right", "l", "r", "bilateral", "lt", "rt"})
_NODE_WORDS = ("lymph", "node", "nodal")

_RANK = {
    Response.CR: 5,
    Response.PR: 4,
    Response.SD: 3,
    Response.NON_CR_NON_PD: 2,
    Response.PD: 1,
    Response.NE: 0,
}


@lru_cache(maxsize=1 << 12)
def organ_of(site: str, nodal: bool) -> str:
    """The organ a lesion counts against for the 2-per-organ rule.

    Paired organs (left and right lung, kidney, ovary …) are one organ and all lymph nodes are one
    organ [EJC09 §4.2; FAQ 'Paired organs'].
    """
    words = site.lower().replace("_", " ").replace("-", " ").split()
    if nodal or any(w.startswith(_NODE_WORDS) for w in words):
        return "lymph node"
    kept = [w for w in words if w not in _PAIRED_WORDS]
    return " ".join(kept) if kept else site.lower().strip()


@lru_cache(maxsize=1 << 16)
def _mm(value: Decimal) -> str:
    """Format mm with at least one decimal and no float noise: 43.8, 5.0, 16.15."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


@lru_cache(maxsize=256)
def _no(text: str) -> bool:
    """A table's 'false' (also no, 0, n; any case, blanks around)."""
    return text.strip().lower() in ("false", "no", "0", "n")


def _pct(value: Decimal) -> str:
    return f"{value:+.1f}%"


def _pct_change(value: Decimal, reference: Decimal) -> Decimal | None:
    if reference == 0:
        return None
    return (value - reference) * 100 / reference


def _meets_pd(total: Decimal, nadir: Decimal) -> bool:
    """≥ +20 % and ≥ +5 mm over the nadir, both inclusive, by exact arithmetic [EJC09 §4.3.1]."""
    return total - nadir >= PD_ABSOLUTE_MM and total * 100 >= nadir * 120


def _meets_pr(total: Decimal, baseline: Decimal) -> bool:
    """≥ 30 % below the baseline sum, inclusive [EJC09 §4.3.1]."""
    return total * 100 <= baseline * 70


@dataclass(frozen=True, slots=True)
class _Lesion:
    lesion_id: str
    role: Role
    site: str
    nodal: bool
    first_row: Measurement


@dataclass(slots=True)
class _History:
    """What earlier time points tell the current one (nadir, carried PR, last CR)."""

    nadir_mm: Decimal
    nadir_date: dt.date
    responded: bool = False
    last_evaluated: Response | None = None
    progressed: bool = False


def assess_patients(
    records: Iterable[PatientRecord], options: AssessmentOptions | None = None
) -> list[PatientAssessment]:
    """Assess every patient; see :func:`assess_patient`."""
    opts = options or AssessmentOptions()
    return [assess_patient(record, opts) for record in records]


def validate_patient(record: PatientRecord, options: AssessmentOptions | None = None) -> None:
    """Check one patient record as ``recistry rescore`` does, without keeping a result.

    This is the one validation of a reading (import, rescore and the napari plugin call it):
    it raises exactly the error :func:`assess_patient` raises for the record, and nothing for a
    record that can be scored (baseline selection breaches are warnings unless
    ``options.strict``).

    Raises
    ------
    InputError
        See :func:`assess_patient`.
    """
    assess_patient(record, options)


def assess_patient(
    record: PatientRecord, options: AssessmentOptions | None = None
) -> PatientAssessment:
    """Score one patient by RECIST 1.1: every follow-up time point, best response and dates.

    Parameters
    ----------
    record
        The patient's measurement rows (any order) and optional clinical record. The earliest
        scan date is the baseline.
    options
        Confirmation, SD minimum duration and strictness; RECIST 1.1 defaults when omitted.

    Returns
    -------
    PatientAssessment
        Immutable result whose every call carries reasons with the numbers and rule.

    Raises
    ------
    InputError
        The rows contradict themselves (a target first seen after baseline, a new lesion at
        baseline, a role that changes, duplicate rows that are not fragments, a measured target
        without its size, a scan after death) or, with ``options.strict``, the baseline breaks the
        target selection rules.
    """
    opts = options or AssessmentOptions()
    if not record.measurements:
        raise InputError(f"patient {record.patient_id} has no measurement rows")
    rows = sorted(record.measurements, key=lambda m: (m.date, m.source.row or 0))
    lesions = _catalogue(rows)
    by_date: dict[dt.date, dict[str, list[Measurement]]] = defaultdict(lambda: defaultdict(list))
    for m in rows:
        by_date[m.date][m.lesion_id].append(m)
    _check_rows(by_date, lesions)

    dates = sorted(by_date)
    baseline_date = dates[0]
    clinical = record.clinical
    origin = (clinical.treatment_start if clinical else None) or baseline_date
    targets = [les for les in lesions.values() if les.role is Role.TARGET]
    non_targets = [les for les in lesions.values() if les.role is Role.NON_TARGET]

    warnings = _baseline_warnings(targets, non_targets, by_date[baseline_date], opts)
    early_scans = [d.isoformat() for d in dates[1:] if d < origin]
    if early_scans:
        warnings.append(
            f"follow-up scan {', '.join(early_scans)} is before the treatment start {origin}: "
            "it is scored as a follow-up; the baseline should be the last scan before treatment "
            "(RECIST 1.1 §3.2)"
        )
    if clinical and clinical.treatment_start:
        lead = (clinical.treatment_start - baseline_date).days
        if lead > BASELINE_WINDOW_DAYS:
            warnings.append(
                f"baseline scan {baseline_date} is {lead} days before treatment start "
                f"{clinical.treatment_start}, more than 4 weeks (RECIST 1.1 §3.2)"
            )
    if not targets and not non_targets:
        warnings.append("no target or non-target lesion at baseline: response cannot be assessed")
    non_diagnostic = sorted(
        {
            m.date.isoformat()
            for m in rows
            if m.extra and m.role is Role.TARGET and _no(m.extra.get("diagnostic_ct", ""))
        }
    )
    if non_diagnostic:
        warnings.append(
            "targets measured on a CT not asserted to be of diagnostic quality (the low-dose CT "
            f"of a PET/CT?) on {', '.join(non_diagnostic)} (RECIST 1.1 §3.2.2)"
        )

    baseline_values = tuple(
        _target_value(les, by_date[baseline_date].get(les.lesion_id, [])) for les in targets
    ) + tuple(
        _non_target_value(les, by_date[baseline_date].get(les.lesion_id, [])) for les in non_targets
    )
    baseline_sum: Decimal | None = None
    if targets:
        baseline_sum = sum(
            (v.counted_mm for v in baseline_values if v.counted_mm is not None), ZERO
        )

    backdated = _backdated_new_lesions(lesions, by_date, opts)
    history = _History(nadir_mm=baseline_sum or ZERO, nadir_date=baseline_date)
    timepoints = [
        _assess_timepoint(
            date,
            by_date[date],
            targets,
            non_targets,
            baseline_sum,
            history,
            backdated.get(date),
            opts,
        )
        for date in dates[1:]
    ]

    # Scans on or after a new anticancer therapy are shown but count for neither best response
    # nor PFS [EJC09 §4.4.3; FDA guidance, Appendices 2-3].
    cutoff = clinical.new_therapy_date if clinical else None
    counted = [tp for tp in timepoints if cutoff is None or tp.date < cutoff]
    if len(counted) < len(timepoints):
        warnings.append(
            f"{len(timepoints) - len(counted)} scan(s) on or after the new anticancer therapy of "
            f"{cutoff} do not count for best response or PFS ({SRC_FDA_CENSOR})"
        )
    unconfirmed, unconfirmed_reasons = best_response_unconfirmed(counted, origin, opts)
    confirmed, confirmed_reasons = best_response_confirmed(counted, origin, opts, bool(targets))
    best = confirmed if opts.confirm else unconfirmed
    reasons = confirmed_reasons if opts.confirm else unconfirmed_reasons
    if any("adjudicat" in r for r in confirmed_reasons) and opts.confirm:
        warnings.append(next(r for r in confirmed_reasons if "adjudicat" in r))

    progression_date = next((tp.date for tp in counted if tp.overall_response is Response.PD), None)
    first_response_date = None
    if best in (Response.CR, Response.PR):
        first_response_date = next(
            (
                tp.date
                for tp in until_first_pd(counted)
                if tp.overall_response in (Response.CR, Response.PR)
            ),
            None,
        )
    if opts.pfs_censor_new_therapy:
        pfs_scans, pfs_progression, pfs_cutoff = counted, progression_date, cutoff
    else:
        pfs_scans, pfs_cutoff = timepoints, None
        pfs_progression = next(
            (tp.date for tp in timepoints if tp.overall_response is Response.PD), None
        )
    pfs_days, pfs_event, os_days, os_event = survival(
        record, pfs_scans, origin, pfs_progression, dates[-1], pfs_cutoff, opts
    )
    return _patient(
        patient_id=record.patient_id,
        options=opts,
        baseline_date=baseline_date,
        origin_date=origin,
        baseline_sum_mm=baseline_sum,
        baseline_lesions=baseline_values,
        measurable=bool(targets),
        warnings=tuple(warnings),
        timepoints=tuple(timepoints),
        best_overall_response=best,
        best_overall_response_unconfirmed=unconfirmed,
        best_overall_response_confirmed=confirmed,
        best_response_reasons=tuple(reasons),
        first_response_date=first_response_date,
        progression_date=progression_date,
        pfs_days=pfs_days,
        pfs_event=pfs_event,
        os_days=os_days,
        os_event=os_event,
        covariates=dict(clinical.covariates) if clinical else {},
    )


# --- input structure -------------------------------------------------------------------------


def _error(m: Measurement, message: str, column: str | None = None) -> InputError:
    return InputError(message, path=m.source.path, row=m.source.row, column=column)


def _catalogue(rows: Sequence[Measurement]) -> dict[str, _Lesion]:
    """Lesions by ID, their role fixed by the first row; checks RECIST's structural rules."""
    baseline_date = rows[0].date
    lesions: dict[str, _Lesion] = {}
    for m in rows:
        if m.state not in STATES_BY_ROLE[m.role]:
            allowed = ", ".join(sorted(s.value for s in STATES_BY_ROLE[m.role]))
            raise _error(
                m, f"state '{m.state}' is not valid for a {m.role} lesion (use {allowed})", "state"
            )
        known = lesions.get(m.lesion_id)
        if known is None:
            if m.role is not Role.NEW and m.date != baseline_date:
                raise _error(
                    m,
                    f"{m.role} lesion {m.lesion_id} is first seen on {m.date}, after the baseline "
                    f"{baseline_date}: targets and non-targets are chosen at baseline; record a "
                    f"lesion that appears later as role 'new' ({SRC_SELECTION})",
                    "role",
                )
            if m.role is Role.NEW and m.date == baseline_date:
                raise _error(
                    m,
                    f"new lesion {m.lesion_id} is on the baseline scan {baseline_date}: a lesion "
                    "present at baseline is a target or non-target",
                    "role",
                )
            lesions[m.lesion_id] = _Lesion(m.lesion_id, m.role, m.site, m.nodal, m)
        elif known.role is not m.role:
            raise _error(
                m,
                f"lesion {m.lesion_id} was recorded as {known.role} on {known.first_row.date} "
                f"but as {m.role} here: a lesion keeps its role",
                "role",
            )
        elif known.nodal != m.nodal:
            raise _error(
                m,
                f"lesion {m.lesion_id} changes from nodal={known.nodal} to nodal={m.nodal}",
                "nodal",
            )
    return lesions


def _check_rows(
    by_date: Mapping[dt.date, Mapping[str, list[Measurement]]], lesions: Mapping[str, _Lesion]
) -> None:
    for per_lesion in by_date.values():
        for lesion_id, group in per_lesion.items():
            role = lesions[lesion_id].role
            if len(group) > 1 or group[0].extra.get(FRAGMENT_KEY):
                _check_fragments(group, role)
            if role is not Role.TARGET:
                continue
            for m in group:
                if m.state is LesionState.MEASURED and m.counted_axis_mm is None:
                    column, axis = (
                        ("short_axis_mm", "short") if m.nodal else ("long_axis_mm", "long")
                    )
                    raise _error(
                        m,
                        f"target {lesion_id} is 'measured' without a size (a "
                        f"{'nodal' if m.nodal else 'non-nodal'} target counts its {axis} axis)",
                        column,
                    )


def _check_fragments(group: Sequence[Measurement], role: Role) -> None:
    """Several rows of one lesion on one date are the fragments of a split target, each named.

    RECIST 1.1 sums the diameters of a target lesion's fragments [EJC09 §4.3.2], so the rows must
    say they are fragments: a repeated row without its own ``fragment`` name is a copy, refused
    here (and so by ``recistry import``, which validates with this engine).
    """
    labelled = [m for m in group if m.extra.get(FRAGMENT_KEY)]
    for m in labelled:
        if role is not Role.TARGET or m.state is not LesionState.MEASURED:
            raise _error(
                m,
                f"lesion {m.lesion_id} on {m.date} is named as a fragment, but only a "
                "'measured' target can be split into fragments",
                FRAGMENT_KEY,
            )
    repeat = repeated_row([m.extra.get(FRAGMENT_KEY, "") for m in group])
    if repeat is not None:
        m, first = group[repeat[0]], group[repeat[1]]
        at = f" (first at row {first.source.row})" if first.source.row else ""
        raise _error(
            m,
            f"lesion {m.lesion_id} on {m.date} is given twice{at}; "
            "each fragment of a split target needs its own name in a 'fragment' column",
            FRAGMENT_KEY,
        )


def _baseline_warnings(
    targets: Sequence[_Lesion],
    non_targets: Sequence[_Lesion],
    baseline_rows: Mapping[str, list[Measurement]],
    options: AssessmentOptions,
) -> list[str]:
    """Target selection checks at baseline [EJC09 §3.1.1, §4.2; FAQ paired organs]."""
    problems: list[tuple[Measurement, str]] = []
    if len(targets) > MAX_TARGETS:
        problems.append(
            (
                targets[MAX_TARGETS].first_row,
                f"{len(targets)} target lesions at baseline; at most {MAX_TARGETS} "
                f"({SRC_SELECTION})",
            )
        )
    per_organ: dict[str, list[str]] = defaultdict(list)
    for les in targets:
        per_organ[organ_of(les.site, les.nodal)].append(les.lesion_id)
    for organ, ids in per_organ.items():
        if len(ids) > MAX_TARGETS_PER_ORGAN:
            first = next(les for les in targets if les.lesion_id == ids[MAX_TARGETS_PER_ORGAN])
            problems.append(
                (
                    first.first_row,
                    f"{len(ids)} targets in one organ ({organ}: {', '.join(ids)}); at most "
                    f"{MAX_TARGETS_PER_ORGAN} per organ, paired organs and all lymph nodes each "
                    f"count as one organ ({SRC_SELECTION}; {SRC_FAQ_ORGAN})",
                )
            )
    for les in non_targets:
        state = les.first_row.state
        if state in (LesionState.ABSENT, LesionState.PROGRESSION):
            raise _error(
                les.first_row,
                f"non-target {les.lesion_id} is '{state}' on the baseline scan: a non-target is "
                f"present (or not evaluable) at baseline ({SRC_NON_TARGET})",
                "state",
            )
    for les in targets:
        group = baseline_rows.get(les.lesion_id, [])
        if not group or any(m.state is not LesionState.MEASURED for m in group):
            raise _error(
                les.first_row,
                f"target {les.lesion_id} must be 'measured' at baseline: the baseline sum "
                f"is the reference for response ({SRC_TARGET})",
                "state",
            )
        size = sum((m.counted_axis_mm or ZERO for m in group), ZERO)
        thickness = max((m.slice_thickness_mm or ZERO for m in group), default=ZERO)
        if les.nodal:
            minimum = (
                max(NODE_MEASURABLE_MM, 2 * thickness)
                if options.slice_thickness_rule_nodes
                else NODE_MEASURABLE_MM
            )
            if size < minimum:
                why = (
                    f"2 × slice thickness {_mm(thickness)} mm, policy slice_thickness_rule_nodes"
                    if minimum > NODE_MEASURABLE_MM
                    else "a node of 10 to <15 mm is a non-target"
                )
                problems.append(
                    (
                        les.first_row,
                        f"nodal target {les.lesion_id} short axis {_mm(size)} mm is below "
                        f"{_mm(minimum)} mm: {why} ({SRC_MEASURABLE})",
                    )
                )
        else:
            minimum = (
                max(LESION_MEASURABLE_MM, 2 * thickness)
                if options.slice_thickness_rule
                else LESION_MEASURABLE_MM
            )
            if size < minimum:
                why = (
                    f"2 × slice thickness {_mm(thickness)} mm"
                    if minimum > LESION_MEASURABLE_MM
                    else "10 mm"
                )
                problems.append(
                    (
                        les.first_row,
                        f"target {les.lesion_id} long axis {_mm(size)} mm is below the "
                        f"measurable minimum {_mm(minimum)} mm ({why}; {SRC_MEASURABLE})",
                    )
                )
    if options.strict and problems:
        m, message = problems[0]
        raise _error(m, f"{message} (--strict)")
    return [message for _, message in problems]


# --- values at one time point ------------------------------------------------------------------


def _target_value(lesion: _Lesion, group: Sequence[Measurement]) -> LesionValue:
    """The mm a target contributes: fragments summed, TSTM 5 mm, absent/merged 0 [EJC09 §4.3.2]."""
    counted: Decimal | None
    if not group:
        return _lesion_value(lesion.lesion_id, lesion.role, lesion.site, lesion.nodal, None, None)
    state = group[0].state
    if state is LesionState.MEASURED:
        # a node counts its short axis, any other target its long axis; fragments are summed
        if lesion.nodal:
            counted = (
                group[0].short_axis_mm
                if len(group) == 1
                else sum((m.short_axis_mm or ZERO for m in group), ZERO)
            )
        else:
            counted = (
                group[0].long_axis_mm
                if len(group) == 1
                else sum((m.long_axis_mm or ZERO for m in group), ZERO)
            )
    elif state is LesionState.NOT_EVALUABLE:
        counted = None
    elif state is LesionState.TOO_SMALL:
        counted = TOO_SMALL_MM
    else:  # absent or merged into another lesion that carries the size
        counted = ZERO
    return _lesion_value(
        lesion.lesion_id, lesion.role, lesion.site, lesion.nodal, state, counted, tuple(group)
    )


def _non_target_value(lesion: _Lesion, group: Sequence[Measurement]) -> LesionValue:
    state = group[0].state if group else None
    return _lesion_value(
        lesion.lesion_id, lesion.role, lesion.site, lesion.nodal, state, None, tuple(group)
    )


def _pet_only(m: Measurement) -> bool:
    return m.extra.get("pet_only", "").strip().lower() in ("true", "yes", "1", "y")


def _new_lesion_state(
    m: Measurement, options: AssessmentOptions | None = None
) -> LesionState | None:
    """What a new-lesion row means once the lymph-node size and PET rules are applied.

    A new node with short axis < 10 mm is normal and not a new lesion; one of 10 to < 15 mm is
    re-evaluated at the next assessment, so it counts as equivocal [FAQ 'New lymph node lesions'].
    A lesion seen on PET only (``pet_only``) is equivocal unless the policy
    ``pet_only_new_lesion`` counts it [EJC09 §4.3.5].
    """
    if (
        m.state is LesionState.PRESENT
        and _pet_only(m)
        and not (options or _DEFAULT_OPTIONS).pet_only_new_lesion
    ):
        return LesionState.EQUIVOCAL
    if m.nodal and m.short_axis_mm is not None:
        if m.short_axis_mm < NODE_NORMAL_MM:
            return None
        if m.short_axis_mm < NODE_MEASURABLE_MM and m.state is LesionState.PRESENT:
            return LesionState.EQUIVOCAL
    return m.state


def _backdated_new_lesions(
    lesions: Mapping[str, _Lesion],
    by_date: Mapping[dt.date, Mapping[str, list[Measurement]]],
    options: AssessmentOptions,
) -> dict[dt.date, list[tuple[str, dt.date]]]:
    """Equivocal new lesions later seen 'present': the first equivocal date is PD [EJC09 §4.3.5]."""
    out: dict[dt.date, list[tuple[str, dt.date]]] = defaultdict(list)
    for les in lesions.values():
        if les.role is not Role.NEW:
            continue
        seen = sorted(
            (date, state)
            for date, rows in by_date.items()
            if les.lesion_id in rows
            and (state := _new_lesion_state(rows[les.lesion_id][0], options)) is not None
        )
        if not seen:
            continue
        confirmed = next((d for d, s in seen if s is LesionState.PRESENT), None)
        first_date, first_state = seen[0]
        if confirmed is not None and first_state is LesionState.EQUIVOCAL:
            out[first_date].append((les.lesion_id, confirmed))
    return out


def _assess_timepoint(
    date: dt.date,
    rows: Mapping[str, list[Measurement]],
    targets: Sequence[_Lesion],
    non_targets: Sequence[_Lesion],
    baseline_sum: Decimal | None,
    history: _History,
    backdated: list[tuple[str, dt.date]] | None,
    options: AssessmentOptions,
) -> TimepointAssessment:
    reasons: list[str] = []
    after_cr = history.last_evaluated is Response.CR
    target_values = tuple([_target_value(les, rows.get(les.lesion_id, ())) for les in targets])
    nt_values = tuple([_non_target_value(les, rows.get(les.lesion_id, ())) for les in non_targets])
    new_rows = [group[0] for group in rows.values() if group[0].role is Role.NEW]

    total: Decimal | None = None
    complete = False
    strict: TargetResponse | None = None
    carried: TargetResponse | None = None
    nadir_mm, nadir_date = history.nadir_mm, history.nadir_date
    change_baseline = change_nadir = None
    if targets and baseline_sum is not None:
        strict, total, complete = _target_call(
            target_values, baseline_sum, nadir_mm, nadir_date, after_cr, options.node_cr, reasons
        )
        carried = strict
        if strict is TargetResponse.SD and history.responded and not history.progressed:
            carried = TargetResponse.PR
            reasons.append(
                "PR carried: this scan alone is SD, but a PR (or CR) was reached earlier and "
                f"PD is not met ({SRC_FAQ_PR})"
            )
        if complete and total is not None:
            change_baseline = _pct_change(total, baseline_sum)
            change_nadir = _pct_change(total, nadir_mm)

    nt_call = (
        _non_target_call(nt_values, after_cr, options.node_reappearance, reasons)
        if non_targets
        else None
    )
    new = _new_lesions_call(new_rows, options, reasons)

    overall = _overall(carried, nt_call, new, bool(targets), bool(non_targets), reasons)
    overall_strict = (
        overall
        if strict is carried
        else _overall(strict, nt_call, new, bool(targets), bool(non_targets), [])
    )
    rescored_from: Response | None = None
    if backdated:
        overall_strict = Response.PD
    if backdated and overall is not Response.PD:
        rescored_from = overall
        overall = Response.PD
        for lesion_id, confirmed in backdated:
            reasons.append(
                f"re-scored PD (first call {rescored_from}): equivocal new lesion {lesion_id} "
                f"was confirmed present on {confirmed}, so progression dates from this scan "
                f"({SRC_NEW})"
            )

    if overall is not Response.NE:
        history.last_evaluated = overall
    if overall is Response.PD:
        history.progressed = True
    if carried in (TargetResponse.PR, TargetResponse.CR) and not history.progressed:
        history.responded = True
    if complete and total is not None and total < history.nadir_mm:
        history.nadir_mm, history.nadir_date = total, date

    return _timepoint(
        date=date,
        target_sum_mm=total if complete else None,
        complete=complete,
        nadir_mm=nadir_mm if targets else None,
        nadir_date=nadir_date if targets else None,
        change_from_baseline_pct=change_baseline,
        change_from_nadir_pct=change_nadir,
        target_response=carried,
        target_response_strict=strict,
        non_target_response=nt_call,
        new_lesions=new,
        overall_response=overall,
        overall_response_strict=overall_strict,
        reasons=tuple(reasons),
        lesions=target_values + nt_values + tuple(_new_values(new_rows)),
        rescored_from=rescored_from,
    )


def _new_lesions_call(
    new_rows: Sequence[Measurement], options: AssessmentOptions, reasons: list[str]
) -> NewLesions:
    """New lesions at one scan: present is PD, equivocal is not (yet) [EJC09 §4.3.5; FAQ 'New
    lymph node lesions']."""
    if not new_rows:
        return NewLesions.NONE
    new_states = {m.lesion_id: _new_lesion_state(m, options) for m in new_rows}
    present = sorted(i for i, st in new_states.items() if st is LesionState.PRESENT)
    equivocal = sorted(i for i, st in new_states.items() if st is LesionState.EQUIVOCAL)
    for m in new_rows:
        size = m.short_axis_mm
        if new_states[m.lesion_id] is m.state:
            continue
        if _pet_only(m):
            reasons.append(
                f"new lesion {m.lesion_id} is seen on PET only: equivocal until CT shows it "
                f"(policy pet_only_new_lesion = false; {SRC_NEW})"
            )
            continue
        if size is None:
            continue
        if new_states[m.lesion_id] is None:
            reasons.append(
                f"new node {m.lesion_id} short axis {_mm(size)} mm is below 10 mm: a normal node, "
                f"not a new lesion ({SRC_FAQ_NODES})"
            )
        else:
            reasons.append(
                f"new node {m.lesion_id} short axis {_mm(size)} mm is 10 to <15 mm: re-evaluate "
                f"at the next assessment, counted as equivocal ({SRC_FAQ_NODES})"
            )
    if present:
        reasons.append(f"PD: new lesion {', '.join(present)} ({SRC_NEW})")
        return NewLesions.PRESENT
    if equivocal:
        reasons.append(
            f"new lesion {', '.join(equivocal)} is equivocal: not PD unless a later scan "
            f"confirms it ({SRC_NEW})"
        )
        return NewLesions.EQUIVOCAL
    return NewLesions.NONE


def _new_values(new_rows: Sequence[Measurement]) -> Iterable[LesionValue]:
    for m in new_rows:
        yield _lesion_value(m.lesion_id, m.role, m.site, m.nodal, m.state, None, (m,))


def _abnormal(value: LesionValue) -> bool:
    """A target that can carry progression: a non-nodal size > 0, or a node >= 10 mm."""
    if value.counted_mm is None:
        return False
    return value.counted_mm >= NODE_NORMAL_MM if value.nodal else value.counted_mm > 0


def _reappeared(value: LesionValue) -> bool:
    """A target back after CR: any non-nodal size > 0, or a node ≥ 10 mm [FAQ reappearance]."""
    if value.counted_mm is None:
        return False
    return value.counted_mm >= NODE_NORMAL_MM if value.nodal else value.counted_mm > 0


def _over_nadir(total: Decimal, nadir: Decimal, nadir_date: dt.date) -> str:
    """'+20.0% and +7.3 mm over the nadir 36.5 mm of 2024-01-15' (no % when the nadir is 0)."""
    pct = _pct_change(total, nadir)
    pct_text = "" if pct is None else f"{_pct(pct)} and "
    return f"{pct_text}+{_mm(total - nadir)} mm over the nadir {_mm(nadir)} mm of {nadir_date}"


def _target_call(
    values: Sequence[LesionValue],
    baseline_sum: Decimal,
    nadir: Decimal,
    nadir_date: dt.date,
    after_cr: bool,
    node_cr: NodeComplete,
    reasons: list[str],
) -> tuple[TargetResponse, Decimal, bool]:
    """Target response of one scan alone, PD checked before PR [EJC09 §4.3.1, §4.4.2]."""
    missing = [v.lesion_id for v in values if v.counted_mm is None]
    total = sum((v.counted_mm for v in values if v.counted_mm is not None), ZERO)
    # Nodes below 10 mm are normal: the growth of normal nodes alone is not progression, so the
    # sum rule needs one abnormal target [EJC09 §4.3.1; FAQ 'Abnormal lymph node'].
    sum_rule = node_cr is NodeComplete.SUM_RULE or any(_abnormal(v) for v in values)
    progressed = sum_rule and _meets_pd(total, nadir)
    reappeared = [v.lesion_id for v in values if _reappeared(v)] if after_cr else []

    if missing:
        if progressed:
            reasons.append(
                f"PD: the evaluated targets alone sum {_mm(total)} mm, "
                f"{_over_nadir(total, nadir, nadir_date)}, "
                f"whatever {', '.join(missing)} measures ({SRC_MISSING})"
            )
            return TargetResponse.PD, total, False
        if reappeared:
            reasons.append(_reappearance_reason(reappeared))
            return TargetResponse.PD, total, False
        reasons.append(
            f"NE: target {', '.join(missing)} not evaluated; the evaluated targets sum "
            f"{_mm(total)} mm, which cannot prove PD ({SRC_MISSING})"
        )
        return TargetResponse.NE, total, False

    if progressed:
        reasons.append(
            f"PD: sum {_mm(total)} mm is {_over_nadir(total, nadir, nadir_date)} ({SRC_TARGET})"
        )
        return TargetResponse.PD, total, True
    if reappeared:
        reasons.append(_reappearance_reason(reappeared))
        return TargetResponse.PD, total, True
    pct_base = _pct_change(total, baseline_sum)
    base_text = (
        "" if pct_base is None else f" ({_pct(pct_base)} from baseline {_mm(baseline_sum)} mm)"
    )
    gone = all(
        (v.counted_mm or ZERO) < NODE_NORMAL_MM if v.nodal else v.counted_mm == 0 for v in values
    )
    if gone:
        node_note = (
            " and every target node is below 10 mm short axis"
            if any(v.nodal for v in values)
            else ""
        )
        if not sum_rule and _meets_pd(total, nadir):
            node_note += (
                f" (normal nodes: the sum is +{_mm(total - nadir)} mm over the nadir {_mm(nadir)} "
                f"mm of {nadir_date}, not progression; policy node_cr = "
                f"{node_cr}; {SRC_FAQ_ABNORMAL_NODE})"
            )
        reasons.append(
            f"CR: every non-nodal target has disappeared{node_note}; sum {_mm(total)} mm"
            f"{base_text} ({SRC_TARGET})"
        )
        return TargetResponse.CR, total, True
    if _meets_pr(total, baseline_sum):
        reasons.append(
            f"PR: sum {_mm(total)} mm{base_text}, at least 30% below baseline ({SRC_TARGET})"
        )
        return TargetResponse.PR, total, True
    reasons.append(
        f"SD: sum {_mm(total)} mm{base_text} is neither 30% below baseline nor "
        f"+20% and +5 mm over the nadir {_mm(nadir)} mm of {nadir_date} ({SRC_TARGET})"
    )
    return TargetResponse.SD, total, True


def _reappearance_reason(lesion_ids: Sequence[str]) -> str:
    return (
        f"PD: {', '.join(lesion_ids)} reappeared after an overall CR at the previous "
        f"assessment ({SRC_FAQ_REAPPEAR})"
    )


def _non_target_call(
    values: Sequence[LesionValue],
    after_cr: bool,
    node_reappearance: NodeReappearance,
    reasons: list[str],
) -> NonTargetResponse:
    """Non-target response: the reader's judgement, never inferred from sizes [EJC09 §4.3.3-4].

    After an overall CR a non-nodal non-target present again is PD (reappearance); a nodal one
    only when it has progressed unequivocally, unless the policy ``node_reappearance`` is
    ``present`` [recist-rules.md §1.8 'Reappearance'; FAQ 'Abnormal lymph node'].
    """
    progressed = [v.lesion_id for v in values if v.state is LesionState.PROGRESSION]
    if progressed:
        reasons.append(
            f"PD: unequivocal progression of non-target {', '.join(progressed)} ({SRC_NON_TARGET})"
        )
        return NonTargetResponse.PD
    present = [v.lesion_id for v in values if v.state is LesionState.PRESENT]
    reappeared = [
        v.lesion_id
        for v in values
        if v.state is LesionState.PRESENT
        and (not v.nodal or node_reappearance is NodeReappearance.PRESENT)
    ]
    if after_cr and reappeared:
        reasons.append(_reappearance_reason(reappeared))
        return NonTargetResponse.PD
    missing = [v.lesion_id for v in values if v.state in (None, LesionState.NOT_EVALUABLE)]
    if missing:
        reasons.append(f"non-target NE: {', '.join(missing)} not evaluated ({SRC_NON_TARGET})")
        return NonTargetResponse.NE
    if present:
        reasons.append(f"non-target non-CR/non-PD: {', '.join(present)} persist ({SRC_NON_TARGET})")
        return NonTargetResponse.NON_CR_NON_PD
    reasons.append(
        "non-target CR: every non-target lesion has disappeared (nodes below 10 mm) "
        f"({SRC_NON_TARGET})"
    )
    return NonTargetResponse.CR


def _overall(
    target: TargetResponse | None,
    non_target: NonTargetResponse | None,
    new: NewLesions,
    has_targets: bool,
    has_non_targets: bool,
    reasons: list[str],
) -> Response:
    """Overall time-point response by RECIST Tables 1 and 2, PD rows first [EJC09 §4.4.1]."""
    if (
        target is TargetResponse.PD
        or non_target is NonTargetResponse.PD
        or new is NewLesions.PRESENT
    ):
        response = Response.PD
    elif has_targets:
        if target is TargetResponse.NE:
            response = Response.NE
        elif target is TargetResponse.CR:
            response = Response.CR if non_target in (None, NonTargetResponse.CR) else Response.PR
        elif target is TargetResponse.PR:
            response = Response.PR
        else:
            response = Response.SD
    elif has_non_targets:
        response = {
            NonTargetResponse.CR: Response.CR,
            NonTargetResponse.NON_CR_NON_PD: Response.NON_CR_NON_PD,
        }.get(non_target or NonTargetResponse.NE, Response.NE)
    else:
        response = Response.NE
    table = SRC_TABLE1 if has_targets else SRC_TABLE2
    parts = [
        f"target {target}" if target else None,
        f"non-target {non_target}" if non_target else None,
        f"new lesions {new}",
    ]
    reasons.append(f"overall {response}: {', '.join(p for p in parts if p)} ({table})")
    return response


# --- best overall response and dates ----------------------------------------------------------


class Scan(Protocol):
    """What best overall response reads of a follow-up: a :class:`TimepointAssessment`, or an
    iRECIST time point (:mod:`recistry.recist.irecist`)."""

    @property
    def date(self) -> dt.date: ...
    @property
    def overall_response(self) -> Response: ...
    @property
    def overall_response_strict(self) -> Response | None: ...


ScanT = TypeVar("ScanT", bound=Scan)


def until_first_pd(timepoints: Sequence[ScanT]) -> list[ScanT]:
    """Time points that count for best response: nothing after the first PD [EJC09 §4.4.3]."""
    out = []
    for tp in timepoints:
        out.append(tp)
        if tp.overall_response is Response.PD:
            break
    return out


def _sd_eligible(tp: Scan, origin: dt.date, options: AssessmentOptions) -> bool:
    return (tp.date - origin).days >= options.sd_min_days


def best_response_unconfirmed(
    timepoints: Sequence[Scan],
    origin: dt.date,
    options: AssessmentOptions,
) -> tuple[Response, list[str]]:
    """Best response recorded from treatment start to the first PD, no confirmation [§4.4.3]."""
    counted = until_first_pd(timepoints)
    best = Response.NE
    best_tp: Scan | None = None
    early: list[Scan] = []
    for tp in counted:
        response = tp.overall_response
        if response in (Response.SD, Response.NON_CR_NON_PD) and not _sd_eligible(
            tp, origin, options
        ):
            early.append(tp)
            continue
        if _RANK[response] > _RANK[best]:
            best, best_tp = response, tp
    reasons: list[str] = []
    if best_tp is not None:
        reasons.append(
            f"best overall response {best}: {best_tp.overall_response} on {best_tp.date}, "
            f"day {(best_tp.date - origin).days} ({SRC_BOR})"
        )
    else:
        reasons.append(f"best overall response NE: no evaluable time point counts ({SRC_BOR})")
    for tp in early:
        reasons.append(
            f"{tp.overall_response} on {tp.date} (day {(tp.date - origin).days}) is before the "
            f"SD minimum of {options.sd_min_days} days and does not count ({SRC_BOR})"
        )
    return best, reasons


def _confirmation(
    counted: Sequence[Scan],
    index: int,
    accept: frozenset[Response],
    options: AssessmentOptions,
) -> Scan | None:
    """A later scan ≥ confirm_days after ``counted[index]`` in ``accept``, with only accepted or
    at most ``max_ne_between`` NE scans in between [EJC09 §4.6.1; admiralonco defaults]."""
    first = counted[index]
    nes = 0
    for tp in counted[index + 1 :]:
        response = _strict(tp)
        if (tp.date - first.date).days >= options.confirm_days and response in accept:
            return tp
        if response is Response.NE:
            nes += 1
            if nes > options.max_ne_between:
                return None
        elif response not in accept:
            return None
    return None


def _strict(tp: Scan) -> Response:
    return tp.overall_response_strict or tp.overall_response


def best_response_confirmed(
    timepoints: Sequence[Scan],
    origin: dt.date,
    options: AssessmentOptions,
    has_targets: bool,
) -> tuple[Response, list[str]]:
    """Best overall response with confirmation of CR and PR by RECIST Table 3 [§4.6.1]."""
    counted = until_first_pd(timepoints)
    cr_or_pr = frozenset({Response.CR, Response.PR})
    reasons: list[str] = []
    confirmed_pr: tuple[Scan, Scan] | None = None
    for i, tp in enumerate(counted):
        if _strict(tp) is Response.CR:
            by = _confirmation(counted, i, frozenset({Response.CR}), options)
            if by is not None:
                reasons.append(
                    f"best overall response CR: CR on {tp.date} confirmed by CR on {by.date}, "
                    f"{(by.date - tp.date).days} days later ({SRC_TABLE3})"
                )
                return Response.CR, reasons
            by = _confirmation(counted, i, cr_or_pr, options)
            if by is not None and confirmed_pr is None:
                confirmed_pr = (tp, by)
                reasons.append(
                    f"CR on {tp.date} followed by PR on {by.date}: needs adjudication; scored as "
                    f"a confirmed PR (RECIST 1.1 Table 3 note)"
                )
        elif _strict(tp) is Response.PR and confirmed_pr is None:
            by = _confirmation(counted, i, cr_or_pr, options)
            if by is not None:
                confirmed_pr = (tp, by)
    if confirmed_pr is not None:
        first, by = confirmed_pr
        reasons.append(
            f"best overall response PR: {_strict(first)} on {first.date} confirmed by "
            f"{_strict(by)} on {by.date}, {(by.date - first.date).days} days later "
            f"({SRC_TABLE3})"
        )
        return Response.PR, reasons
    stable = Response.SD if has_targets else Response.NON_CR_NON_PD
    for tp in counted:
        if tp.overall_response in (
            Response.CR,
            Response.PR,
            Response.SD,
            Response.NON_CR_NON_PD,
        ) and _sd_eligible(tp, origin, options):
            unconfirmed = (
                " (unconfirmed response counts as stable)"
                if tp.overall_response in cr_or_pr
                else ""
            )
            reasons.append(
                f"best overall response {stable}: {tp.overall_response} on {tp.date}, day "
                f"{(tp.date - origin).days}, meets the SD minimum of {options.sd_min_days} days"
                f"{unconfirmed} ({SRC_TABLE3})"
            )
            return stable, reasons
    if any(tp.overall_response is Response.PD for tp in counted):
        reasons.append(
            f"best overall response PD: no confirmed response or SD before PD ({SRC_TABLE3})"
        )
        return Response.PD, reasons
    reasons.append(
        f"best overall response NE: no confirmed response and no SD meeting the "
        f"minimum ({SRC_TABLE3})"
    )
    return Response.NE, reasons


def survival(
    record: PatientRecord,
    timepoints: Sequence[Scan],
    origin: dt.date,
    progression_date: dt.date | None,
    last_scan: dt.date,
    new_therapy: dt.date | None,
    options: AssessmentOptions | None = None,
) -> tuple[int, bool, int | None, bool | None]:
    """PFS (progression or death, censored at the last evaluable scan) and OS in days.

    ``timepoints`` are the scans that count for PFS (those before a new therapy); a death on or
    after a new therapy with no PD before it is censored like the FDA guidance says. With the
    policy ``pfs_max_missed_scans`` N, an event more than (N + 1) scan intervals after the last
    evaluable scan before it is censored at that scan (FDA guidance, Appendix 3, Table A).
    """
    opts = options or _DEFAULT_OPTIONS
    clinical = record.clinical
    death = clinical.death_date if clinical else None
    if clinical and death is not None:
        if death < last_scan:
            raise InputError(
                f"death_date {death} of patient {record.patient_id} is before their last scan "
                f"{last_scan}",
                path=clinical.source.path,
                row=clinical.source.row,
                column="death_date",
            )
        if death < origin:
            raise InputError(
                f"death_date {death} is before the treatment start {origin}",
                path=clinical.source.path,
                row=clinical.source.row,
                column="death_date",
            )
    pfs_death = death if new_therapy is None or death is None or death < new_therapy else None
    if progression_date is not None and progression_date < origin:
        raise InputError(
            f"patient {record.patient_id} progresses on {progression_date}, before the treatment "
            f"start {origin}: check treatment_start, or take the baseline as the last scan before "
            "treatment",
            path=clinical.source.path if clinical else None,
            row=clinical.source.row if clinical else None,
            column="treatment_start",
        )
    events = [d for d in (progression_date, pfs_death) if d is not None]
    evaluable = [tp.date for tp in timepoints if tp.overall_response is not Response.NE]
    if events:
        event = min(events)
        pfs_days, pfs_event = (event - origin).days, True
        if opts.pfs_max_missed_scans is not None:
            last = max([origin, *(d for d in evaluable if d < event)])
            allowed = (opts.pfs_max_missed_scans + 1) * opts.pfs_scan_interval_days
            if (event - last).days > allowed:
                pfs_days, pfs_event = (last - origin).days, False
    else:
        censor = max([origin, *evaluable])
        pfs_days, pfs_event = (censor - origin).days, False
    if clinical is None:
        return pfs_days, pfs_event, None, None
    if death is not None:
        return pfs_days, pfs_event, (death - origin).days, True
    followup = max(d for d in (clinical.last_followup, last_scan) if d is not None)
    return pfs_days, pfs_event, (followup - origin).days, False
