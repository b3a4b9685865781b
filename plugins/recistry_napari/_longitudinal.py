"""What a follow-up shows of the prior scan: its lines and located lesions, and where each
lesion still pending now was then. Pure functions of the reading, no napari, no Qt.

Positions are patient LPS mm. A pending lesion's marker on the current scan is its prior
position carried over in patient mm: both scans share the patient frame when the patient lies
the same way on the table, which the reader checks by eye (the marker is a guide, not a
measurement).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from recistry.recist.model import Role
from recistry_napari._reading import Axis, LesionAnnotation, Reading, TimepointReading

__all__ = ["Mark", "pending_markers", "prior_marks"]

LOCATION_RADIUS_MM = 6.0
"""Half-width of the square ring drawn around a located lesion on the prior scan."""


@dataclass(frozen=True, slots=True)
class Mark:
    """One thing to draw: a line (two points) or a located point (one point), LPS mm."""

    lesion_id: str
    role: Role
    points_lps: tuple[tuple[float, float, float], ...]
    label: str


def axis_labels(lesion: LesionAnnotation) -> dict[Axis, str]:
    """The label of each drawn axis of ``lesion``: its ID and length. A lesion with both axes
    carries one label on the long axis, long × short as radiologists write it
    (``N1 14.5 × 12.1 mm``): two labels at nearly the same corner would cover each other."""
    lines = {
        axis: line
        for axis, line in ((Axis.LONG, lesion.long_axis), (Axis.SHORT, lesion.short_axis))
        if line is not None
    }
    lid = lesion.lesion_id
    if len(lines) == 2:
        long, short = lines[Axis.LONG].diameter_mm, lines[Axis.SHORT].diameter_mm
        return {Axis.LONG: f"{lid} {long} × {short} mm", Axis.SHORT: ""}
    return {
        a: f"{lid if a is Axis.LONG else lid + ' SA'} {line.diameter_mm} mm"
        for a, line in lines.items()
    }


def prior_marks(tp: TimepointReading) -> list[Mark]:
    """The diameters (labelled with ID and length) and located points of a time point."""
    marks = []
    for lesion in tp.lesions:
        labels = axis_labels(lesion)
        for axis, line in ((Axis.LONG, lesion.long_axis), (Axis.SHORT, lesion.short_axis)):
            if line is not None:
                marks.append(
                    Mark(
                        lesion.lesion_id, lesion.role, (line.start_lps, line.end_lps), labels[axis]
                    )
                )
        if not labels and lesion.location_lps is not None:
            state = "" if lesion.state is None else f" {lesion.state.value.replace('_', ' ')}"
            marks.append(
                Mark(
                    lesion.lesion_id, lesion.role, (lesion.location_lps,), lesion.lesion_id + state
                )
            )
    return marks


def pending_with_prior(
    reading: Reading, date: dt.date
) -> Iterator[tuple[LesionAnnotation, LesionAnnotation, tuple[float, float, float]]]:
    """Each lesion pending at ``date`` with its latest earlier assessment and where it was
    then (LPS mm); lesions never located or measured before are left out."""
    for lesion in reading.at(date).lesions:
        if not lesion.pending:
            continue
        prior = reading.prior(date, lesion.lesion_id)
        where = None if prior is None else prior[1].position_lps
        if prior is not None and where is not None:
            yield lesion, prior[1], where


def pending_markers(reading: Reading, date: dt.date) -> list[Mark]:
    """For each lesion pending at ``date``: a point where it was at its latest assessment."""
    return [
        Mark(lesion.lesion_id, lesion.role, (where,), f"{lesion.lesion_id}?")
        for lesion, _before, where in pending_with_prior(reading, date)
    ]
