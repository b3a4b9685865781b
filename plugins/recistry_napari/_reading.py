"""A radiologist's reading of one patient: lesions per time point, geometry in LPS mm. No Qt.

The widgets edit a :class:`Reading` only through the pure functions here, which return new
values; :func:`to_measurements` turns it into the rows the RECIST engine and the store read.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

import numpy as np
from pydicom.uid import generate_uid

from recistry.errors import InputError
from recistry.recist.model import FRAGMENT_KEY, STATES_BY_ROLE, LesionState, Measurement, Role
from recistry.store.readings import ROLE_UNASSIGNED_KEY, format_point_mm, parse_point_mm

logger = logging.getLogger(__name__)


class Axis(StrEnum):
    """Which diameter a drawn line measures."""

    LONG = "long"
    SHORT = "short"


ID_PREFIX: Mapping[Role, str] = {Role.TARGET: "T", Role.NON_TARGET: "NT", Role.NEW: "NEW"}
"""ID prefixes: "NEW1" cannot be misread as "NT1" the way "N1" could."""

PERPENDICULAR_TOLERANCE_DEG = 10.0
"""How far from 90° a node's short axis may be from its long axis before it is flagged."""


@dataclass(frozen=True, slots=True)
class Line:
    """A diameter drawn on an image: two end points in patient LPS mm ``(x, y, z)``."""

    start_lps: tuple[float, float, float]
    end_lps: tuple[float, float, float]

    @property
    def length_mm(self) -> float:
        """Euclidean length in mm."""
        return math.dist(self.start_lps, self.end_lps)

    @property
    def diameter_mm(self) -> Decimal:
        """Length rounded to 0.1 mm, the precision radiologists report and the engine scores."""
        return Decimal(repr(self.length_mm)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def z_mm(self) -> float:
        """Mean LPS z (superior) of the end points: the axial slice the line was drawn on."""
        return (self.start_lps[2] + self.end_lps[2]) / 2


def angle_deg(a: Line, b: Line) -> float:
    """Angle between two lines in degrees, in [0, 90]."""
    u = np.subtract(a.end_lps, a.start_lps)
    v = np.subtract(b.end_lps, b.start_lps)
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norm == 0.0:
        return 0.0
    cos = abs(float(np.dot(u, v))) / norm
    return math.degrees(math.acos(min(1.0, cos)))


@dataclass(frozen=True, slots=True)
class LesionAnnotation:
    """One lesion at one time point.

    Attributes
    ----------
    state
        What the reader recorded; ``None`` while the lesion is pending (carried over and not yet
        assessed at this time point).
    long_axis, short_axis
        The drawn diameters in LPS mm, ``None`` when not drawn.
    krenning
        The reader's Krenning grade 0–4 (the reader decides; suggestions are only shown).
    suv_max, suv_peak
        Lesion uptake in SUVbw (g/ml) when measured on PET.
    series_instance_uid, sop_instance_uid
        The CT series and slice the long axis was drawn on, or the location was placed on.
    location_lps
        Where the reader located the lesion (a point in patient LPS mm), for lesions located
        without a line: non-target and new lesions, and targets recorded by a state.
    """

    lesion_id: str
    role: Role
    site: str
    nodal: bool
    state: LesionState | None = None
    long_axis: Line | None = None
    short_axis: Line | None = None
    krenning: int | None = None
    suv_max: float | None = None
    suv_peak: float | None = None
    series_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    tracking_uid: str | None = None
    measured_at: str | None = None
    """When the reader last changed this lesion here (ISO 8601 UTC), as the store records it."""
    location_lps: tuple[float, float, float] | None = None
    role_unassigned: bool = False
    """Imported (OHIF, Slicer) without a RECIST role: ``role`` is a placeholder until the reader
    assigns one (:data:`~recistry.store.readings.ROLE_UNASSIGNED_KEY`)."""
    segmentation_uid: str | None = None
    segment_number: int | None = None
    """The DICOM SEG (SOP Instance UID) and segment holding this lesion's mask on this scan,
    when it was measured from an accepted segmentation (written at save)."""

    @property
    def pending(self) -> bool:
        """True while nothing has been recorded for this lesion at this time point."""
        return self.state is None

    @property
    def counted_line(self) -> Line | None:
        """The diameter RECIST counts: short axis of a node, long axis otherwise."""
        return self.short_axis if self.nodal else self.long_axis

    @property
    def position_lps(self) -> tuple[float, float, float] | None:
        """Where the lesion is on this scan (LPS mm): the middle of its long axis, else its
        located point; ``None`` when it has neither."""
        if self.long_axis is not None:
            a, b = self.long_axis.start_lps, self.long_axis.end_lps
            return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2)
        return self.location_lps


@dataclass(frozen=True, slots=True)
class TimepointReading:
    """The lesions of one scan date, and the CT they were read on.

    ``slice_thickness_mm`` sets the measurable minimum (2 × thickness, RECIST 1.1 §3.1.1);
    ``frame_of_reference_uid`` is the frame of the LPS end points.
    """

    date: dt.date
    lesions: tuple[LesionAnnotation, ...] = ()
    slice_thickness_mm: float | None = None
    study_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    liver_center_lps: tuple[float, float, float] | None = None
    liver_suv_mean: float | None = None
    spleen_center_lps: tuple[float, float, float] | None = None
    spleen_suv_mean: float | None = None
    """Reference spheres (centre LPS mm, SUVmean g/ml) for Krenning grading on this scan."""

    def lesion(self, lesion_id: str) -> LesionAnnotation:
        """The lesion with this ID; KeyError when it is not at this time point."""
        for lesion in self.lesions:
            if lesion.lesion_id == lesion_id:
                return lesion
        raise KeyError(lesion_id)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reader's annotations of one patient, time points in date order (first = baseline)."""

    patient_id: str
    timepoints: tuple[TimepointReading, ...]
    reader: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def baseline_date(self) -> dt.date:
        """Date of the first scan."""
        return self.timepoints[0].date

    def at(self, date: dt.date) -> TimepointReading:
        """The time point of ``date``; KeyError when there is none."""
        for tp in self.timepoints:
            if tp.date == date:
                return tp
        raise KeyError(date)

    def prior(self, date: dt.date, lesion_id: str) -> tuple[dt.date, LesionAnnotation] | None:
        """The latest earlier time point where this lesion was assessed, with its annotation."""
        found = None
        for tp in self.timepoints:
            if tp.date >= date:
                break
            for lesion in tp.lesions:
                if lesion.lesion_id == lesion_id and not lesion.pending:
                    found = (tp.date, lesion)
        return found


def new_reading(
    patient_id: str,
    dates: Iterable[dt.date],
    *,
    reader: str = "",
    slice_thickness_mm: Mapping[dt.date, float] | None = None,
) -> Reading:
    """An empty reading with one time point per distinct scan date."""
    thickness = slice_thickness_mm or {}
    timepoints = tuple(
        TimepointReading(date=d, slice_thickness_mm=thickness.get(d)) for d in sorted(set(dates))
    )
    if not timepoints:
        raise ValueError("a reading needs at least one scan date")
    return Reading(patient_id=patient_id, timepoints=timepoints, reader=reader)


def replace_timepoint(reading: Reading, tp: TimepointReading) -> Reading:
    """Return ``reading`` with the time point of ``tp.date`` replaced by ``tp``."""
    reading.at(tp.date)
    timepoints = tuple(tp if t.date == tp.date else t for t in reading.timepoints)
    return replace(reading, timepoints=timepoints)


def replace_reader(reading: Reading, reader: str) -> Reading:
    """Return ``reading`` attributed to ``reader``."""
    return replace(reading, reader=reader)


def next_lesion_id(reading: Reading, role: Role) -> str:
    """The next free ID for ``role``: T1, T2 … for targets, NT1 … non-targets, NEW1 … new."""
    prefix = ID_PREFIX[role]
    used = {lesion.lesion_id for tp in reading.timepoints for lesion in tp.lesions}
    n = 1
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def add_lesion(
    reading: Reading, date: dt.date, role: Role, site: str, nodal: bool = False
) -> tuple[Reading, str]:
    """Add a lesion at ``date`` and carry it, pending, to every later time point.

    Targets and non-targets are chosen at baseline and new lesions appear only at follow-ups
    (RECIST 1.1 §4.2, §4.3.2), so anything else raises ValueError with the reason.
    """
    baseline = date == reading.baseline_date
    if role is Role.NEW and baseline:
        raise ValueError("a new lesion can only be recorded at a follow-up, not at baseline")
    if role is not Role.NEW and not baseline:
        raise ValueError(
            f"{role.value.replace('_', '-')} lesions are chosen at baseline "
            f"({reading.baseline_date}); at a follow-up add a new lesion"
        )
    if not site.strip():
        raise ValueError("give the lesion's site (organ), e.g. 'liver'")
    lesion_id = next_lesion_id(reading, role)
    lesion = LesionAnnotation(
        lesion_id=lesion_id,
        role=role,
        site=site.strip(),
        nodal=nodal,
        # One UID follows the lesion through every time point (DICOM TID 1500 tracking UID).
        tracking_uid=generate_uid(),
    )
    timepoints = tuple(
        replace(tp, lesions=(*tp.lesions, lesion)) if tp.date >= date else tp
        for tp in reading.timepoints
    )
    return replace(reading, timepoints=timepoints), lesion_id


BASELINE_STATES: Mapping[Role, frozenset[LesionState]] = {
    # The baseline sum is the reference for response: a target is measured (RECIST 1.1 §4.2),
    # a non-target is present or not evaluable (§4.2; the engine refuses absent/progression).
    Role.TARGET: frozenset({LesionState.MEASURED}),
    Role.NON_TARGET: frozenset({LesionState.PRESENT, LesionState.NOT_EVALUABLE}),
    Role.NEW: frozenset(),
}


def allowed_states(role: Role, baseline: bool) -> frozenset[LesionState]:
    """States a reader may record for a ``role`` lesion at baseline or at a follow-up.

    Follow-ups allow every state of the role (RECIST 1.1 §4.3, :data:`STATES_BY_ROLE`); the
    baseline only :data:`BASELINE_STATES` (no *absent*, *merged* … before treatment).
    """
    return BASELINE_STATES[role] if baseline else STATES_BY_ROLE[role]


def update_lesion(reading: Reading, date: dt.date, lesion_id: str, **changes: object) -> Reading:
    """Return ``reading`` with fields of one lesion at one time point replaced.

    A state outside the lesion's role (RECIST 1.1 §4.3: e.g. ``merged`` for a non-target), or a
    follow-up state at baseline (:func:`allowed_states`), raises ValueError; so does a Krenning
    grade outside 0–4.
    """
    tp = reading.at(date)
    old = tp.lesion(lesion_id)
    new = replace(old, **changes)  # type: ignore[arg-type]
    if new.state is not None and new.state not in STATES_BY_ROLE[new.role]:
        raise ValueError(
            f"{lesion_id}: state '{new.state.value}' does not apply to a "
            f"{new.role.value.replace('_', '-')} lesion"
        )
    baseline = date == reading.baseline_date
    allowed = BASELINE_STATES[new.role]
    if "state" in changes and new.state is not None and baseline and new.state not in allowed:
        raise ValueError(
            f"{lesion_id}: '{new.state.value}' is a follow-up state; at baseline a "
            f"{new.role.value.replace('_', '-')} lesion is "
            + " or ".join(sorted(s.value for s in BASELINE_STATES[new.role]))
            + " (RECIST 1.1 §4.2)"
        )
    if new.krenning is not None and new.krenning not in range(5):
        raise ValueError(f"{lesion_id}: Krenning grade must be 0-4, not {new.krenning}")
    lesions = tuple(new if lesion.lesion_id == lesion_id else lesion for lesion in tp.lesions)
    timepoints = tuple(
        replace(t, lesions=lesions) if t.date == date else t for t in reading.timepoints
    )
    return replace(reading, timepoints=timepoints)


def set_line(
    reading: Reading,
    date: dt.date,
    lesion_id: str,
    axis: Axis,
    line: Line | None,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    measured_at: str | None = None,
) -> Reading:
    """Record (or with ``None`` clear) a drawn diameter.

    Drawing a target's counted diameter marks it ``measured``; drawing on any other lesion marks
    a pending one ``present`` (the reader saw it). Clearing the counted diameter of a measured
    target makes it pending again.
    """
    old = reading.at(date).lesion(lesion_id)
    changes: dict[str, object] = {f"{axis.value}_axis": line, "measured_at": measured_at}
    if axis is Axis.LONG and line is not None:
        changes["series_instance_uid"] = series_instance_uid
        changes["sop_instance_uid"] = sop_instance_uid
    counted = Axis.SHORT if old.nodal else Axis.LONG
    if old.role is Role.TARGET:
        if line is not None and axis is counted:
            changes["state"] = LesionState.MEASURED
        elif line is None and axis is counted and old.state is LesionState.MEASURED:
            changes["state"] = None
    elif line is not None and old.state is None:
        changes["state"] = LesionState.PRESENT
    return update_lesion(reading, date, lesion_id, **changes)


def set_location(
    reading: Reading,
    date: dt.date,
    lesion_id: str,
    point_lps: tuple[float, float, float] | None,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    measured_at: str | None = None,
) -> Reading:
    """Record (or with ``None`` clear) where a lesion is on the scan of ``date``.

    The point (LPS mm) and the image it was placed on (series, slice) locate lesions that have
    no line: non-target and new lesions, targets recorded by a state. A pending non-target or
    new lesion that is located is marked ``present`` (the reader saw it there).
    """
    old = reading.at(date).lesion(lesion_id)
    changes: dict[str, object] = {"location_lps": point_lps, "measured_at": measured_at}
    if point_lps is not None and old.long_axis is None:
        changes["series_instance_uid"] = series_instance_uid
        changes["sop_instance_uid"] = sop_instance_uid
    if point_lps is not None and old.state is None and old.role is not Role.TARGET:
        changes["state"] = LesionState.PRESENT
    return update_lesion(reading, date, lesion_id, **changes)


def first_date(reading: Reading, lesion_id: str) -> dt.date:
    """The time point where a lesion was added (baseline for targets and non-targets)."""
    for tp in reading.timepoints:
        if any(lesion.lesion_id == lesion_id for lesion in tp.lesions):
            return tp.date
    raise KeyError(lesion_id)


def delete_lesion(reading: Reading, date: dt.date, lesion_id: str) -> Reading:
    """Remove a lesion from the reading (every time point), from where it was added.

    A lesion is deleted at the time point that added it (baseline for targets and
    non-targets): at a later one it is still there and must be assessed, so ValueError.
    """
    added = first_date(reading, lesion_id)
    if date != added:
        raise ValueError(
            f"{lesion_id} was added on {added}; delete it there (here it must be assessed, "
            "or cleared to pending)"
        )
    timepoints = tuple(
        replace(tp, lesions=tuple(les for les in tp.lesions if les.lesion_id != lesion_id))
        for tp in reading.timepoints
    )
    return replace(reading, timepoints=timepoints)


def clear_lesion(reading: Reading, date: dt.date, lesion_id: str) -> Reading:
    """Make a lesion pending again at ``date``: its state, lines and location are cleared."""
    tp = reading.at(date)
    old = tp.lesion(lesion_id)
    fresh = LesionAnnotation(
        lesion_id=old.lesion_id,
        role=old.role,
        site=old.site,
        nodal=old.nodal,
        tracking_uid=old.tracking_uid,
    )
    lesions = tuple(fresh if les.lesion_id == lesion_id else les for les in tp.lesions)
    return replace_timepoint(reading, replace(tp, lesions=lesions))


def rename_lesion(reading: Reading, lesion_id: str, new_id: str) -> Reading:
    """Give a lesion another ID at every time point.

    The store keys a lesion by its ID and tracking UID, so a renamed lesion is a new lesion to
    it: it gets a new tracking UID, and saving withdraws the old ID's rows (a new revision).
    """
    new_id = new_id.strip()
    if not new_id:
        raise ValueError("a lesion ID cannot be empty")
    if new_id == lesion_id:
        return reading
    used = {les.lesion_id for tp in reading.timepoints for les in tp.lesions}
    if new_id in used:
        raise ValueError(f"{new_id} is already used in this reading")
    first_date(reading, lesion_id)
    uid = generate_uid()
    timepoints = tuple(
        replace(
            tp,
            lesions=tuple(
                replace(les, lesion_id=new_id, tracking_uid=uid)
                if les.lesion_id == lesion_id
                else les
                for les in tp.lesions
            ),
        )
        for tp in reading.timepoints
    )
    return replace(reading, timepoints=timepoints)


def change_role(reading: Reading, lesion_id: str, role: Role) -> tuple[Reading, str]:
    """Make a baseline target a non-target or the reverse; returns the reading and new ID.

    Only targets and non-targets swap (both are chosen at baseline, RECIST 1.1 §4.2); a new
    lesion stays new. The lesion gets the next ID of its new role; states that do not apply to
    the new role are cleared to pending (a measured target becomes a present non-target at
    baseline; a non-target with a long axis becomes a measured target).
    """
    old = reading.at(first_date(reading, lesion_id)).lesion(lesion_id)
    if old.role is role and not old.role_unassigned:
        return reading, lesion_id
    if Role.NEW in (old.role, role):
        raise ValueError(
            "only targets and non-targets change role (both are chosen at baseline); a new "
            "lesion stays new (RECIST 1.1 §4.3.5)"
        )
    # Assigning an imported lesion its placeholder role keeps its ID (it is the same lesion).
    new_id = lesion_id if old.role is role else next_lesion_id(reading, role)
    uid = generate_uid()
    timepoints = []
    for tp in reading.timepoints:
        lesions = []
        for les in tp.lesions:
            if les.lesion_id != lesion_id:
                lesions.append(les)
                continue
            state = les.state
            baseline = tp.date == reading.baseline_date
            if role is Role.NON_TARGET and state is LesionState.MEASURED:
                state = LesionState.PRESENT
            elif role is Role.TARGET and les.counted_line is not None:
                state = LesionState.MEASURED
            if state is not None and state not in allowed_states(role, baseline):
                state = None
            lesions.append(
                replace(
                    les,
                    lesion_id=new_id,
                    role=role,
                    state=state,
                    tracking_uid=uid,
                    role_unassigned=False,
                )
            )
        timepoints.append(replace(tp, lesions=tuple(lesions)))
    return replace(reading, timepoints=tuple(timepoints)), new_id


def unassigned_warning(reading: Reading) -> str | None:
    """The line naming the imported lesions that still need a RECIST role, ``None`` if none.

    Scoring refuses them (:func:`recistry.store.readings.refuse_unassigned_roles`) until the
    reader makes each a target or a non-target at baseline (:func:`change_role`).
    """
    needing = sorted(
        {les.lesion_id for tp in reading.timepoints for les in tp.lesions if les.role_unassigned}
    )
    if not needing:
        return None
    return (
        f"{len(needing)} lesions need a RECIST role: {', '.join(needing)} (make each a target "
        "or a non-target at baseline)"
    )


def previous_date(reading: Reading, date: dt.date) -> dt.date | None:
    """The scan date just before ``date`` (the prior), ``None`` at baseline."""
    earlier = [tp.date for tp in reading.timepoints if tp.date < date]
    return earlier[-1] if earlier else None


def next_pending(tp: TimepointReading, current: str | None, step: int = 1) -> str | None:
    """The next (``step`` = 1) or previous (−1) pending lesion after ``current``, wrapping."""
    ids = [les.lesion_id for les in tp.lesions]
    pending = {les.lesion_id for les in tp.lesions if les.pending}
    if not pending:
        return None
    start = ids.index(current) if current in ids else (-1 if step > 0 else 0)
    for k in range(1, len(ids) + 1):
        candidate = ids[(start + step * k) % len(ids)]
        if candidate in pending:
            return candidate
    return None


def counted_value_mm(lesion: LesionAnnotation) -> Decimal | None:
    """The diameter RECIST counts for a target at one scan (mm), as the engine scores it:
    the drawn diameter when measured, 5 mm when too small, 0 when absent or merged."""
    if lesion.state is LesionState.MEASURED and lesion.counted_line is not None:
        return lesion.counted_line.diameter_mm
    if lesion.state is LesionState.TOO_SMALL:
        return Decimal("5.0")
    if lesion.state in (LesionState.ABSENT, LesionState.MERGED):
        return Decimal("0.0")
    return None


TOOL = "recistry-napari"
LOCATION_KEY = "location_mm"
"""``Measurement.extra`` key of a lesion's located point: ``"x y z"`` LPS mm."""
SEGMENTATION_KEY, SEGMENT_NUMBER_KEY = "segmentation_uid", "segment_number"
"""``Measurement.extra`` keys of a lesion's mask, as :mod:`recistry.sr` reads and writes them
(not imported from there: that would load highdicom with the plugin)."""


def to_measurements(reading: Reading) -> tuple[Measurement, ...]:
    """Rows for the RECIST engine and the store: one per assessed lesion per time point.

    Pending lesions are left out, so the engine sees them as not assessed. Diameters are
    reported only for ``measured`` lesions. The end points travel as the store's ``extra`` keys
    (``long_axis_start_mm`` … as ``"x y z"`` LPS mm, with ``frame_of_reference_uid``), with the
    Krenning grade, SUVs, UIDs and reader (see :mod:`recistry.store.readings`).
    """
    rows = []
    for tp in reading.timepoints:
        thickness = (
            None
            if tp.slice_thickness_mm is None
            else Decimal(repr(tp.slice_thickness_mm)).quantize(Decimal("0.01"))
        )
        for lesion in tp.lesions:
            if lesion.state is None:
                continue
            measured = lesion.state is LesionState.MEASURED
            extra = {
                "reader": reading.reader,
                "tool": TOOL,
                "measured_at": lesion.measured_at or "",
                "krenning": "" if lesion.krenning is None else str(lesion.krenning),
                "suv_max": _text(lesion.suv_max),
                "suv_peak": _text(lesion.suv_peak),
                "tracking_uid": lesion.tracking_uid or "",
                "study_uid": tp.study_instance_uid or "",
                "series_uid": lesion.series_instance_uid or "",
                "sop_instance_uid": lesion.sop_instance_uid or "",
                "liver_suv_mean": _text(tp.liver_suv_mean),
                "spleen_suv_mean": _text(tp.spleen_suv_mean),
                "liver_center_mm": _point_text(tp.liver_center_lps),
                "spleen_center_mm": _point_text(tp.spleen_center_lps),
                SEGMENTATION_KEY: lesion.segmentation_uid or "",
                SEGMENT_NUMBER_KEY: ""
                if lesion.segment_number is None
                else str(lesion.segment_number),
            }
            for axis, line in ((Axis.LONG, lesion.long_axis), (Axis.SHORT, lesion.short_axis)):
                if line is not None:
                    extra[f"{axis.value}_axis_start_mm"] = format_point_mm(line.start_lps)
                    extra[f"{axis.value}_axis_end_mm"] = format_point_mm(line.end_lps)
                    extra["frame_of_reference_uid"] = tp.frame_of_reference_uid or ""
            if lesion.location_lps is not None:
                # The SR writes it as an SCOORD3D POINT on the image named by the UIDs.
                extra[LOCATION_KEY] = format_point_mm(lesion.location_lps)
                extra["frame_of_reference_uid"] = tp.frame_of_reference_uid or ""
            if lesion.role_unassigned:
                extra[ROLE_UNASSIGNED_KEY] = "1"  # saved as imported until a role is assigned
            rows.append(
                Measurement(
                    patient_id=reading.patient_id,
                    date=tp.date,
                    lesion_id=lesion.lesion_id,
                    role=lesion.role,
                    site=lesion.site,
                    nodal=lesion.nodal,
                    state=lesion.state,
                    long_axis_mm=(
                        lesion.long_axis.diameter_mm if measured and lesion.long_axis else None
                    ),
                    short_axis_mm=(
                        lesion.short_axis.diameter_mm if measured and lesion.short_axis else None
                    ),
                    slice_thickness_mm=thickness,
                    extra={k: v for k, v in extra.items() if v},
                )
            )
    return tuple(rows)


def _text(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _point_text(point: tuple[float, float, float] | None) -> str:
    return "" if point is None else format_point_mm(point)


def _line_from(extra: Mapping[str, str], axis: Axis) -> Line | None:
    start = extra.get(f"{axis.value}_axis_start_mm", "").strip()
    end = extra.get(f"{axis.value}_axis_end_mm", "").strip()
    if not (start and end):
        return None
    return Line(parse_point_mm(start), parse_point_mm(end))


def _point_from(text: str | None) -> tuple[float, float, float] | None:
    return parse_point_mm(text) if text and text.strip() else None


def _float(text: str | None) -> float | None:
    return float(text) if text and text.strip() else None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip() else None


def _display_order(m: Measurement) -> tuple[int, int, str]:
    """Targets, then non-targets, then new lesions, each by number: T2 before T10."""
    digits = "".join(ch for ch in m.lesion_id if ch.isdigit())
    return (list(ID_PREFIX).index(m.role), int(digits) if digits else 0, m.lesion_id)


def _same(a: Measurement, b: Measurement) -> bool:
    return (a.date, a.lesion_id) == (b.date, b.lesion_id)


def from_measurements(reading: Reading, rows: Sequence[Measurement]) -> Reading:
    """Restore saved rows into ``reading`` (whose time points come from the study).

    Rows of dates the study does not have are ignored (logged); lesions added at one date are
    carried, pending, to the later dates where no row records them.
    """
    by_date: dict[dt.date, dict[str, Measurement]] = {}
    for row in rows:
        if row.lesion_id in by_date.get(row.date, {}):
            # The annotator draws one line per axis of a lesion: it cannot show (or save back)
            # the fragments of a split target, so it refuses rather than lose one.
            raise InputError(
                f"lesion {row.lesion_id} of {row.patient_id} on {row.date} is a split lesion "
                "(fragments "
                + ", ".join(m.extra.get(FRAGMENT_KEY, "") for m in rows if _same(m, row))
                + "); the annotator cannot edit split lesions yet: edit this reading with "
                "'recistry import' of a table (docs/tables.md)",
                path=row.source.path,
            )
        by_date.setdefault(row.date, {})[row.lesion_id] = row
    dates = {tp.date for tp in reading.timepoints}
    for date in sorted(set(by_date) - dates):
        logger.warning("saved rows of %s ignored: the study has no scan on that date", date)
    known: dict[str, LesionAnnotation] = {}
    timepoints = []
    for tp in reading.timepoints:
        lesions = []
        saved = by_date.get(tp.date, {})
        for first in sorted(saved.values(), key=_display_order):
            if first.lesion_id not in known:
                known[first.lesion_id] = LesionAnnotation(
                    lesion_id=first.lesion_id,
                    role=first.role,
                    site=first.site,
                    nodal=first.nodal,
                    tracking_uid=first.extra.get("tracking_uid"),
                    role_unassigned=first.extra.get(ROLE_UNASSIGNED_KEY) == "1",
                )
        for lesion_id, identity in known.items():
            m = saved.get(lesion_id)
            if m is None:
                lesions.append(identity)
                continue
            krenning = m.extra.get("krenning", "").strip()
            lesions.append(
                replace(
                    identity,
                    state=m.state,
                    long_axis=_line_from(m.extra, Axis.LONG),
                    short_axis=_line_from(m.extra, Axis.SHORT),
                    krenning=int(krenning) if krenning else None,
                    suv_max=_float(m.extra.get("suv_max")),
                    suv_peak=_float(m.extra.get("suv_peak")),
                    series_instance_uid=m.extra.get("series_uid"),
                    sop_instance_uid=m.extra.get("sop_instance_uid"),
                    measured_at=m.extra.get("measured_at"),
                    location_lps=_point_from(m.extra.get(LOCATION_KEY)),
                    segmentation_uid=m.extra.get(SEGMENTATION_KEY),
                    segment_number=_int(m.extra.get(SEGMENT_NUMBER_KEY)),
                )
            )
        references: dict[str, object] = {}
        # The scan's geometry as saved, so a re-save of a scan not shown again keeps it.
        for key, field_name in (
            ("frame_of_reference_uid", "frame_of_reference_uid"),
            ("study_uid", "study_instance_uid"),
        ):
            found_uid = next((m.extra[key] for m in saved.values() if m.extra.get(key)), None)
            if found_uid and getattr(tp, field_name) is None:
                references[field_name] = found_uid
        thickness = next(
            (m.slice_thickness_mm for m in saved.values() if m.slice_thickness_mm is not None), None
        )
        if thickness is not None and tp.slice_thickness_mm is None:
            references["slice_thickness_mm"] = float(thickness)
        for organ in ("liver", "spleen"):
            found = [m.extra for m in saved.values() if m.extra.get(f"{organ}_center_mm")]
            if found:
                references[f"{organ}_center_lps"] = parse_point_mm(found[0][f"{organ}_center_mm"])
                references[f"{organ}_suv_mean"] = _float(found[0].get(f"{organ}_suv_mean"))
        timepoints.append(replace(tp, lesions=tuple(lesions), **references))  # type: ignore[arg-type]
    return replace(reading, timepoints=tuple(timepoints))


def geometry_checks(tp: TimepointReading) -> tuple[str, ...]:
    """Checks of drawn diameters the engine cannot see (it gets only the lengths).

    A node counts its short axis, measured perpendicular to the long axis in the same plane
    (RECIST 1.1 §3.1.1; Schwartz et al., EJC 2009;45:261): flag a node with only a long axis,
    a "short" axis longer than the long one, and a short axis more than
    :data:`PERPENDICULAR_TOLERANCE_DEG` from perpendicular.
    """
    found = []
    for lesion in tp.lesions:
        if not lesion.nodal or lesion.role is not Role.TARGET:
            continue
        long_axis, short_axis = lesion.long_axis, lesion.short_axis
        if long_axis is not None and short_axis is None:
            found.append(
                f"node {lesion.lesion_id} is measured on its long axis only "
                f"({long_axis.diameter_mm} mm): a node counts its short axis; draw it "
                "perpendicular to the long axis (RECIST 1.1 §3.1.1)"
            )
        elif long_axis is not None and short_axis is not None:
            if short_axis.length_mm > long_axis.length_mm:
                found.append(
                    f"node {lesion.lesion_id}: the short axis ({short_axis.diameter_mm} mm) is "
                    f"longer than the long axis ({long_axis.diameter_mm} mm); was the node "
                    "measured on its long axis? (RECIST 1.1 §3.1.1)"
                )
            angle = angle_deg(long_axis, short_axis)
            if angle < 90.0 - PERPENDICULAR_TOLERANCE_DEG:
                found.append(
                    f"node {lesion.lesion_id}: short axis is at {angle:.0f}° to the long axis; "
                    "it must be perpendicular to it (RECIST 1.1 §3.1.1)"
                )
    return tuple(found)
