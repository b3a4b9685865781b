"""Measurements proposed by the computer, and what accepting one records. No napari, no Qt.

A :class:`Proposal` is a lesion measurement the reader has not accepted yet: a one-click
segmentation (:func:`propose_at`), or a prior lesion followed onto a follow-up scan
(:func:`follow_up_proposals`). It is never part of the :class:`~recistry_napari._reading.Reading`
(so it is never saved or scored) until :func:`accept` records it like a drawn line: the reader,
the time, the image (series and SOP instance) and, for a segmented lesion, its mask.

Methods are the core's: :func:`recistry.imaging.segment.segment_lesion` (CT region growing
bounded by PET), :func:`recistry.imaging.register.register_ct` and
:func:`recistry.imaging.register.track_lesions`; see docs/imaging.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from recistry.errors import InputError
from recistry.imaging.metrics import Segment
from recistry.imaging.register import CtRegistration
from recistry.imaging.segment import LesionMeasurement
from recistry.imaging.volume import Volume
from recistry.recist.model import Role
from recistry_napari import _reading
from recistry_napari._longitudinal import pending_with_prior
from recistry_napari._reading import Axis, Line, Reading
from recistry_napari._study import ScanImages

__all__ = [
    "Proposal",
    "ProposalSource",
    "RegistrationCache",
    "accept",
    "follow_up_proposals",
    "lesions_to_follow",
    "line_of",
    "propose_at",
]

logger = logging.getLogger(__name__)

Point = tuple[float, float, float]


class ProposalSource(StrEnum):
    """Where a proposal came from."""

    CLICK = "one-click segmentation"
    FOLLOW_UP = "followed from the prior scan"
    HOT_SPOT = "PET hot spot"


@dataclass(frozen=True, slots=True)
class Proposal:
    """A measurement proposed for one lesion on one scan, not yet accepted.

    Attributes
    ----------
    key
        Unique within a session (``"P3"``): how the layers and the list name it.
    lesion_id
        The lesion it is proposed for; ``None`` for a lesion still to be created on accepting
        (a target at baseline, a new lesion at a follow-up).
    role, nodal
        Of that lesion (for a lesion to be created: what it will be).
    long_axis, short_axis
        The proposed diameters (LPS mm); the short axis only for nodes. ``None`` for a location
        proposal (a non-target followed onto this scan, or a lesion that was not found there).
    location_lps
        Where the lesion is proposed to be (LPS mm): the mask's centre, else the mapped point.
    measurement
        The segmentation behind it (mask, volume, SUV), ``None`` when none succeeded.
    failure
        Why no measurement could be made at ``location_lps`` (follow-ups), else ``None``.
    """

    key: str
    date: dt.date
    lesion_id: str | None
    role: Role
    nodal: bool
    source: ProposalSource
    location_lps: Point
    long_axis: Line | None = None
    short_axis: Line | None = None
    measurement: LesionMeasurement | None = None
    failure: str | None = None
    prior_lps: Point | None = None

    @property
    def name(self) -> str:
        """``T1`` or ``new lesion``: what the proposal is for, in the list and on the canvas."""
        return self.lesion_id or ("new target" if self.role is Role.TARGET else "new lesion")

    @property
    def slice_index(self) -> int | None:
        """CT slice of the long axis (index ``k``), when there is one."""
        return None if self.measurement is None else self.measurement.long_axis.slice_index

    def describe(self) -> str:
        """One line for the dock's list."""
        if self.long_axis is None:
            what = "location" if self.failure is None else f"location only ({self.failure})"
            return f"{self.name}: {what} — {self.source.value}"
        counted = self.short_axis if self.nodal and self.short_axis else self.long_axis
        axis = "short axis" if counted is self.short_axis else "long axis"
        extra = ""
        if self.measurement is not None:
            extra = f", {self.measurement.volume_ml:.1f} ml"
            if self.measurement.suv_max is not None:
                extra += f", SUVmax {self.measurement.suv_max:.1f}"
        return f"{self.name}: {axis} {counted.diameter_mm} mm{extra} — {self.source.value}"


def line_of(segment: Segment) -> Line:
    """A core :class:`~recistry.imaging.metrics.Segment` as the reading's :class:`Line`."""
    return Line(segment.start_lps_mm, segment.end_lps_mm)


def _from_measurement(
    key: str,
    date: dt.date,
    measurement: LesionMeasurement,
    *,
    lesion_id: str | None,
    role: Role,
    nodal: bool,
    source: ProposalSource,
    prior_lps: Point | None = None,
) -> Proposal:
    return Proposal(
        key=key,
        date=date,
        lesion_id=lesion_id,
        role=role,
        nodal=nodal,
        source=source,
        location_lps=measurement.centroid_lps_mm,
        long_axis=line_of(measurement.long_axis),
        short_axis=line_of(measurement.short_axis) if nodal else None,
        measurement=measurement,
        prior_lps=prior_lps,
    )


def propose_at(
    images: ScanImages,
    point_lps: Sequence[float],
    *,
    key: str,
    date: dt.date,
    lesion_id: str | None,
    role: Role,
    nodal: bool,
    source: ProposalSource = ProposalSource.CLICK,
) -> Proposal:
    """Segment the lesion under a point of the CT (PET-bounded when the scan has PET) and
    propose its RECIST axes.

    Raises
    ------
    recistry.errors.InputError
        The point is outside the CT, in air, or no lesion boundary was found (the message says
        which, for the dock).
    """
    from recistry.imaging.segment import segment_lesion

    measurement = segment_lesion(images.ct, point_lps, pet=images.pet)
    return _from_measurement(
        key, date, measurement, lesion_id=lesion_id, role=role, nodal=nodal, source=source
    )


@dataclass(frozen=True, slots=True)
class FollowedLesion:
    """A lesion pending on a follow-up, and where it was on the prior scan (LPS mm)."""

    lesion_id: str
    role: Role
    nodal: bool
    prior_lps: Point
    measure: bool
    """Whether its diameters are proposed (targets) or only its location (the others)."""


def lesions_to_follow(reading: Reading, date: dt.date) -> list[FollowedLesion]:
    """The lesions pending at ``date`` that were located or measured on an earlier scan."""
    return [
        FollowedLesion(
            lesion.lesion_id,
            lesion.role,
            lesion.nodal,
            where,
            measure=lesion.role is Role.TARGET and before.long_axis is not None,
        )
        for lesion, before, where in pending_with_prior(reading, date)
    ]


class RegistrationCache:
    """Prior-to-current CT registrations, one per pair of series (they take seconds)."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], CtRegistration] = {}

    def get(self, prior: Volume, current: Volume) -> CtRegistration:
        """The registration of ``prior`` to ``current``, computed once per series pair."""
        from recistry.imaging.register import register_ct

        pair = (prior.series_instance_uid or str(id(prior)), current.series_instance_uid or "")
        if pair not in self._done:
            self._done[pair] = register_ct(prior, current)
        return self._done[pair]

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return pair in self._done

    def __len__(self) -> int:
        return len(self._done)


def follow_up_proposals(
    followed: Sequence[FollowedLesion],
    prior: ScanImages,
    current: ScanImages,
    date: dt.date,
    cache: RegistrationCache,
    *,
    keys: Callable[[], str],
    progress: Callable[[str], None] = lambda _: None,
) -> list[Proposal]:
    """Register the prior CT to the current one (cached), map each followed lesion onto the
    current scan, re-segment it there and propose its measurement (targets) or location.

    Runs in a worker thread: it touches no layer and no widget; ``progress`` gets short texts.
    """
    from recistry.imaging.register import track_lesions

    progress("registering the prior CT to this one …")
    registration = cache.get(prior.ct, current.ct)
    out = []
    for n, lesion in enumerate(followed, start=1):
        progress(f"following {lesion.lesion_id} ({n}/{len(followed)}) …")
        (tracked,) = track_lesions(
            registration, prior.ct, current.ct, [lesion.prior_lps], current_pet=current.pet
        )
        if tracked.measurement is not None and lesion.measure:
            out.append(
                _from_measurement(
                    keys(),
                    date,
                    tracked.measurement,
                    lesion_id=lesion.lesion_id,
                    role=lesion.role,
                    nodal=lesion.nodal,
                    source=ProposalSource.FOLLOW_UP,
                    prior_lps=lesion.prior_lps,
                )
            )
        else:
            out.append(
                Proposal(
                    key=keys(),
                    date=date,
                    lesion_id=lesion.lesion_id,
                    role=lesion.role,
                    nodal=lesion.nodal,
                    source=ProposalSource.FOLLOW_UP,
                    location_lps=tracked.proposed_lps_mm,
                    measurement=tracked.measurement,
                    failure=tracked.failure,
                    prior_lps=lesion.prior_lps,
                )
            )
    return out


def accept(
    reading: Reading,
    proposal: Proposal,
    *,
    long_axis: Line | None,
    short_axis: Line | None,
    series_instance_uid: str | None,
    sop_instance_uid: str | None,
    measured_at: str,
    site: str = "",
) -> tuple[Reading, str]:
    """Record a proposal in the reading as the reader's own measurement; returns the reading and
    the lesion's ID.

    ``long_axis`` / ``short_axis`` are the lines as the reader left them (adjusted or not). A
    proposal for a lesion still to be created adds it first (a target at baseline, a new lesion
    at a follow-up, at ``site``). The segmentation's SUVmax and SUVpeak (on the whole mask)
    are recorded with a measured lesion; a location proposal locates the lesion.

    Raises
    ------
    ValueError
        The lesion cannot be added (no site, or a role the scan does not allow).
    """
    date = proposal.date
    lesion_id = proposal.lesion_id
    if lesion_id is None:
        reading, lesion_id = _reading.add_lesion(reading, date, proposal.role, site, proposal.nodal)
    if long_axis is None:
        reading = _reading.set_location(
            reading,
            date,
            lesion_id,
            proposal.location_lps,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            measured_at=measured_at,
        )
        return reading, lesion_id
    for axis, line in ((Axis.LONG, long_axis), (Axis.SHORT, short_axis)):
        if line is None:
            continue
        reading = _reading.set_line(
            reading,
            date,
            lesion_id,
            axis,
            line,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            measured_at=measured_at,
        )
    if proposal.measurement is not None and proposal.measurement.uptake is not None:
        reading = _reading.update_lesion(
            reading,
            date,
            lesion_id,
            suv_max=round(proposal.measurement.uptake.suv_max, 2),
            suv_peak=round(proposal.measurement.uptake.suv_peak, 2),
        )
    return reading, lesion_id


def refuse_message(exc: InputError) -> str:
    """The dock's one line for a click that could not be segmented."""
    return f"no lesion segmented there: {exc.message}"
