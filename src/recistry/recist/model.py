"""Immutable values the RECIST 1.1 engine reads and returns.

Sizes are :class:`decimal.Decimal` millimetres so that the inclusive thresholds of RECIST 1.1
(−30 %, +20 %, +5.0 mm) are decided exactly; dates are :class:`datetime.date`; durations are days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

MONTH_DAYS = Decimal("30.4375")
"""Days per month used for every month figure (365.25 / 12)."""

_V = TypeVar("_V")


def fast_constructor(cls: type[_V]) -> type[_V]:
    """A constructor of the frozen, slotted dataclass ``cls`` for values made by the million.

    It takes the arguments of ``cls(...)`` and returns the same value (equal, hashed alike,
    immutable, of type ``cls``), about four times faster: the ``__init__`` of a frozen dataclass
    sets each field through ``object.__setattr__``, which costs most of the time of making one
    row or lesion value of a large table. The value is filled as a mutable twin with the same
    slots and then given its class. Typed as ``cls`` so that type checkers check the arguments;
    use it only to call.
    """
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields)
    ):
        raise TypeError(f"{cls.__name__} is not a frozen slotted dataclass without __post_init__")
    twin: Callable[..., Any] = dataclasses.make_dataclass(
        f"_Mutable{cls.__name__}",
        [
            (f.name, f.type, field(default=f.default, default_factory=f.default_factory))
            for f in fields
        ],
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )

    def construct(*args: Any, **kwargs: Any) -> _V:
        value = twin(*args, **kwargs)
        value.__class__ = cls
        return value  # type: ignore[no-any-return]

    return construct  # type: ignore[return-value]


class _EmptyMapping(Mapping[str, str]):
    """An immutable empty mapping that pickles to the same shared instance.

    Rows without optional columns share it, instead of one empty dict per row (millions of
    rows), and it crosses process boundaries (``rescore --workers``), which a
    ``types.MappingProxyType`` cannot.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "EMPTY_MAPPING"


EMPTY_MAPPING: Mapping[str, str] = _EmptyMapping()
"""The shared empty ``extra`` of rows without optional columns."""


class Role(StrEnum):
    """What a lesion is for RECIST: chosen at baseline, except new lesions."""

    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class LesionState(StrEnum):
    """What the reader recorded for a lesion at one scan.

    Target: ``measured``, ``too_small`` (counts 5.0 mm), ``absent`` (0 mm), ``merged`` (0 mm,
    coalesced into a lesion that carries the size) or ``not_evaluable``. Non-target: ``present``,
    ``absent``, ``progression`` (unequivocal) or ``not_evaluable``. New lesion: ``present`` or
    ``equivocal``.
    """

    MEASURED = "measured"
    TOO_SMALL = "too_small"
    ABSENT = "absent"
    MERGED = "merged"
    NOT_EVALUABLE = "not_evaluable"
    PRESENT = "present"
    PROGRESSION = "progression"
    EQUIVOCAL = "equivocal"


STATES_BY_ROLE: Mapping[Role, frozenset[LesionState]] = {
    Role.TARGET: frozenset(
        {
            LesionState.MEASURED,
            LesionState.TOO_SMALL,
            LesionState.ABSENT,
            LesionState.MERGED,
            LesionState.NOT_EVALUABLE,
        }
    ),
    Role.NON_TARGET: frozenset(
        {
            LesionState.PRESENT,
            LesionState.ABSENT,
            LesionState.PROGRESSION,
            LesionState.NOT_EVALUABLE,
        }
    ),
    Role.NEW: frozenset({LesionState.PRESENT, LesionState.EQUIVOCAL}),
}


class TargetResponse(StrEnum):
    """Target-lesion response at one time point (RECIST 1.1 §4.3.1)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"


class NonTargetResponse(StrEnum):
    """Non-target response at one time point (RECIST 1.1 §4.3.3)."""

    CR = "CR"
    NON_CR_NON_PD = "NON_CR_NON_PD"
    PD = "PD"
    NE = "NE"


class NewLesions(StrEnum):
    """New lesions seen at one time point (RECIST 1.1 §4.3.5)."""

    NONE = "none"
    PRESENT = "present"
    EQUIVOCAL = "equivocal"


class Response(StrEnum):
    """Overall time-point response and best overall response (RECIST 1.1 Tables 1–3)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    NON_CR_NON_PD = "NON_CR_NON_PD"
    PD = "PD"
    NE = "NE"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from, for error messages and the audit trail.

    ``row`` is the 1-based data row of a table (the header is not counted).
    """

    path: str | None = None
    row: int | None = None


FRAGMENT_KEY = "fragment"
"""``extra`` key (the table column) naming one fragment of a split target: several ``measured``
rows of one target on one date, each with its own name, are summed [EJC09 §4.3.2]."""


def repeated_row(fragments: Sequence[str]) -> tuple[int, int] | None:
    """The first row of one lesion's rows on one date that is not a fragment of its own, as
    ``(that row, the earlier row it repeats)`` (indexes into ``fragments``); ``None`` when every
    row is the only one or each has its own non-empty ``fragment`` name."""
    for i in range(1, len(fragments)):
        name = fragments[i]
        if name in fragments[:i]:
            return i, fragments.index(name)
        if not (fragments[0] and name):
            return i, 0
    return None


@dataclass(frozen=True, slots=True)
class Measurement:
    """One row of the measurement table: one lesion of one patient at one scan date.

    Attributes
    ----------
    long_axis_mm, short_axis_mm
        Diameters in millimetres, ``None`` when not recorded. A non-nodal target counts its long
        axis, a nodal target its short axis.
    slice_thickness_mm
        Reconstructed slice thickness of the image measured on, when known (sets the minimum
        measurable size to 2 × thickness when that is above 10 mm).
    extra
        Optional columns passed through untouched (reader, measured_at, study_uid, series_uid,
        sop_instance_uid, krenning, suv_max, notes …), as text.
    """

    patient_id: str
    date: dt.date
    lesion_id: str
    role: Role
    site: str
    nodal: bool
    state: LesionState
    long_axis_mm: Decimal | None = None
    short_axis_mm: Decimal | None = None
    slice_thickness_mm: Decimal | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    source: Source = field(default_factory=Source)

    @property
    def counted_axis_mm(self) -> Decimal | None:
        """The diameter RECIST counts for this lesion: short axis if nodal, else long axis."""
        return self.short_axis_mm if self.nodal else self.long_axis_mm


@dataclass(frozen=True, slots=True)
class ClinicalRecord:
    """One row of the clinical table.

    ``treatment_start`` is the origin of PFS, OS and the SD minimum duration; when it is ``None``
    the baseline scan date is used. ``new_therapy_date`` is the start of a new anticancer
    therapy: later scans do not count for best response and PFS is censored before it.
    ``covariates`` holds every other column as text.
    """

    patient_id: str
    treatment_start: dt.date | None = None
    last_followup: dt.date | None = None
    death_date: dt.date | None = None
    covariates: Mapping[str, str] = field(default_factory=dict)
    source: Source = field(default_factory=Source)
    new_therapy_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """Everything the engine needs for one patient."""

    patient_id: str
    measurements: tuple[Measurement, ...]
    clinical: ClinicalRecord | None = None


class NodeReappearance(StrEnum):
    """When a lymph node counts as reappeared after an overall CR (a policy).

    ``unequivocal-progression`` (default): a target node >= 10 mm short axis, or a non-target node
    recorded ``progression``; a nodal non-target recorded ``present`` is non-CR/non-PD
    [recist-rules.md §1.8 "Reappearance"; RECIST committee FAQ 'Abnormal lymph node'].
    ``present``: any nodal non-target recorded ``present`` is PD (recistry before issue 10).
    """

    UNEQUIVOCAL_PROGRESSION = "unequivocal-progression"
    PRESENT = "present"


class NodeComplete(StrEnum):
    """Whether normal target nodes can make a target CR progress by the sum rule (a policy).

    ``normal-nodes`` (default): target CR holds while every non-nodal target is 0 mm and every
    target node < 10 mm, whatever the node sum does; the +20 % / +5 mm rule needs at least one
    abnormal target (a non-nodal target > 0 mm or a node >= 10 mm) [EJC09 §4.3.1; FAQ 'Abnormal
    lymph node']. ``sum-rule``: the sum rule applies to normal nodes too (recistry before issue 10).
    """

    NORMAL_NODES = "normal-nodes"
    SUM_RULE = "sum-rule"


@dataclass(frozen=True, slots=True)
class AssessmentOptions:
    """How to score: a named, versioned policy profile of every protocol choice.

    The defaults are the built-in profile ``recist1.1`` (:mod:`recistry.recist.policy` lists the
    others and reads a profile from TOML).

    Attributes
    ----------
    policy, policy_version
        The profile's name and version, printed with every result.
    confirm
        Best overall response by RECIST Table 3 (CR and PR need confirmation).
    confirm_days
        Minimum days between a response and the scan that confirms it (RECIST 1.1 §4.6.1: 4 weeks).
    max_ne_between
        NE time points allowed between a response and its confirmation (admiralonco default 1).
    sd_min_days
        Minimum days from treatment start for SD (and non-CR/non-PD) to count as best response.
    slice_thickness_rule
        A non-nodal target's minimum measurable size is max(10 mm, 2 x slice thickness)
        [EJC09 §3.1.1, Appendix II]; off: 10 mm.
    slice_thickness_rule_nodes
        A nodal target's minimum is max(15 mm, 2 x slice thickness) too (an open question of the
        EORTC Q&A; OHIF's legacy LesionTracker applies it); off (default): 15 mm.
    node_reappearance
        :class:`NodeReappearance`.
    node_cr
        :class:`NodeComplete`.
    pet_only_new_lesion
        A new lesion whose rows say ``pet_only = true`` (seen on the Ga-68 DOTATATE PET with no CT
        correlate) counts as new (PD). Off (default): it is equivocal until a later scan shows it
        ``present`` without ``pet_only``, and then PD is dated back to the PET [EJC09 §4.3.5; the
        PET clause is written for FDG].
    pfs_censor_new_therapy
        PFS is censored at the last evaluable scan before a new anticancer therapy and later scans
        and deaths are not events (FDA guidance, Appendix 3, Table A). Off: the therapy is ignored.
    pfs_max_missed_scans
        With a number N: a progression or death after more than N missed scans (more than
        (N + 1) x ``pfs_scan_interval_days`` after the last evaluable scan) is censored at that
        scan (FDA guidance, Appendix 3, Table A sensitivity analysis). ``None`` (default): off.
    pfs_scan_interval_days
        The protocol's scan interval, for ``pfs_max_missed_scans``.
    strict
        Baseline selection breaches are errors instead of warnings.
    irecist_confirm_min_days, irecist_confirm_max_days
        iRECIST only (``--criteria irecist``, :mod:`recistry.recist.irecist`): the window after an
        iUPD in which the next assessment confirms it, in days (Seymour 2017: 4-8 weeks; a scan
        earlier than the minimum is disregarded unless it shows another new lesion, EORTC iRECIST
        FAQ; a later one still confirms, with a note).
    irecist_further_growth_mm
        iRECIST: the further increase of the target sum, or of the new-lesion target sum, over its
        value at the iUPD that confirms iCPD (Seymour 2017 Table 2: 5 mm; inclusive).
    irecist_reset_shrinkage_mm
        iRECIST: after an iUPD by new lesions that persist, the decrease of the target sum since
        the iUPD that resets the bar when the category is no better (EORTC iRECIST FAQ scenarios
        B and F: 5 mm; inclusive).
    irecist_new_target_max, irecist_new_target_max_per_organ
        iRECIST: at most this many new-lesion targets in all and per organ (Seymour 2017: 5, 2).
    irecist_new_lesion_measurable_mm, irecist_new_node_measurable_mm
        iRECIST: a new lesion is a new-lesion target candidate when its long axis (a node: short
        axis) is at least this (Seymour 2017, RECIST 1.1 measurability: 10 mm, 15 mm).
    irecist_early_new_lesion_confirms
        iRECIST: a scan earlier than ``irecist_confirm_min_days`` after the iUPD that shows
        another new lesion confirms iCPD (the FAQ's exception, for a scan done for a new symptom
        or sign; the reasons say so). Off: it is disregarded like any early scan and the lesion
        counts at the next scan.
    """

    policy: str = "recist1.1"
    # 1: before issue 10; 2: issue 10's node rules; 3: iRECIST's windows as settings, a scan
    # within the minimum interval after an iUPD disregarded whole (EORTC FAQ).
    policy_version: int = 3
    confirm: bool = False
    confirm_days: int = 28
    max_ne_between: int = 1
    sd_min_days: int = 42
    slice_thickness_rule: bool = True
    slice_thickness_rule_nodes: bool = False
    node_reappearance: NodeReappearance = NodeReappearance.UNEQUIVOCAL_PROGRESSION
    node_cr: NodeComplete = NodeComplete.NORMAL_NODES
    pet_only_new_lesion: bool = False
    pfs_censor_new_therapy: bool = True
    pfs_max_missed_scans: int | None = None
    pfs_scan_interval_days: int = 56
    strict: bool = False
    irecist_confirm_min_days: int = 28
    irecist_confirm_max_days: int = 56
    irecist_further_growth_mm: Decimal = Decimal(5)
    irecist_reset_shrinkage_mm: Decimal = Decimal(5)
    irecist_new_target_max: int = 5
    irecist_new_target_max_per_organ: int = 2
    irecist_new_lesion_measurable_mm: Decimal = Decimal(10)
    irecist_new_node_measurable_mm: Decimal = Decimal(15)
    irecist_early_new_lesion_confirms: bool = True

    def __post_init__(self) -> None:
        # Profiles from TOML and tests pass the policies' text; keep the enums.
        object.__setattr__(self, "node_reappearance", NodeReappearance(self.node_reappearance))
        object.__setattr__(self, "node_cr", NodeComplete(self.node_cr))


@dataclass(frozen=True, slots=True)
class LesionValue:
    """A lesion's value at one time point as the engine counted it.

    ``counted_mm`` is what entered the sum of diameters (``None`` when missing or not
    evaluable); ``rows`` are the table rows behind it (several for a split lesion).
    """

    lesion_id: str
    role: Role
    site: str
    nodal: bool
    state: LesionState | None
    counted_mm: Decimal | None
    rows: tuple[Measurement, ...] = ()


@dataclass(frozen=True, slots=True)
class TimepointAssessment:
    """The RECIST call of one follow-up scan, with the numbers and reasons behind it.

    ``target_response`` and ``overall_response`` are the carried categories (a PR is kept while PD
    is not met, RECIST committee FAQ); ``target_response_strict`` is the category of this scan
    alone, and ``overall_response_strict`` the overall call from it (RECIST Table 3 confirms
    with these: the criteria must be met again). ``reasons`` are sentences with the numbers and
    the rule for every call made here.
    """

    date: dt.date
    target_sum_mm: Decimal | None
    complete: bool
    nadir_mm: Decimal | None
    nadir_date: dt.date | None
    change_from_baseline_pct: Decimal | None
    change_from_nadir_pct: Decimal | None
    target_response: TargetResponse | None
    target_response_strict: TargetResponse | None
    non_target_response: NonTargetResponse | None
    new_lesions: NewLesions
    overall_response: Response
    reasons: tuple[str, ...]
    overall_response_strict: Response | None = None
    lesions: tuple[LesionValue, ...] = ()
    rescored_from: Response | None = None


@dataclass(frozen=True, slots=True)
class PatientAssessment:
    """One patient's RECIST 1.1 result: baseline, every time point, best response and dates.

    Durations are days from ``origin_date`` (treatment start, else the baseline scan).
    ``best_overall_response`` follows ``options.confirm``; both the unconfirmed and confirmed
    readings are kept for the cohort tables. ``first_response_date`` is the first scan meeting CR
    or PR (duration of response starts there).
    """

    patient_id: str
    options: AssessmentOptions
    baseline_date: dt.date
    origin_date: dt.date
    baseline_sum_mm: Decimal | None
    baseline_lesions: tuple[LesionValue, ...]
    measurable: bool
    warnings: tuple[str, ...]
    timepoints: tuple[TimepointAssessment, ...]
    best_overall_response: Response
    best_overall_response_unconfirmed: Response
    best_overall_response_confirmed: Response
    best_response_reasons: tuple[str, ...]
    first_response_date: dt.date | None
    progression_date: dt.date | None
    pfs_days: int
    pfs_event: bool
    os_days: int | None
    os_event: bool | None
    covariates: Mapping[str, str] = field(default_factory=dict)

    @property
    def pfs_months(self) -> Decimal:
        """PFS in months (days / 30.4375)."""
        return Decimal(self.pfs_days) / MONTH_DAYS

    @property
    def os_months(self) -> Decimal | None:
        """OS in months (days / 30.4375), ``None`` without a clinical table."""
        return None if self.os_days is None else Decimal(self.os_days) / MONTH_DAYS

    @property
    def best_change_from_baseline_pct(self) -> Decimal | None:
        """Smallest % change of the target sum from baseline, over complete time points up to
        and including the first PD (later scans, often on another therapy, do not count; the
        waterfall-plot convention). ``None`` without a complete follow-up."""
        best: Decimal | None = None
        for tp in self.timepoints:
            change = tp.change_from_baseline_pct
            if tp.complete and change is not None and (best is None or change < best):
                best = change
            if tp.overall_response is Response.PD:
                break
        return best
