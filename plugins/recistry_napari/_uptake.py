"""PET uptake of drawn lesions and reference spheres, and the suggested Krenning grade. No Qt.

The measurement maths is the core's (:mod:`recistry.imaging.metrics`, :mod:`.krenning`); this
module only turns the reader's drawing into the volume of interest it measures.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from recistry.errors import InputError
from recistry.imaging.krenning import KrenningSuggestion, suggest_grade
from recistry.imaging.metrics import VoiUptake, sphere_voxels, voi_uptake
from recistry.imaging.volume import Volume
from recistry_napari._reading import (
    LesionAnnotation,
    Line,
    Reading,
    TimepointReading,
    update_lesion,
)


def lesion_voi(pet: Volume, long_axis: Line, short_axis: Line | None) -> npt.NDArray[np.bool_]:
    """The PET voxels measured for a lesion drawn on CT.

    A sphere centred on the long axis' midpoint, as wide as the short axis when drawn, else half
    the long axis: it stays inside an ellipse with those axes, so a lesion less avid than the
    organ around it (a Krenning 1–2 liver lesion) is not measured on the organ. The voxel
    holding the centre is always included, for lesions smaller than a PET voxel.
    """
    centre = (np.asarray(long_axis.start_lps) + np.asarray(long_axis.end_lps)) / 2.0
    diameter = short_axis.length_mm if short_axis is not None else long_axis.length_mm / 2.0
    voi = np.zeros(pet.array.shape, dtype=bool)
    voi[tuple(sphere_voxels(pet, centre, diameter).T)] = True
    shape = np.asarray(pet.array.shape)
    nearest = np.rint(pet.patient_to_index(centre)[0]).astype(int)
    if np.all((nearest >= 0) & (nearest < shape)):
        voi[tuple(nearest)] = True
    return voi


def lesion_uptake(pet: Volume, lesion: LesionAnnotation) -> VoiUptake | None:
    """SUVmax, SUVmean and SUVpeak (PERCIST 1 cm³) of a lesion; ``None`` without a long axis
    or when the lesion lies outside the PET."""
    if lesion.long_axis is None:
        return None
    voi = lesion_voi(pet, lesion.long_axis, lesion.short_axis)
    if not voi.any():
        return None
    return voi_uptake(pet, voi)


def with_uptake(
    reading: Reading, date: dt.date, measured: LesionAnnotation, uptake: VoiUptake | None
) -> Reading:
    """``reading`` with the SUVmax and SUVpeak (g/ml, to 0.01) measured for ``measured``'s axes.

    Recorded only while the lesion still has those axes at ``date``: the uptake is measured in
    the background after a line is drawn, and a line drawn since gets its own measurement.
    ``uptake`` ``None`` (the lesion lies outside the PET) clears them. Otherwise, and when
    nothing changes, ``reading`` itself is returned.
    """
    try:
        lesion = reading.at(date).lesion(measured.lesion_id)
    except KeyError:
        return reading
    if (lesion.long_axis, lesion.short_axis) != (measured.long_axis, measured.short_axis):
        return reading
    suv_max = None if uptake is None else round(uptake.suv_max, 2)
    suv_peak = None if uptake is None else round(uptake.suv_peak, 2)
    if (lesion.suv_max, lesion.suv_peak) == (suv_max, suv_peak):
        return reading
    return update_lesion(reading, date, lesion.lesion_id, suv_max=suv_max, suv_peak=suv_peak)


def suggestion(tp: TimepointReading, lesion: LesionAnnotation) -> KrenningSuggestion | str | None:
    """The rule's Krenning grade for a lesion, the reason there is none, or ``None`` (no PET).

    Uses the lesion's SUVmax and the liver and spleen reference SUVmean of the same scan.
    """
    if lesion.suv_max is None:
        return None
    if tp.liver_suv_mean is None or tp.spleen_suv_mean is None:
        return "place the liver and spleen reference spheres"
    try:
        return suggest_grade(lesion.suv_max, tp.liver_suv_mean, tp.spleen_suv_mean)
    except InputError as exc:
        return exc.message
