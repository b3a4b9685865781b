"""SSTR-PET hot spots "not yet annotated", as the dock lists them. No napari, no Qt.

The search is the core's (:func:`recistry.imaging.hotspots.find_hotspots`: regions at or above
1.5 × liver SUVmean + 2 SD, PERCIST 1.0, minus organ priors and the regions the reader marked
physiological), so the burden shown (SSTR-expressing tumour volume, total lesion uptake) is what
``recistry hotspots --liver X,Y,Z`` prints for the same liver sphere. The liver reference is the
reader's liver sphere when it is placed on this scan, else the CT-based heuristic
(:func:`recistry.imaging.hotspots.liver_reference_from_ct`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from recistry.imaging.hotspots import (
    HotSpot,
    HotSpotSearch,
    PhysiologyRegion,
    find_hotspots,
    liver_reference_from_ct,
    not_yet_annotated,
)
from recistry.imaging.metrics import LIVER_REFERENCE_DIAMETER_MM, sphere_uptake
from recistry_napari._reading import Reading, TimepointReading
from recistry_napari._study import ScanImages

__all__ = [
    "PHYSIOLOGY_MARGIN_MM",
    "HotSpotReview",
    "annotated_points",
    "describe_burden",
    "describe_spot",
    "mark_physiological",
    "search_hotspots",
]

PHYSIOLOGY_MARGIN_MM = 5.0
"""A region marked physiological reaches this far beyond the hot spot's half extent."""


@dataclass(frozen=True, slots=True)
class HotSpotReview:
    """The hot-spot search of one scan and how its liver reference was found."""

    date: dt.date
    search: HotSpotSearch
    liver_source: str
    """``"liver sphere"`` (the reader's) or ``"liver found on CT"`` (heuristic)."""


def search_hotspots(
    images: ScanImages, tp: TimepointReading, physiology: Sequence[PhysiologyRegion] = ()
) -> HotSpotReview:
    """Hot spots of a scan's PET (runs in a worker thread; no layer, no widget).

    Raises
    ------
    recistry.errors.InputError
        No PET, or no liver reference (no sphere placed and none found on the CT).
    """
    from recistry.errors import InputError

    if images.pet is None:
        raise InputError("this scan has no PET")
    if tp.liver_center_lps is not None:
        liver = sphere_uptake(images.pet, tp.liver_center_lps, LIVER_REFERENCE_DIAMETER_MM)
        source = "liver sphere"
    else:
        liver = liver_reference_from_ct(images.ct, images.pet)
        source = "liver found on CT"
    return HotSpotReview(tp.date, find_hotspots(images.pet, liver, physiology=physiology), source)


def annotated_points(reading: Reading, date: dt.date) -> list[tuple[float, float, float]]:
    """Where the lesions of ``date`` are (LPS mm): their line or point on this scan, else, while
    pending, where they were at their latest assessment."""
    points = []
    for lesion in reading.at(date).lesions:
        position = lesion.position_lps
        if position is None:
            prior = reading.prior(date, lesion.lesion_id)
            position = None if prior is None else prior[1].position_lps
        if position is not None:
            points.append(position)
    return points


def unannotated(
    review: HotSpotReview,
    reading: Reading,
    proposed_lps: Sequence[tuple[float, float, float]] = (),
) -> tuple[HotSpot, ...]:
    """The candidates no lesion of the reading explains on that scan, nor a lesion proposed
    there (``proposed_lps``: a prior lesion followed onto this scan is in the proposals list,
    so the hot-spot list keeps to what may be new)."""
    points = [*annotated_points(reading, review.date), *proposed_lps]
    return not_yet_annotated(review.search, points)


def mark_physiological(spot: HotSpot, name: str = "physiological") -> PhysiologyRegion:
    """A region of physiological uptake covering a hot spot (its hottest voxel at the centre)."""
    return PhysiologyRegion(name, spot.max_lps_mm, max(spot.extent_mm) / 2.0 + PHYSIOLOGY_MARGIN_MM)


def describe_spot(spot: HotSpot) -> str:
    """One line of the dock's list."""
    x, y, z = spot.max_lps_mm
    return (
        f"SUVmax {spot.suv_max:.1f}, {spot.volume_ml:.1f} ml at z {z:.0f} mm (x {x:.0f}, y {y:.0f})"
    )


def describe_burden(review: HotSpotReview) -> str:
    """The scan's exploratory burden line, with the threshold it depends on."""
    s = review.search
    return (
        f"SSTR tumour volume {s.sstr_tumour_volume_ml:.1f} ml, total lesion uptake "
        f"{s.total_lesion_uptake:.1f} SUV·ml (exploratory)\n"
        f"threshold {s.threshold_suv:.2f} SUV ({review.liver_source}); "
        f"{len(s.candidates)} candidates, {len(s.physiological)} physiological"
    )
