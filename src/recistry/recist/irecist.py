"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152) from the same annotations as RECIST 1.1.

iRECIST keeps RECIST 1.1 for the lesions chosen at baseline and changes what progression means:

* the first RECIST 1.1 progression is **iUPD**, unconfirmed;
* it becomes **iCPD** only when the next assessment, 4 to 8 weeks later, shows further growth:
  the target sum a further >= 5 mm over its value at the iUPD, any further increase of the
  non-target disease that caused it, a new-lesion target sum >= 5 mm over its value at the iUPD,
  any increase of a new non-target lesion, another new lesion, or RECIST 1.1 progression in a
  category that had not progressed [Seymour 2017 Table 2; EORTC iRECIST FAQ "If iUPD is driven by
  non-target disease"];
* when iSD, iPR or iCR follows an iUPD the bar is **reset**: a later iUPD needs fresh progression
  against the nadir and its own confirmation [Seymour 2017, "Time-point response"];
* new lesions are followed in their own bucket, never added to the target sum: up to five
  measurable new lesions (two per organ) are **new-lesion targets**, the others new-lesion
  non-targets [Seymour 2017, "New lesions"].

This module is a layer over :func:`recistry.recist.engine.assess_patient`: the target and
non-target categories of every follow-up, their sums, nadir and reasons are RECIST 1.1's, computed
by the engine (again without a scan that iRECIST disregards, so that it sets no nadir). Best
overall response and PFS use the engine's own rules (generic over the
:class:`~recistry.recist.engine.Scan` protocol). Pure: values in, values out.

Table columns iRECIST reads beyond RECIST 1.1 (optional, passed through ``Measurement.extra``):

``new_lesion_category``
    ``target`` or ``non_target`` on a new lesion's rows. When absent, the first five new lesions
    measurable when first present (non-nodal long axis >= 10 mm, node short axis >= 15 mm), at most
    two per organ, in order of appearance then lesion id, are new-lesion targets.
``further_increase``
    ``true`` on a non-target or new non-target row whose lesion increased since the last
    assessment (the FAQ's "INCLA"); the increase need not be unequivocal. ``unequivocal`` on a
    new non-target row: the new non-targets progress unequivocally (RECIST 1.1 PD), which makes
    a fresh iUPD after the bar was reset [EORTC FAQ 'How do new lesions define progression?'].

New lesions may also be recorded ``absent`` or ``not_evaluable`` at scans after they appeared
(iRECIST follows them; RECIST 1.1 ignores those rows).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from recistry.errors import InputError
from recistry.recist.engine import (
    PD_ABSOLUTE_MM,
    _new_lesion_state,
    assess_patient,
    best_response_confirmed,
    best_response_unconfirmed,
    organ_of,
    survival,
)
from recistry.recist.model import (
    AssessmentOptions,
    LesionState,
    Measurement,
    NonTargetResponse,
    PatientAssessment,
    PatientRecord,
    Response,
    Role,
    TargetResponse,
    TimepointAssessment,
)

__all__ = [
    "IRecistOptions",
    "IRecistPatientAssessment",
    "IRecistTimepoint",
    "IResponse",
    "assess_patient_irecist",
    "best_overall_response_irecist",
    "progression_dates",
]

SRC_TABLE2 = "Seymour 2017 Table 2"
SRC_RESET = "Seymour 2017, bar reset after iUPD"
SRC_NEW = "Seymour 2017, new lesions"
SRC_EARLY = "EORTC iRECIST FAQ 'confirm progression less than four weeks after iUPD'"
SRC_NT = "EORTC iRECIST FAQ 'iUPD driven by non-target disease'"
SRC_AFTER_NEW = "EORTC iRECIST FAQ 'must new lesions resolve before iPR or iCR'"
SRC_IBOR = "Seymour 2017 Table 3"
SRC_NEW_PD = "EORTC iRECIST FAQ 'how do new lesions define progression'"

CATEGORY_COLUMN = "new_lesion_category"
INCREASE_COLUMN = "further_increase"
_TRUE = frozenset({"true", "yes", "1", "y"})
_UNEQUIVOCAL = "unequivocal"
_FALSE = frozenset({"false", "no", "0", "n"})
_FOLLOW_UP_ONLY = frozenset({LesionState.ABSENT, LesionState.NOT_EVALUABLE})


class IResponse(StrEnum):
    """iRECIST time-point and best overall response codes (Seymour 2017)."""

    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    NON_ICR_NON_IUPD = "NON_iCR_NON_iUPD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    NE = "NE"


_FROM_RECIST = {
    Response.CR: IResponse.ICR,
    Response.PR: IResponse.IPR,
    Response.SD: IResponse.ISD,
    Response.NON_CR_NON_PD: IResponse.NON_ICR_NON_IUPD,
    Response.NE: IResponse.NE,
}
# The engine's best-response rules read RECIST codes: iCPD is the progression that ends the
# count; an unconfirmed iUPD neither ends it nor counts as a response (NE-like), and is the
# best response only when nothing better is found [admiralonco iRECIST vignette, iBOR events].
_TO_RECIST = {
    IResponse.ICR: Response.CR,
    IResponse.IPR: Response.PR,
    IResponse.ISD: Response.SD,
    IResponse.NON_ICR_NON_IUPD: Response.NON_CR_NON_PD,
    IResponse.IUPD: Response.NE,
    IResponse.ICPD: Response.PD,
    IResponse.NE: Response.NE,
}
_CATEGORY_RANK = {Response.SD: 1, Response.NON_CR_NON_PD: 1, Response.PR: 2, Response.CR: 3}


@dataclass(frozen=True, slots=True)
class IRecistOptions:
    """Score by iRECIST with the policy profile ``recist``.

    The profile holds every protocol choice, RECIST 1.1's and iRECIST's alike, so that one named,
    versioned profile is printed with the results (:mod:`recistry.recist.policy`). iRECIST reads
    its ``irecist_*`` settings (defaults: Seymour 2017 and the EORTC iRECIST FAQ):

    ``irecist_confirm_min_days`` (28), ``irecist_confirm_max_days`` (56)
        The next assessment 4-8 weeks after the iUPD confirms it. A scan earlier than the minimum
        is disregarded (left out of the sums and nadir iRECIST reads) unless it shows another new
        lesion; a later one still confirms, with a note in the reasons.
    ``irecist_further_growth_mm`` (5)
        The further growth of the target sum, or of the new-lesion target sum, over its value at
        the iUPD that confirms it (inclusive).
    ``irecist_reset_shrinkage_mm`` (5)
        After an iUPD by new lesions that persist without growth, the bar resets only when the
        baseline lesions respond better than at the iUPD: a better category, or a target sum this
        much smaller (continued shrinkage, FAQ scenarios B and F).
    ``irecist_new_target_max`` (5), ``irecist_new_target_max_per_organ`` (2),
    ``irecist_new_lesion_measurable_mm`` (10), ``irecist_new_node_measurable_mm`` (15)
        Which new lesions are new-lesion targets.
    ``irecist_early_new_lesion_confirms`` (true)
        Another new lesion on a scan before the minimum interval confirms iCPD (the FAQ's
        exception for a scan done for a new symptom or sign); off, the scan is disregarded and
        the lesion counts as new at the next scan.
    """

    recist: AssessmentOptions = field(default_factory=AssessmentOptions)


@dataclass(frozen=True, slots=True)
class IRecistTimepoint:
    """The iRECIST call of one follow-up scan with the numbers behind it.

    ``recist`` is RECIST 1.1's call of the same scan (target and non-target categories, sums,
    nadir). ``new_lesion_target_sum_mm`` is the sum of the new-lesion targets seen so far (``None``
    when one of them is not measured here). ``iupd_date`` is the date of the iUPD awaiting
    confirmation (or confirmed) at this scan.
    """

    date: dt.date
    response: IResponse
    recist: TimepointAssessment
    new_lesion_targets: tuple[str, ...]
    new_lesion_non_targets: tuple[str, ...]
    new_lesion_target_sum_mm: Decimal | None
    iupd_date: dt.date | None
    reasons: tuple[str, ...]

    # The engine's best-response and survival rules read these (the Scan protocol).
    @property
    def overall_response(self) -> Response:
        return _TO_RECIST[self.response]

    @property
    def overall_response_strict(self) -> Response | None:
        # The scan's own call, which RECIST Table 3 confirmation reads: an iUPD between a
        # response and its confirmation breaks it, as an SD would [admiralonco iRECIST vignette,
        # icbor_ipr: only iCR, iPR or NE in between].
        return Response.PD if self.response is IResponse.IUPD else _TO_RECIST[self.response]


@dataclass(frozen=True, slots=True)
class IRecistPatientAssessment:
    """One patient's iRECIST result.

    ``progression_date`` is the date of the iUPD that was confirmed as iCPD (admiralonco's iRECIST
    PD date); ``unconfirmed_iupd_date`` is an iUPD never confirmed nor reset by the last scan.
    PFS counts confirmed progression or death; OS is RECIST 1.1's.
    """

    patient_id: str
    options: IRecistOptions
    recist: PatientAssessment
    timepoints: tuple[IRecistTimepoint, ...]
    best_overall_response: IResponse
    best_response_reasons: tuple[str, ...]
    progression_date: dt.date | None
    unconfirmed_iupd_date: dt.date | None
    pfs_days: int
    pfs_event: bool


@dataclass(frozen=True, slots=True)
class _NewLesion:
    lesion_id: str
    first_present: dt.date
    target: bool


@dataclass(frozen=True, slots=True)
class _NewBucket:
    """The new lesions at one scan: what appeared, what is still there, their target sum."""

    appeared: tuple[str, ...]
    present: tuple[str, ...]
    unknown: tuple[str, ...]
    target_sum: Decimal | None
    non_target_increase: tuple[str, ...]
    non_target_unequivocal: tuple[str, ...]


@dataclass(slots=True)
class _Pending:
    """An iUPD waiting for its confirmation: what caused it and the values it is measured from."""

    date: dt.date
    causes: frozenset[str]
    target_sum: Decimal | None
    new_target_sum: Decimal | None
    category: Response
    seen_new: frozenset[str]


def assess_patient_irecist(
    record: PatientRecord, options: IRecistOptions | None = None
) -> IRecistPatientAssessment:
    """Score one patient by iRECIST: every follow-up, iBOR and confirmed progression.

    Raises
    ------
    InputError
        Whatever RECIST 1.1 refuses, and iRECIST's own column errors (a new lesion recorded
        ``absent`` before it was present, an unknown ``new_lesion_category`` or
        ``further_increase`` value).
    """
    opts = options or IRecistOptions()
    policy = opts.recist
    follow_up_only = [
        m for m in record.measurements if m.role is Role.NEW and m.state in _FOLLOW_UP_ONLY
    ]
    recist_rows = tuple(m for m in record.measurements if m not in follow_up_only)
    recist = assess_patient(replace(record, measurements=recist_rows), policy)
    new_lesions = _new_lesion_catalogue(record.measurements, policy)
    for m in record.measurements:
        _increase(m)  # every value checked up front, not only where a confirmation reads it
    by_date: dict[dt.date, dict[str, Measurement]] = {}
    for m in record.measurements:
        by_date.setdefault(m.date, {})[m.lesion_id] = m

    # A scan within the minimum interval after an iUPD that shows no other new lesion is
    # disregarded [FAQ]: RECIST 1.1 is then read again without it, so that it sets no nadir.
    disregarded: frozenset[dt.date] = frozenset()
    view = recist
    while True:
        walk = _walk(recist, view, by_date, new_lesions, disregarded, policy)
        if walk.disregard is None:
            break
        disregarded |= {walk.disregard}
        kept = tuple(m for m in recist_rows if m.date not in disregarded)
        view = assess_patient(replace(record, measurements=kept), policy)
    timepoints = walk.timepoints
    confirmed, unconfirmed = progression_dates(timepoints)

    ibor, ibor_reasons = best_overall_response_irecist(
        timepoints, recist.origin_date, policy, has_targets=recist.baseline_sum_mm is not None
    )
    new_therapy = _new_therapy(record)
    progression = confirmed if confirmed and _before(confirmed, record) else None
    last_scan = max((m.date for m in record.measurements), default=recist.baseline_date)
    counted = [t for t in timepoints if _before(t.date, record)]
    pfs_days, pfs_event, _, _ = survival(
        record, counted, recist.origin_date, progression, last_scan, new_therapy
    )
    return IRecistPatientAssessment(
        patient_id=record.patient_id,
        options=opts,
        recist=recist,
        timepoints=tuple(timepoints),
        best_overall_response=ibor,
        best_response_reasons=tuple(ibor_reasons),
        progression_date=progression,
        unconfirmed_iupd_date=unconfirmed,
        pfs_days=pfs_days,
        pfs_event=pfs_event,
    )


@dataclass(frozen=True, slots=True)
class _Walk:
    """The iRECIST calls of every follow-up, or the first scan still to be disregarded."""

    timepoints: tuple[IRecistTimepoint, ...]
    disregard: dt.date | None


def _walk(
    recist: PatientAssessment,
    view: PatientAssessment,
    by_date: Mapping[dt.date, Mapping[str, Measurement]],
    new_lesions: Sequence[_NewLesion],
    disregarded: frozenset[dt.date],
    policy: AssessmentOptions,
) -> _Walk:
    """The follow-ups in order: RECIST 1.1's calls of ``view`` (the disregarded scans left out)
    read by Table 2, each reported next to RECIST 1.1's own call of the scan (``recist``)."""
    in_view = {tp.date: tp for tp in view.timepoints}
    appears = _appearance_dates(new_lesions, [tp.date for tp in recist.timepoints], disregarded)
    timepoints: list[IRecistTimepoint] = []
    pending: _Pending | None = None
    confirmed: _Pending | None = None
    new_target_sums: list[Decimal] = []
    for full in recist.timepoints:
        rows = by_date.get(full.date, {})
        bucket = _new_bucket(full.date, rows, new_lesions, appears, policy)
        reasons: list[str] = []
        if confirmed is not None:
            response = IResponse.ICPD
            reasons.append(
                f"iCPD: progression confirmed on an earlier scan (iUPD of {confirmed.date}); "
                f"later scans do not change it ({SRC_TABLE2})"
            )
        elif full.date in disregarded and pending is not None:
            response = IResponse.IUPD
            reasons.append(_disregarded_reason(full.date, pending, policy))
        else:
            # A disregarded scan is missing from the view only while it is disregarded.
            tp = in_view.get(full.date, full)
            response, after, confirmed = _timepoint_call(
                tp, rows, bucket, pending, new_target_sums, policy, reasons
            )
            if (
                pending is not None
                and after is pending
                and confirmed is None
                and (tp.date - pending.date).days < policy.irecist_confirm_min_days
            ):
                return _Walk((), disregard=tp.date)
            if tp.nadir_mm != full.nadir_mm:
                reasons.append(
                    f"RECIST 1.1 sums read without the disregarded scans "
                    f"({', '.join(str(d) for d in sorted(disregarded))}): nadir "
                    f"{_mm_or_none(tp.nadir_mm)} mm ({SRC_EARLY})"
                )
            pending = after
        if (
            bucket.target_sum is not None
            and response is not IResponse.NE
            and full.date not in disregarded
        ):
            new_target_sums.append(bucket.target_sum)
        anchor = confirmed or pending
        timepoints.append(
            IRecistTimepoint(
                date=full.date,
                response=response,
                recist=full,
                new_lesion_targets=tuple(
                    n.lesion_id for n in new_lesions if _seen(n, full.date) and n.target
                ),
                new_lesion_non_targets=tuple(
                    n.lesion_id for n in new_lesions if _seen(n, full.date) and not n.target
                ),
                new_lesion_target_sum_mm=bucket.target_sum,
                iupd_date=anchor.date if anchor else None,
                reasons=tuple(reasons),
            )
        )
    return _Walk(tuple(timepoints), disregard=None)


def _appearance_dates(
    new_lesions: Sequence[_NewLesion],
    follow_ups: Sequence[dt.date],
    disregarded: frozenset[dt.date],
) -> dict[str, dt.date]:
    """When each new lesion counts as appeared: its first scan, or the first scan after it
    when that one is disregarded."""
    out: dict[str, dt.date] = {}
    for lesion in new_lesions:
        later = [d for d in follow_ups if d >= lesion.first_present and d not in disregarded]
        out[lesion.lesion_id] = later[0] if later else lesion.first_present
    return out


def _disregarded_reason(date: dt.date, pending: _Pending, policy: AssessmentOptions) -> str:
    days = (date - pending.date).days
    return (
        f"iUPD: this scan is {days} days after the iUPD of {pending.date}, less than "
        f"{policy.irecist_confirm_min_days}: disregarded (left out of the sums and nadir; a new "
        f"lesion first seen here counts at the next scan); repeat the scan 4-8 weeks after the "
        f"iUPD ({SRC_EARLY})"
    )


def progression_dates(
    timepoints: Sequence[IRecistTimepoint],
) -> tuple[dt.date | None, dt.date | None]:
    """(confirmed, unconfirmed): the dates of progression read from the time-point calls.

    A run of iUPD (NE may stand between) starts at its first iUPD; iSD, iPR, iCR or non-iCR/
    non-iUPD end it (the bar is reset). ``confirmed`` is the start of the run that an iCPD ends
    (the iRECIST PD date: the first iUPD of iUPD, iUPD, iCPD, the second of SD, SD, iUPD, PR,
    PR, iUPD, iCPD); ``unconfirmed`` the start of a run still open after the last time point
    [admiralonco iRECIST vignette, 'Derive Confirmed and Unconfirmed Progressive Disease
    Parameter']. An iCPD that ends no run confirms nothing.
    """
    start: dt.date | None = None
    for tp in timepoints:
        if tp.response is IResponse.ICPD:
            return start, None
        if tp.response is IResponse.IUPD:
            start = start or tp.date
        elif tp.response is not IResponse.NE:
            start = None
    return None, start


def best_overall_response_irecist(
    timepoints: Sequence[IRecistTimepoint],
    origin: dt.date,
    options: AssessmentOptions,
    *,
    has_targets: bool,
) -> tuple[IResponse, list[str]]:
    """iBOR: the best time-point response up to the first iCPD [Seymour 2017 Table 3].

    The RECIST 1.1 rules of the engine decide it (SD minimum duration, and with
    ``options.confirm`` the confirmation of iCR and iPR by Table 3 of RECIST 1.1); an unconfirmed
    iUPD is the best response only when no time point is better (Table 3, example 8).
    """
    if options.confirm:
        best, reasons = best_response_confirmed(timepoints, origin, options, has_targets)
    else:
        best, reasons = best_response_unconfirmed(timepoints, origin, options)
    if best is Response.PD:
        ibor = IResponse.ICPD
    elif best is Response.NE and any(t.response is IResponse.IUPD for t in timepoints):
        ibor = IResponse.IUPD
        first = next(t for t in timepoints if t.response is IResponse.IUPD)
        reasons = [
            f"iBOR iUPD: unconfirmed progression on {first.date}, never confirmed and no "
            f"better time point counts ({SRC_IBOR}, example 8)"
        ]
    else:
        ibor = _FROM_RECIST[best]
    return ibor, [_i_codes(r) for r in reasons]


# --- one time point ------------------------------------------------------------------------


def _timepoint_call(
    tp: TimepointAssessment,
    rows: Mapping[str, Measurement],
    bucket: _NewBucket,
    pending: _Pending | None,
    new_target_sums: Sequence[Decimal],
    policy: AssessmentOptions,
    reasons: list[str],
) -> tuple[IResponse, _Pending | None, _Pending | None]:
    """(response, pending iUPD after this scan, confirmed iUPD) for one follow-up."""
    causes = _progression_causes(tp, bucket, new_target_sums, reasons)
    category = _baseline_lesion_category(tp)
    if pending is None:
        if causes:
            reasons.insert(
                0,
                f"iUPD: RECIST 1.1 progression ({', '.join(sorted(causes))}); unconfirmed until "
                f"the next assessment 4-8 weeks later ({SRC_TABLE2})",
            )
            return IResponse.IUPD, _anchor(tp, bucket, causes, category), None
        return _without_progression(tp, bucket, category, reasons), None, None

    days = (tp.date - pending.date).days
    confirmations = _confirmations(tp, rows, bucket, causes, pending, policy)
    if days < policy.irecist_confirm_min_days:
        extra = [c for c in confirmations if c.startswith("another new lesion")]
        if extra and policy.irecist_early_new_lesion_confirms:
            reasons.append(
                f"iCPD: {extra[0]}, {days} days after the iUPD of {pending.date}; a scan within "
                f"{policy.irecist_confirm_min_days} days confirms only by a new lesion, and only "
                f"when done for a new symptom or sign ({SRC_EARLY})"
            )
            return IResponse.ICPD, None, pending
        reasons.append(_disregarded_reason(tp.date, pending, policy))
        return IResponse.IUPD, pending, None
    late = (
        f" (the confirming scan is {days} days after the iUPD, later than the "
        f"{policy.irecist_confirm_max_days} days iRECIST recommends)"
        if days > policy.irecist_confirm_max_days
        else ""
    )
    if confirmations:
        reasons.append(
            f"iCPD: the iUPD of {pending.date} is confirmed: {'; '.join(confirmations)}"
            f"{late} ({SRC_TABLE2})"
        )
        return IResponse.ICPD, None, pending
    if category is Response.NE or bucket.unknown:
        what = (
            "the baseline lesions are not evaluable"
            if category is Response.NE
            else f"new lesion {', '.join(bucket.unknown)} is not evaluated"
        )
        reasons.append(
            f"NE: {what}, so the iUPD of {pending.date} is neither confirmed nor reset "
            f"({SRC_TABLE2})"
        )
        return IResponse.NE, pending, None
    reset = _reset_reason(tp, bucket, causes, category, pending, policy)
    if reset is not None:
        reasons.append(reset)
        return _without_progression(tp, bucket, category, reasons), None, None
    reasons.insert(
        0,
        f"iUPD: the iUPD of {pending.date} ({', '.join(sorted(pending.causes))}) is neither "
        f"confirmed by further growth nor followed by a response ({SRC_TABLE2})",
    )
    return IResponse.IUPD, pending, None


def _progression_causes(
    tp: TimepointAssessment,
    bucket: _NewBucket,
    new_target_sums: Sequence[Decimal],
    reasons: list[str],
) -> frozenset[str]:
    """The categories in RECIST 1.1 progression at this scan (new lesions in their own bucket)."""
    causes: set[str] = set()
    if tp.target_response is TargetResponse.PD:
        causes.add("target")
    if tp.non_target_response is NonTargetResponse.PD:
        causes.add("non-target")
    if causes:
        # RECIST 1.1's own sentences, with the sums and the rule; new lesions are iRECIST's here.
        reasons.extend(r for r in tp.reasons if r.startswith("PD") and "new lesion" not in r)
    if bucket.appeared:
        causes.add("new")
        reasons.append(f"new lesion {', '.join(bucket.appeared)} ({SRC_NEW})")
    if bucket.target_sum is not None and new_target_sums:
        nadir = min(new_target_sums)
        rise = bucket.target_sum - nadir
        if rise >= PD_ABSOLUTE_MM and bucket.target_sum * 100 >= nadir * 120:
            causes.add("new")
            reasons.append(
                f"new-lesion target sum {_mm(bucket.target_sum)} mm is +{_mm(rise)} mm over its "
                f"nadir {_mm(nadir)} mm (>= 20% and >= 5 mm, {SRC_NEW})"
            )
    if bucket.non_target_unequivocal:
        causes.add("new")
        reasons.append(
            f"new non-target lesion {', '.join(bucket.non_target_unequivocal)} progressed "
            f"unequivocally ({SRC_NEW_PD})"
        )
    return frozenset(causes)


def _confirmations(
    tp: TimepointAssessment,
    rows: Mapping[str, Measurement],
    bucket: _NewBucket,
    causes: frozenset[str],
    pending: _Pending,
    policy: AssessmentOptions,
) -> list[str]:
    """What confirms the pending iUPD at this scan, each with its numbers [Table 2; FAQ]."""
    out: list[str] = []
    basis = pending.causes
    growth = policy.irecist_further_growth_mm
    if "target" in basis and tp.target_sum_mm is not None and pending.target_sum is not None:
        rise = tp.target_sum_mm - pending.target_sum
        if rise >= growth:
            out.append(
                f"target sum {_mm(tp.target_sum_mm)} mm is +{_mm(rise)} mm over "
                f"{_mm(pending.target_sum)} mm at the iUPD (>= {_mm(growth)} mm)"
            )
    if "non-target" in basis:
        grown = sorted(
            m.lesion_id for m in rows.values() if m.role is Role.NON_TARGET and _increase(m)
        )
        if grown:
            out.append(f"non-target {', '.join(grown)} increased further ({SRC_NT})")
    if "new" in basis:
        if bucket.target_sum is not None and pending.new_target_sum is not None:
            rise = bucket.target_sum - pending.new_target_sum
            if rise >= growth:
                out.append(
                    f"new-lesion target sum {_mm(bucket.target_sum)} mm is +{_mm(rise)} mm over "
                    f"{_mm(pending.new_target_sum)} mm at the iUPD (>= {_mm(growth)} mm)"
                )
        if bucket.non_target_increase:
            out.append(f"new non-target {', '.join(bucket.non_target_increase)} increased")
    extra = [i for i in bucket.appeared if i not in pending.seen_new]
    if extra:
        out.append(f"another new lesion {', '.join(extra)}")
    if "target" not in basis and "target" in causes:
        out.append("the targets now meet RECIST 1.1 progression")
    if "non-target" not in basis and "non-target" in causes:
        out.append("the non-targets now progress unequivocally")
    if "new" not in basis and not extra and "new" in causes:
        out.append("the new lesions now progress")
    return out


def _reset_reason(
    tp: TimepointAssessment,
    bucket: _NewBucket,
    causes: frozenset[str],
    category: Response,
    pending: _Pending,
    policy: AssessmentOptions,
) -> str | None:
    """Why the bar resets at this scan, or ``None`` when the iUPD stands [Table 2; FAQ B/D/F]."""
    if causes:
        return None
    if "new" in pending.causes and bucket.present:
        better = _CATEGORY_RANK.get(category, 0) > _CATEGORY_RANK.get(pending.category, 0)
        drop = (
            pending.target_sum - tp.target_sum_mm
            if tp.target_sum_mm is not None and pending.target_sum is not None
            else None
        )
        if better:
            why = f"the baseline lesions respond better ({category} after {pending.category})"
        elif drop is not None and drop >= policy.irecist_reset_shrinkage_mm:
            why = (
                f"the target sum fell {_mm(drop)} mm since the iUPD "
                f"(>= {_mm(policy.irecist_reset_shrinkage_mm)} mm)"
            )
        else:
            return None
        return f"bar reset: the new lesions persist without growth and {why} ({SRC_AFTER_NEW})"
    return (
        f"bar reset: no category progresses any more after the iUPD of {pending.date}; a later "
        f"iUPD needs fresh progression against the nadir ({SRC_RESET})"
    )


def _without_progression(
    tp: TimepointAssessment, bucket: _NewBucket, category: Response, reasons: list[str]
) -> IResponse:
    """The call of a scan with no pending progression: RECIST 1.1's, with new lesions in mind."""
    if category is Response.NE or (category is Response.CR and bucket.unknown):
        reasons.insert(0, f"NE: not evaluable ({SRC_TABLE2})")
        return IResponse.NE
    if category is Response.CR and bucket.present:
        reasons.insert(
            0,
            f"iPR: the baseline lesions are gone but new lesion {', '.join(bucket.present)} "
            f"persists ({SRC_TABLE2})",
        )
        return IResponse.IPR
    response = _FROM_RECIST[category]
    reasons.insert(0, f"{response}: RECIST 1.1 {category} of the baseline lesions ({SRC_TABLE2})")
    return response


def _baseline_lesion_category(tp: TimepointAssessment) -> Response:
    """RECIST Tables 1 and 2 for the lesions chosen at baseline, new lesions left out."""
    target, non_target = tp.target_response, tp.non_target_response
    if target is TargetResponse.PD or non_target is NonTargetResponse.PD:
        return Response.PD
    if target is None:
        return {
            NonTargetResponse.CR: Response.CR,
            NonTargetResponse.NON_CR_NON_PD: Response.NON_CR_NON_PD,
        }.get(non_target or NonTargetResponse.NE, Response.NE)
    if target is TargetResponse.NE:
        return Response.NE
    if target is TargetResponse.CR:
        return Response.CR if non_target in (None, NonTargetResponse.CR) else Response.PR
    return Response.PR if target is TargetResponse.PR else Response.SD


def _anchor(
    tp: TimepointAssessment, bucket: _NewBucket, causes: frozenset[str], category: Response
) -> _Pending:
    return _Pending(
        date=tp.date,
        causes=causes,
        target_sum=tp.target_sum_mm,
        new_target_sum=bucket.target_sum,
        category=category,
        seen_new=frozenset(bucket.present) | frozenset(bucket.appeared),
    )


# --- new lesions ----------------------------------------------------------------------------


def _new_lesion_catalogue(
    rows: Sequence[Measurement], policy: AssessmentOptions
) -> tuple[_NewLesion, ...]:
    """New lesions in order of appearance, each a new-lesion target or non-target [Seymour]."""
    by_lesion: dict[str, list[Measurement]] = {}
    for m in sorted(rows, key=lambda m: (m.date, m.source.row or 0)):
        if m.role is Role.NEW:
            by_lesion.setdefault(m.lesion_id, []).append(m)
    firsts: list[tuple[dt.date, str, Measurement, str | None]] = []
    for lesion_id, group in by_lesion.items():
        first = next(
            (m for m in group if _new_lesion_state(m, policy) is LesionState.PRESENT), None
        )
        leading = group[0]
        if leading.state in _FOLLOW_UP_ONLY and (first is None or leading.date < first.date):
            raise InputError(
                f"new lesion {lesion_id} is recorded '{leading.state}' on {leading.date} before it "
                "was present: a new lesion is recorded 'present' or 'equivocal' first",
                path=leading.source.path,
                row=leading.source.row,
                column="state",
            )
        if first is not None:
            firsts.append((first.date, lesion_id, first, _declared_category(group)))
    firsts.sort(key=lambda item: (item[0], item[1]))
    out: list[_NewLesion] = []
    per_organ: dict[str, int] = {}
    for date, lesion_id, first, declared in firsts:
        if declared is None:
            organ = organ_of(first.site, first.nodal)
            target = (
                _measurable(first, policy)
                and sum(n.target for n in out) < policy.irecist_new_target_max
                and per_organ.get(organ, 0) < policy.irecist_new_target_max_per_organ
            )
            if target:
                per_organ[organ] = per_organ.get(organ, 0) + 1
        else:
            target = declared == "target"
        out.append(_NewLesion(lesion_id, date, target))
    return tuple(out)


def _declared_category(group: Sequence[Measurement]) -> str | None:
    declared: str | None = None
    for m in group:
        value = m.extra.get(CATEGORY_COLUMN, "").strip().lower()
        if not value:
            continue
        if value not in ("target", "non_target"):
            raise InputError(
                f"{CATEGORY_COLUMN} '{value}' is not 'target' or 'non_target'",
                path=m.source.path,
                row=m.source.row,
                column=CATEGORY_COLUMN,
            )
        if declared is not None and value != declared:
            raise InputError(
                f"new lesion {m.lesion_id} changes {CATEGORY_COLUMN} from {declared} to {value}",
                path=m.source.path,
                row=m.source.row,
                column=CATEGORY_COLUMN,
            )
        declared = value
    return declared


def _measurable(m: Measurement, policy: AssessmentOptions) -> bool:
    """Measurable as RECIST 1.1 measures a baseline target [Seymour 2017, "New lesions"]: the
    minimum size, or twice the slice thickness when the profile's slice-thickness rule says so
    [EJC09 §3.1.1]."""
    size = m.counted_axis_mm
    if size is None:
        return False
    twice = 2 * (m.slice_thickness_mm or Decimal(0))
    if m.nodal:
        minimum = policy.irecist_new_node_measurable_mm
        return size >= (max(minimum, twice) if policy.slice_thickness_rule_nodes else minimum)
    minimum = policy.irecist_new_lesion_measurable_mm
    return size >= (max(minimum, twice) if policy.slice_thickness_rule else minimum)


def _seen(lesion: _NewLesion, date: dt.date) -> bool:
    return lesion.first_present <= date


def _new_bucket(
    date: dt.date,
    rows: Mapping[str, Measurement],
    new_lesions: Sequence[_NewLesion],
    appears: Mapping[str, dt.date],
    policy: AssessmentOptions,
) -> _NewBucket:
    appeared, present, unknown, grown, unequivocal = [], [], [], [], []
    total: Decimal | None = Decimal(0)
    for lesion in new_lesions:
        if not _seen(lesion, date):
            continue
        m = rows.get(lesion.lesion_id)
        state = None if m is None else _new_lesion_state(m, policy)
        if appears[lesion.lesion_id] == date:
            appeared.append(lesion.lesion_id)
        if m is None or m.state is LesionState.NOT_EVALUABLE:
            unknown.append(lesion.lesion_id)
        elif state is LesionState.PRESENT or state is LesionState.EQUIVOCAL:
            present.append(lesion.lesion_id)
        if lesion.target:
            size = _new_target_size(m)
            total = None if total is None or size is None else total + size
        elif m is not None and _increase(m):
            grown.append(lesion.lesion_id)
            if _unequivocal(m):
                unequivocal.append(lesion.lesion_id)
    has_targets = any(n.target and _seen(n, date) for n in new_lesions)
    return _NewBucket(
        appeared=tuple(appeared),
        present=tuple(present),
        unknown=tuple(unknown),
        target_sum=total if has_targets else None,
        non_target_increase=tuple(grown),
        non_target_unequivocal=tuple(unequivocal),
    )


def _new_target_size(m: Measurement | None) -> Decimal | None:
    if m is None or m.state is LesionState.NOT_EVALUABLE:
        return None
    if m.state is LesionState.ABSENT:
        return Decimal(0)
    return m.counted_axis_mm


def _increase(m: Measurement) -> bool:
    """Whether the row records an increase since the last assessment (any, or unequivocal)."""
    value = m.extra.get(INCREASE_COLUMN, "").strip().lower()
    if value in _TRUE or value == _UNEQUIVOCAL:
        return True
    if value and value not in _FALSE:
        raise InputError(
            f"{INCREASE_COLUMN} '{value}' is not true, false or {_UNEQUIVOCAL}",
            path=m.source.path,
            row=m.source.row,
            column=INCREASE_COLUMN,
        )
    return False


def _unequivocal(m: Measurement) -> bool:
    return m.extra.get(INCREASE_COLUMN, "").strip().lower() == _UNEQUIVOCAL


# --- small helpers --------------------------------------------------------------------------


def _new_therapy(record: PatientRecord) -> dt.date | None:
    return record.clinical.new_therapy_date if record.clinical else None


def _before(date: dt.date, record: PatientRecord) -> bool:
    new_therapy = _new_therapy(record)
    return new_therapy is None or date < new_therapy


def _mm(value: Decimal) -> str:
    return f"{value:.1f}"


def _mm_or_none(value: Decimal | None) -> str:
    return "none" if value is None else _mm(value)


_I_CODES = {
    "NON_CR_NON_PD": "NON_iCR_NON_iUPD",
    "CR": "iCR",
    "PR": "iPR",
    "SD": "iSD",
    "PD": "iCPD",
}
_RECIST_CODE = re.compile(r"\b(NON_CR_NON_PD|CR|PR|SD|PD)\b")


def _i_codes(reason: str) -> str:
    """The engine's best-response sentences in iRECIST codes."""
    reason = reason.replace("best overall response", "iBOR")
    return _RECIST_CODE.sub(lambda match: _I_CODES[match.group(1)], reason)
