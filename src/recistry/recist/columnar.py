"""A columnar fast path of the RECIST 1.1 engine for large tables.

:func:`score_columns` scores patients straight from the numeric columns of a measurement table,
without one object per row, and writes each patient's ``rescore --format json`` object as text.
It covers the common case and nothing else: at least one target; every target and non-target
evaluated at every follow-up; targets measured, too small, absent or merged (one row each, no
fragments); non-targets present, absent or in unequivocal progression; new lesions present (not
nodes with a short axis, whose size rules can change the call); sizes written as plain decimals;
no warning at all (baseline selection, scans before treatment, a non-diagnostic CT, a new
therapy). A patient outside that case, or whose rows break a structural rule, gets ``None``:
the caller scores them with :func:`recistry.recist.engine.assess_patient`, which also raises
the error message a bad patient deserves.

The rules, thresholds and reason sentences are those of :mod:`recistry.recist.engine` (the
reference), and best overall response, PFS and OS are computed by the reference's own
functions; tests check that both give byte-identical JSON and CSV. Sizes are integers at one
decimal scale, so the inclusive thresholds are decided exactly, as in the reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from recistry.recist.engine import (
    BASELINE_WINDOW_DAYS,
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    SRC_FAQ_PR,
    SRC_FAQ_REAPPEAR,
    SRC_NEW,
    SRC_NON_TARGET,
    SRC_TABLE1,
    SRC_TARGET,
    best_response_confirmed,
    best_response_unconfirmed,
    organ_of,
    survival,
    until_first_pd,
)
from recistry.recist.model import (
    MONTH_DAYS,
    AssessmentOptions,
    ClinicalRecord,
    LesionState,
    PatientRecord,
    Response,
    Role,
)

__all__ = [
    "ROLES",
    "STATES",
    "MeasurementColumns",
    "PatientOutcome",
    "ScoredPatient",
    "rows_of_patients",
    "score_columns",
]

ROLES: tuple[Role, ...] = (Role.TARGET, Role.NON_TARGET, Role.NEW)
"""Role codes of :attr:`MeasurementColumns.role`."""
STATES: tuple[LesionState, ...] = tuple(LesionState)
"""State codes of :attr:`MeasurementColumns.state`."""

_TARGET, _NON_TARGET, _NEW = range(3)
_MEASURED = STATES.index(LesionState.MEASURED)
_TOO_SMALL = STATES.index(LesionState.TOO_SMALL)
_ABSENT = STATES.index(LesionState.ABSENT)
_MERGED = STATES.index(LesionState.MERGED)
_PRESENT = STATES.index(LesionState.PRESENT)
_PROGRESSION = STATES.index(LesionState.PROGRESSION)

_CR_OR_PR = (Response.CR, Response.PR)
_UNSAFE_JSON = frozenset(chr(c) for c in range(32)) | {'"', "\\"}


@dataclass(frozen=True, slots=True)
class MeasurementColumns:
    """A validated measurement table as numeric columns, one entry per row.

    Codes index the lists beside them (``patient_ids[patient[i]]``); patients are numbered in
    order of first appearance. Sizes are integers in units of ``10**-scale`` mm; ``exact`` is
    false for a row with a size that is not a plain decimal at that scale.
    """

    path: str | None
    patient: np.ndarray
    patient_ids: Sequence[str]
    date: np.ndarray
    """Proleptic Gregorian ordinal of the scan date."""
    lesion: np.ndarray
    lesion_ids: Sequence[str]
    role: np.ndarray
    """Index into :data:`ROLES`."""
    state: np.ndarray
    """Index into :data:`STATES`."""
    nodal: np.ndarray
    site: np.ndarray
    sites: Sequence[str]
    counted: np.ndarray
    """The axis RECIST counts (short axis when nodal), 0 where not recorded."""
    counted_known: np.ndarray
    short_known: np.ndarray
    thickness: np.ndarray
    """Slice thickness, 0 where not recorded."""
    exact: np.ndarray
    non_diagnostic: np.ndarray
    """The row's ``diagnostic_ct`` column says the CT is not of diagnostic quality."""
    scale: int


class PatientOutcome(NamedTuple):
    """What the cohort roll-up needs of a patient (the fields of the same name of
    :class:`~recistry.recist.model.PatientAssessment`)."""

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


class ScoredPatient(NamedTuple):
    """A patient scored by the fast path: the JSON object text, the cohort values and, when
    asked for, the rows of ``patients.csv`` and ``timepoints.csv`` (the values of
    :func:`recistry.results.patient_rows` and :func:`recistry.results.timepoint_rows`)."""

    json: str
    outcome: PatientOutcome
    warnings: tuple[str, ...] = ()
    patient_row: tuple[object, ...] | None = None
    timepoint_rows: list[tuple[object, ...]] | None = None


class _Timepoint(NamedTuple):
    """A follow-up as best overall response reads it (:class:`recistry.recist.engine.Scan`)."""

    date: dt.date
    overall_response: Response
    overall_response_strict: Response


def score_columns(
    columns: MeasurementColumns,
    clinical: Mapping[str, ClinicalRecord] | None,
    options: AssessmentOptions,
    *,
    rows: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> list[ScoredPatient | None]:
    """Score every patient of ``columns`` that the fast path covers (with ``rows``, also make
    each patient's CSV rows); ``on_progress(n)`` is told of every ``n`` patients done.

    Returns
    -------
    list
        One entry per patient code: a :class:`ScoredPatient`, or ``None`` for a patient the
        reference engine must score.
    """
    scorer = _Scorer(columns, clinical or {}, options, rows)
    scored: list[ScoredPatient | None] = []
    for n, (code, first, end) in enumerate(scorer.spans(), start=1):
        scored.append(scorer.score(code, first, end))
        if on_progress is not None and n % PROGRESS_STEP == 0:
            on_progress(PROGRESS_STEP)
    if on_progress is not None:
        on_progress(len(scored) % PROGRESS_STEP)
    return scored


PROGRESS_STEP = 2000
"""Patients between two calls of ``on_progress``."""


def rows_of_patients(columns: MeasurementColumns, patients: Sequence[int]) -> np.ndarray:
    """0-based rows (ascending) of the given patient codes."""
    return np.flatnonzero(np.isin(columns.patient, np.asarray(patients, dtype=np.int64)))


class _Scorer:
    """Per-patient scoring over Python lists of the sorted columns (one pass, no row objects)."""

    def __init__(
        self,
        columns: MeasurementColumns,
        clinical: Mapping[str, ClinicalRecord],
        options: AssessmentOptions,
        rows: bool,
    ) -> None:
        self.c = columns
        self.rows = rows
        self.clinical = clinical
        self.options = options
        # Rows by patient, then date, then table order (the reference sorts by date and row).
        key = columns.patient.astype(np.int64) * (1 << 32) + columns.date
        order = (
            np.arange(len(key))
            if len(key) < 2 or bool(np.all(key[1:] >= key[:-1]))
            else np.argsort(key, kind="stable")
        )
        self.patient = columns.patient[order].tolist()
        self.date = columns.date[order].tolist()
        self.lesion = columns.lesion[order].tolist()
        self.role = columns.role[order].tolist()
        self.state = columns.state[order].tolist()
        self.nodal = columns.nodal[order].tolist()
        self.site = columns.site[order].tolist()
        self.thickness = columns.thickness[order].tolist()
        unit = 10**columns.scale
        # What a target row adds to the sum (-1: cannot be summed), and rows the fast path
        # cannot take (an inexact size, a non-diagnostic CT, an unevaluated lesion, a new
        # lesion that is equivocal or a node with a short axis).
        state = columns.state
        role = columns.role
        measured = state == _MEASURED
        value = np.where(
            measured & columns.counted_known,
            columns.counted,
            np.where(
                state == _TOO_SMALL,
                5 * unit,
                np.where((state == _ABSENT) | (state == _MERGED), 0, -1),
            ),
        )
        bad = (
            ~columns.exact
            | columns.non_diagnostic
            | ((role == _TARGET) & (value < 0))
            | (
                (role == _NON_TARGET)
                & (state != _PRESENT)
                & (state != _ABSENT)
                & (state != _PROGRESSION)
            )
            | ((role == _NEW) & ((state != _PRESENT) | (columns.nodal & columns.short_known)))
        )
        self.value = value[order].tolist()
        self.bad = bad[order].tolist()
        self.unit = unit
        self.mm5 = 5 * unit
        self.mm10 = 10 * unit
        self.mm15 = 15 * unit
        self.lesion_json = [_json_safe(text) for text in columns.lesion_ids]
        self.organs: dict[tuple[int, bool], str] = {}
        self.iso: dict[int, str] = {}
        self.dates: dict[int, dt.date] = {}
        self.mm_text: dict[int, str] = {}
        self.mm_float: dict[int, str] = {}
        self.month_values: dict[int, float] = {}
        self.snippets: dict[tuple[int, int, int, int | None], str] = {}

    def spans(self) -> list[tuple[int, int, int]]:
        """(patient code, first row, end row) in the sorted rows, patients in code order."""
        patient = np.asarray(self.patient, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
        ends = np.r_[starts[1:], len(patient)]
        spans = sorted(zip(patient[starts].tolist(), starts.tolist(), ends.tolist(), strict=True))
        return spans

    # --- formatting (the reference's text, from integers) --------------------------------

    def date_of(self, ordinal: int) -> dt.date:
        date = self.dates.get(ordinal)
        if date is None:
            date = self.dates[ordinal] = dt.date.fromordinal(ordinal)
        return date

    def day(self, ordinal: int) -> str:
        text = self.iso.get(ordinal)
        if text is None:
            text = self.iso[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text

    def mm(self, value: int) -> str:
        """As ``engine._mm``: the fewest decimals that keep the value, at least one."""
        text = self.mm_text.get(value)
        if text is None:
            sign = "-" if value < 0 else ""
            whole, frac = divmod(abs(value), self.unit)
            digits = str(frac).rjust(len(str(self.unit)) - 1, "0").rstrip("0") if frac else ""
            text = self.mm_text[value] = f"{sign}{whole}.{digits or '0'}"
        return text

    def mm_json(self, value: int) -> str:
        """As ``json.dumps(float(Decimal))``: the double nearest the exact value."""
        text = self.mm_float.get(value)
        if text is None:
            text = self.mm_float[value] = repr(value / self.unit)
        return text

    def months(self, days: int) -> float:
        """As ``results._months``: days / 30.4375 rounded half-even to two decimals."""
        value = self.month_values.get(days)
        if value is None:
            value = self.month_values[days] = float(round(Decimal(days) / MONTH_DAYS, 2))
        return value

    def months_json(self, days: int) -> str:
        return repr(self.months(days))

    def snippet(self, lesion: int, role: int, state: int, value: int | None) -> str:
        """A lesion's entry in a time point's ``lesions`` list."""
        key = (lesion, role, state, value)
        text = self.snippets.get(key)
        if text is None:
            counted = "null" if value is None else self.mm_json(value)
            text = self.snippets[key] = (
                f'{{"lesion_id": "{self.lesion_json[lesion]}", "role": "{ROLES[role]}", '
                f'"state": "{STATES[state]}", "counted_mm": {counted}}}'
            )
        return text

    def organ(self, site: int, nodal: bool) -> str:
        organ = self.organs.get((site, nodal))
        if organ is None:
            organ = self.organs[(site, nodal)] = organ_of(self.c.sites[site], nodal)
        return organ

    # --- one patient --------------------------------------------------------------------

    def score(self, code: int, a: int, b: int) -> ScoredPatient | None:
        pid = self.c.patient_ids[code]
        if _json_safe(pid) is None:
            return None
        date, lesion, role, state = self.date, self.lesion, self.role, self.state
        nodal, value, bad = self.nodal, self.value, self.bad
        record = self.clinical.get(pid)
        baseline = date[a]
        last_scan = date[b - 1]
        origin = baseline
        if record is not None:
            if record.new_therapy_date is not None:
                return None
            if record.treatment_start is not None:
                origin = record.treatment_start.toordinal()
                if origin - baseline > BASELINE_WINDOW_DAYS:
                    return None
            death = record.death_date
            if death is not None and (death.toordinal() < last_scan or death.toordinal() < origin):
                return None

        # Baseline: targets measured and measurable, non-targets present, no new lesion.
        targets: list[int] = []  # baseline rows, in table order (the reference's catalogue)
        non_targets: list[int] = []
        kind: dict[int, tuple[int, bool]] = {}
        i = a
        while i < b and date[i] == baseline:
            if bad[i] or lesion[i] in kind:
                return None
            r = role[i]
            if r == _TARGET:
                if state[i] != _MEASURED:  # with its size: a measured row without one is bad
                    return None
                minimum = self.mm15 if nodal[i] else max(self.mm10, 2 * self.thickness[i])
                if value[i] < minimum:
                    return None
                targets.append(i)
            elif r == _NON_TARGET:
                if state[i] != _PRESENT:
                    return None
                non_targets.append(i)
            else:
                return None
            kind[lesion[i]] = (r, nodal[i])
            i += 1
        if not targets or len(targets) > MAX_TARGETS or i == b or date[i] < origin:
            return None
        per_organ: dict[str, int] = {}
        for t in targets:
            organ = self.organ(self.site[t], nodal[t])
            per_organ[organ] = per_organ.get(organ, 0) + 1
            if per_organ[organ] > MAX_TARGETS_PER_ORGAN:
                return None
        target_lesions = [lesion[t] for t in targets]
        target_nodal = [nodal[t] for t in targets]
        nt_lesions = [lesion[t] for t in non_targets]
        base_sum = sum(value[t] for t in targets)
        lesion_json = self.lesion_json
        if any(lesion_json[les] is None for les in kind):
            return None

        tp_texts: list[str] = []
        tp_rows: list[tuple[object, ...]] = []
        timepoints: list[_Timepoint] = []
        best_total = -1  # smallest sum up to the first PD (the best change from baseline)
        nadir, nadir_date = base_sum, baseline
        responded = progressed = after_cr = False
        any_nodal = any(target_nodal)
        new_nodal: dict[int, bool] = {}
        mm, mm_json, ids, snippet = self.mm, self.mm_json, self.c.lesion_ids, self.snippet
        # A follow-up usually lists the baseline lesions again in the same order: then slices
        # of the columns are compared whole instead of walking the rows.
        n_targets = len(target_lesions)
        expected = target_lesions + nt_lesions
        expected_roles = [_TARGET] * n_targets + [_NON_TARGET] * len(nt_lesions)
        expected_nodal = [nodal[r] for r in targets + non_targets]
        while i < b:
            d = date[i]
            j = i + len(expected)
            new_rows: list[int] = []
            if (
                j <= b
                and date[j - 1] == d
                and (j == b or date[j] != d)
                and lesion[i:j] == expected
                and role[i:j] == expected_roles
                and nodal[i:j] == expected_nodal
                and not any(bad[i:j])
            ):
                values = value[i : i + n_targets]
                target_states = state[i : i + n_targets]
                nt_states = state[i + n_targets : j]
                i = j
            else:
                sizes: dict[int, int] = {}
                states: dict[int, int] = {}
                while i < b and date[i] == d:
                    les, r = lesion[i], role[i]
                    if bad[i] or les in states:
                        return None
                    if r == _NEW:
                        if les in kind or new_nodal.setdefault(les, nodal[i]) != nodal[i]:
                            return None
                        if lesion_json[les] is None:
                            return None
                        new_rows.append(i)
                    elif kind.get(les) != (r, nodal[i]):
                        return None
                    elif r == _TARGET:
                        sizes[les] = value[i]
                    states[les] = state[i]
                    i += 1
                if len(sizes) != n_targets or len(states) - len(new_rows) != len(expected):
                    return None
                values = [sizes[les] for les in target_lesions]
                target_states = [states[les] for les in target_lesions]
                nt_states = [states[les] for les in nt_lesions]
            total = sum(values)
            reasons: list[str] = []
            # Target response of this scan alone, PD first [EJC09 §4.3.1, §4.4.2].
            base_pct = _percent(total, base_sum)
            nadir_pct = _percent(total, nadir)
            reappeared = (
                [
                    ids[les]
                    for les, v, n in zip(target_lesions, values, target_nodal, strict=True)
                    if (v >= self.mm10 if n else v > 0)
                ]
                if after_cr
                else []
            )
            if total - nadir >= self.mm5 and total * 100 >= nadir * 120:
                strict = Response.PD
                pct_text = "" if nadir_pct is None else f"{nadir_pct[0]} and "
                reasons.append(
                    f"PD: sum {mm(total)} mm is {pct_text}+{mm(total - nadir)} mm over the nadir "
                    f"{mm(nadir)} mm of {self.day(nadir_date)} ({SRC_TARGET})"
                )
            elif reappeared:
                strict = Response.PD
                reasons.append(_reappearance(reappeared))
            else:
                base_text = (
                    "" if base_pct is None else f" ({base_pct[0]} from baseline {mm(base_sum)} mm)"
                )
                if all(
                    v < self.mm10 if n else v == 0
                    for v, n in zip(values, target_nodal, strict=True)
                ):
                    strict = Response.CR
                    node_note = (
                        " and every target node is below 10 mm short axis" if any_nodal else ""
                    )
                    reasons.append(
                        f"CR: every non-nodal target has disappeared{node_note}; sum "
                        f"{mm(total)} mm{base_text} ({SRC_TARGET})"
                    )
                elif total * 100 <= base_sum * 70:
                    strict = Response.PR
                    reasons.append(
                        f"PR: sum {mm(total)} mm{base_text}, at least 30% below baseline "
                        f"({SRC_TARGET})"
                    )
                else:
                    strict = Response.SD
                    reasons.append(
                        f"SD: sum {mm(total)} mm{base_text} is neither 30% below baseline nor "
                        f"+20% and +5 mm over the nadir {mm(nadir)} mm of {self.day(nadir_date)} "
                        f"({SRC_TARGET})"
                    )
            carried = strict
            if strict is Response.SD and responded and not progressed:
                carried = Response.PR
                reasons.append(
                    "PR carried: this scan alone is SD, but a PR (or CR) was reached earlier and "
                    f"PD is not met ({SRC_FAQ_PR})"
                )

            nt_call = None
            if nt_lesions:
                progressed_nt = [
                    ids[les]
                    for les, st in zip(nt_lesions, nt_states, strict=True)
                    if st == _PROGRESSION
                ]
                present_nt = [
                    ids[les]
                    for les, st in zip(nt_lesions, nt_states, strict=True)
                    if st == _PRESENT
                ]
                if progressed_nt:
                    nt_call = "PD"
                    reasons.append(
                        "PD: unequivocal progression of non-target "
                        f"{', '.join(progressed_nt)} ({SRC_NON_TARGET})"
                    )
                elif present_nt and after_cr:
                    nt_call = "PD"
                    reasons.append(_reappearance(present_nt))
                elif present_nt:
                    nt_call = "NON_CR_NON_PD"
                    reasons.append(
                        f"non-target non-CR/non-PD: {', '.join(present_nt)} persist "
                        f"({SRC_NON_TARGET})"
                    )
                else:
                    nt_call = "CR"
                    reasons.append(
                        "non-target CR: every non-target lesion has disappeared (nodes below "
                        f"10 mm) ({SRC_NON_TARGET})"
                    )
            if new_rows:
                new = "present"
                present_ids = sorted(ids[lesion[r]] for r in new_rows)
                reasons.append(f"PD: new lesion {', '.join(present_ids)} ({SRC_NEW})")
            else:
                new = "none"

            # Table 1 (the patient has targets), PD rows first [EJC09 §4.4.1].
            overall = _table1(carried, nt_call, bool(new_rows))
            overall_strict = (
                overall if strict is carried else _table1(strict, nt_call, bool(new_rows))
            )
            nt_part = "" if nt_call is None else f", non-target {nt_call}"
            reasons.append(
                f"overall {overall}: target {carried}{nt_part}, new lesions {new} ({SRC_TABLE1})"
            )

            items = [
                snippet(les, _TARGET, st, v)
                for les, st, v in zip(target_lesions, target_states, values, strict=True)
            ]
            items.extend(
                snippet(les, _NON_TARGET, st, None)
                for les, st in zip(nt_lesions, nt_states, strict=True)
            )
            items.extend(snippet(lesion[r], _NEW, _PRESENT, None) for r in new_rows)
            nt_json = "null" if nt_call is None else f'"{nt_call}"'
            reasons_json = '", "'.join(reasons)
            tp_texts.append(
                f'{{"date": "{self.day(d)}", "target_sum_mm": {mm_json(total)}, '
                f'"change_from_baseline_pct": {"null" if base_pct is None else base_pct[1]}, '
                f'"change_from_nadir_pct": {"null" if nadir_pct is None else nadir_pct[1]}, '
                f'"nadir_mm": {mm_json(nadir)}, "nadir_date": "{self.day(nadir_date)}", '
                f'"target_response": "{carried}", "target_response_strict": "{strict}", '
                f'"non_target_response": {nt_json}, "new_lesions": "{new}", '
                f'"overall_response": "{overall}", "rescored_from": null, '
                f'"reasons": ["{reasons_json}"], "lesions": [{", ".join(items)}]}}'
            )
            timepoints.append(_Timepoint(self.date_of(d), overall, overall_strict))
            if self.rows:
                tp_rows.append(
                    (
                        pid,
                        self.day(d),
                        d - origin,
                        total / self.unit,
                        None if base_pct is None else base_pct[2],
                        None if nadir_pct is None else nadir_pct[2],
                        nadir / self.unit,
                        carried.value,
                        strict.value,
                        nt_call,
                        new,
                        overall.value,
                        None,
                        " | ".join(reasons),
                    )
                )
            if not progressed and (best_total < 0 or total < best_total):
                best_total = total
            after_cr = overall is Response.CR
            if overall is Response.PD:
                progressed = True
            if carried in (Response.PR, Response.CR) and not progressed:
                responded = True
            if total < nadir:
                nadir, nadir_date = total, d

        return self._finish(
            pid,
            record,
            (baseline, origin, last_scan),
            (base_sum, best_total),
            tp_texts,
            timepoints,
            tp_rows,
        )

    def _finish(
        self,
        pid: str,
        record: ClinicalRecord | None,
        dates: tuple[int, int, int],
        sums: tuple[int, int],
        tp_texts: list[str],
        timepoints: list[_Timepoint],
        tp_rows: list[tuple[object, ...]],
    ) -> ScoredPatient:
        opts = self.options
        baseline, origin, last_scan = dates
        base_sum, best_total = sums
        origin_date = self.date_of(origin)
        unconfirmed, unconfirmed_reasons = best_response_unconfirmed(timepoints, origin_date, opts)
        confirmed, confirmed_reasons = best_response_confirmed(timepoints, origin_date, opts, True)
        best = confirmed if opts.confirm else unconfirmed
        reasons = confirmed_reasons if opts.confirm else unconfirmed_reasons
        progression = next(
            (tp.date.toordinal() for tp in timepoints if tp.overall_response is Response.PD), None
        )
        adjudication = None
        if opts.confirm:
            adjudication = next((r for r in confirmed_reasons if "adjudicat" in r), None)
        warnings = "" if adjudication is None else f'"{adjudication}"'
        first_response = None
        if best in _CR_OR_PR:
            first_response = next(
                tp.date.toordinal()
                for tp in until_first_pd(timepoints)
                if tp.overall_response in _CR_OR_PR
            )

        pfs_days, pfs_event, os_days, os_event = survival(
            PatientRecord(pid, (), record),
            timepoints,
            origin_date,
            None if progression is None else self.date_of(progression),
            self.date_of(last_scan),
            None,
        )

        day = self.day
        progression_json = "null" if progression is None else f'"{day(progression)}"'
        first_json = "null" if first_response is None else f'"{day(first_response)}"'
        reasons_json = ", ".join(f'"{reason}"' for reason in reasons)
        text = (
            f'{{"patient_id": "{pid}", "baseline_date": "{day(baseline)}", '
            f'"origin_date": "{day(origin)}", "baseline_sum_mm": {self.mm_json(base_sum)}, '
            f'"measurable": true, "warnings": [{warnings}], "timepoints": [{", ".join(tp_texts)}], '
            f'"best_overall_response": "{best}", '
            f'"best_overall_response_unconfirmed": "{unconfirmed}", '
            f'"best_overall_response_confirmed": "{confirmed}", '
            f'"best_response_reasons": [{reasons_json}], "first_response_date": {first_json}, '
            f'"progression_date": {progression_json}, '
            f'"pfs_months": {self.months_json(pfs_days)}, '
            f'"pfs_event": {"true" if pfs_event else "false"}, '
            f'"os_months": {"null" if os_days is None else self.months_json(os_days)}, '
            f'"os_event": {"null" if os_event is None else "true" if os_event else "false"}}}'
        )
        outcome = PatientOutcome(
            patient_id=pid,
            options=opts,
            measurable=True,
            best_overall_response=best,
            best_overall_response_unconfirmed=unconfirmed,
            best_overall_response_confirmed=confirmed,
            first_response_date=None
            if first_response is None
            else dt.date.fromordinal(first_response),
            origin_date=origin_date,
            pfs_days=pfs_days,
            pfs_event=pfs_event,
            os_days=os_days,
            os_event=os_event,
            covariates=dict(record.covariates) if record else {},
        )
        warning_texts = () if adjudication is None else (adjudication,)
        if not self.rows:
            return ScoredPatient(text, outcome, warning_texts)
        best_change = _percent(best_total, base_sum)
        patient_row = (
            pid,
            day(baseline),
            day(origin),
            base_sum / self.unit,
            True,
            best.value,
            unconfirmed.value,
            confirmed.value,
            None if best_change is None else best_change[2],
            None if first_response is None else day(first_response),
            None if progression is None else day(progression),
            pfs_days,
            self.months(pfs_days),
            pfs_event,
            os_days,
            None if os_days is None else self.months(os_days),
            os_event,
            adjudication or "",
        )
        return ScoredPatient(text, outcome, warning_texts, patient_row, tp_rows)


def _percent(value: int, reference: int) -> tuple[str, str, float] | None:
    """The change from ``reference`` as the reference engine gives it: its reason text
    (``+12.3%``), its JSON number and that number (two decimals).

    The reference divides Decimals (28 digits) and then rounds half-even; rounding the exact
    ratio of these integers half-even gives the same digits, since a ratio with a denominator
    this small is never within 10**-20 of a rounding tie without being one.
    """
    if reference == 0:
        return None
    change = (value - reference) * 100
    floor, remainder = divmod(change * 100, reference)  # hundredths, rounded down
    hundredths = floor
    if 2 * remainder > reference or (2 * remainder == reference and floor % 2):
        hundredths += 1
    tenths, digit = divmod(floor, 10)
    rest = digit * reference + remainder  # what is left over the tenths, in 1/(10*reference)
    if rest > 5 * reference or (rest == 5 * reference and tenths % 2):
        tenths += 1
    number = hundredths / 100
    text = _HUNDREDTHS.get(hundredths)
    if text is None:
        text = _HUNDREDTHS[hundredths] = repr(number)
    if change < 0:
        if hundredths == 0:
            return f"-{-tenths // 10}.{-tenths % 10}%", "-0.0", -0.0
        return f"-{-tenths // 10}.{-tenths % 10}%", text, number
    return f"+{tenths // 10}.{tenths % 10}%", text, number


_HUNDREDTHS: dict[int, str] = {}


def _table1(target: Response, non_target: str | None, new: bool) -> Response:
    """Overall response of a patient with targets, target NE excluded [EJC09 §4.4.1 Table 1]."""
    if target is Response.PD or non_target == "PD" or new:
        return Response.PD
    if target is Response.CR:
        return Response.CR if non_target in (None, "CR") else Response.PR
    return target


def _reappearance(lesion_ids: Sequence[str]) -> str:
    return (
        f"PD: {', '.join(lesion_ids)} reappeared after an overall CR at the previous "
        f"assessment ({SRC_FAQ_REAPPEAR})"
    )


def _json_safe(text: str) -> str | None:
    """``text`` when JSON needs no escape for it (the caller then falls back), else ``None``."""
    return None if any(ch in _UNSAFE_JSON for ch in text) else text
