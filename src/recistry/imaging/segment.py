"""One-click lesion segmentation and its RECIST measurement, in patient millimetres (LPS).

:func:`segment_lesion` takes a point inside a lesion (LPS mm) on a CT volume, and optionally the
PET of the same frame of reference, and returns a :class:`LesionMeasurement`: a 3-D mask, the
RECIST 1.1 long axis (longest in-plane diameter, on the axial slice where it is largest) and the
perpendicular short axis, the volume, and with PET SUVmax, SUVpeak and SUVmean.

Method
------
1. **CT region growing** (a confidence-connected region in the manner of ITK's
   ``ConfidenceConnectedImageFilter``) on the in-plane 3 × 3 median of the CT, which takes the
   noise down (about 2.5-fold for Gaussian noise) without moving straight edges: the lesion's value
   is the median of the 5 × 5 in-plane neighbourhood of the seed and its noise a robust SD (1.4826
   × MAD, at least ``min_sd_hu``); voxels connected to the seed (6-connectivity) within
   ``multiplier`` SDs form the region, whose mean and SD are then re-estimated and the region
   regrown ``iterations`` times (SimpleITK ``ConnectedThreshold`` does each growth). The boundary
   is then decided on the original values: each in-plane neighbour of the region joins it when its
   value is nearer the region's median than the outside neighbours' median (the median clips
   pointed ends by up to a pixel). Internal holes are filled. The growth runs in a box around the
   seed that is enlarged (``search_radii_mm``) while the region touches its faces; a region still
   touching the largest box has no boundary near the click and is refused
   (:class:`~recistry.errors.InputError`).
2. **PET bounding** (when a PET is given): the lesion's SUVmax is the hottest PET voxel under the
   CT region; the PET region is the voxels connected to it at or above ``pet_fraction`` × SUVmax
   (45 %: the isocontour that best matched CT volumes on SSTR-PET in Siegmund et al., EJNMMI
   Reports 2025, doi:10.1186/s41824-025-00273-5; the EANM FDG guideline v2.0, Boellaard et al.
   EJNMMI 2015;42:328, uses 41 %). When the seed lies in that PET region, the CT region is cut to
   it, dilated by one PET voxel, so a CT region that leaks into iso-dense tissue stops at the
   lesion's uptake. When the CT region finds no boundary but the seed lies in an avid PET region
   (SUVmax ≥ ``pet_avid_ratio`` × the median SUV of the search box), the PET region is the mask.
3. **Measurement**: :func:`recistry.imaging.metrics.lesion_axes` on the mask (edge-to-edge
   diameters on the convex hull of each slice); volume = voxels × voxel volume; uptake by
   :func:`recistry.imaging.metrics.voi_uptake` on the PET's own grid (PERCIST 1 cm³ SUVpeak).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from recistry.errors import InputError
from recistry.imaging.metrics import (
    LesionAxes,
    Segment,
    VoiUptake,
    lesion_axes,
    mask_on_grid,
    voi_uptake,
)
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

__all__ = [
    "AIR_HU",
    "LesionMeasurement",
    "SegmentationMethod",
    "SegmentationParameters",
    "crop",
    "segment_lesion",
]

AIR_HU = -900.0
"""A seed whose neighbourhood median is below this (HU) is in air: outside the body or in lung."""

Point = tuple[float, float, float]


class SegmentationMethod(StrEnum):
    """How the mask of a :class:`LesionMeasurement` was made."""

    CT = "ct-region-growing"
    CT_BOUNDED_BY_PET = "ct-region-growing-bounded-by-pet"
    PET = "pet-relative-threshold"


@dataclass(frozen=True, slots=True)
class SegmentationParameters:
    """Tuning of :func:`segment_lesion` (defaults are the documented method).

    Attributes
    ----------
    multiplier
        Half-width of the accepted CT range in robust SDs around the region's mean.
    iterations
        Times the region's mean and SD are re-estimated and the region regrown.
    min_sd_hu
        Floor of the CT noise SD (HU), so a perfectly flat seed neighbourhood still grows.
    search_radii_mm
        Half-sides of the successive search boxes around the seed (mm).
    pet_fraction
        PET isocontour as a fraction of the lesion's SUVmax (0.45, Siegmund et al. 2025).
    pet_avid_ratio
        A lesion counts as PET-avid when its SUVmax is at least this times the box median.
    """

    multiplier: float = 3.0
    iterations: int = 2
    min_sd_hu: float = 3.0
    search_radii_mm: tuple[float, ...] = (30.0, 60.0, 100.0)
    pet_fraction: float = 0.45
    pet_avid_ratio: float = 2.0

    def as_parameters(self) -> dict[str, str]:
        """The parameters as text, for the audit trail and SR algorithm parameters."""
        return {
            "multiplier": f"{self.multiplier:g}",
            "iterations": str(self.iterations),
            "min_sd_hu": f"{self.min_sd_hu:g}",
            "search_radii_mm": ",".join(f"{r:g}" for r in self.search_radii_mm),
            "pet_fraction": f"{self.pet_fraction:g}",
            "pet_avid_ratio": f"{self.pet_avid_ratio:g}",
        }


@dataclass(frozen=True, slots=True)
class LesionMeasurement:
    """A lesion segmented from one point, and its RECIST and PET measurements.

    Attributes
    ----------
    seed_lps_mm
        The clicked point (LPS mm).
    axes
        RECIST 1.1 long axis (longest in-plane diameter over all slices) and short axis (longest
        chord perpendicular to it on the same slice); end points in LPS mm, slice index into the
        CT volume and that slice's SOPInstanceUID.
    volume_ml
        Mask voxels × CT voxel volume (ml).
    mask
        Boolean mask on a box of the CT grid (same spacing and direction, origin moved);
        ``mask_offset_kji`` is the CT index of its voxel ``[0, 0, 0]``, so
        ``full[k0:k0+nk, j0:j0+nj, i0:i0+ni] |= mask.array`` pastes it into a CT-sized array.
    method
        Which way the mask was made (:class:`SegmentationMethod`).
    ct_mean_hu, ct_sd_hu
        Mean and SD of the CT values inside the mask (HU).
    uptake
        SUVmax, SUVmean, SUVpeak (PERCIST) of the mask on the PET grid, when a PET was given.
    pet_threshold_suv
        The PET isocontour used (``pet_fraction`` × SUVmax), when PET took part.
    parameters
        The :class:`SegmentationParameters` used.
    """

    seed_lps_mm: Point
    axes: LesionAxes
    volume_ml: float
    mask: Volume
    mask_offset_kji: tuple[int, int, int]
    method: SegmentationMethod
    ct_mean_hu: float
    ct_sd_hu: float
    uptake: VoiUptake | None
    pet_threshold_suv: float | None
    parameters: SegmentationParameters

    @property
    def long_axis(self) -> Segment:
        """The RECIST long axis."""
        return self.axes.long_axis

    @property
    def short_axis(self) -> Segment:
        """The short axis (perpendicular, same slice): the measure for lymph nodes."""
        return self.axes.short_axis

    @property
    def long_axis_mm(self) -> float:
        return self.axes.long_axis.length_mm

    @property
    def short_axis_mm(self) -> float:
        return self.axes.short_axis.length_mm

    @property
    def suv_max(self) -> float | None:
        return None if self.uptake is None else self.uptake.suv_max

    @property
    def suv_peak(self) -> float | None:
        return None if self.uptake is None else self.uptake.suv_peak

    def to_dict(self) -> dict[str, Any]:
        """The measurement as JSON-ready values (mm, ml, SUV g/ml): the one output format of
        ``recistry measure`` and ``recistry track``."""
        long_axis, short_axis = self.axes.long_axis, self.axes.short_axis
        return {
            "seed_lps_mm": list(self.seed_lps_mm),
            "long_axis_mm": round(long_axis.length_mm, 2),
            "short_axis_mm": round(short_axis.length_mm, 2),
            "long_axis_endpoints_lps_mm": [
                _rounded(long_axis.start_lps_mm),
                _rounded(long_axis.end_lps_mm),
            ],
            "short_axis_endpoints_lps_mm": [
                _rounded(short_axis.start_lps_mm),
                _rounded(short_axis.end_lps_mm),
            ],
            "slice_index": long_axis.slice_index,
            "sop_instance_uid": long_axis.sop_instance_uid,
            "frame_of_reference_uid": long_axis.frame_of_reference_uid,
            "volume_ml": round(self.volume_ml, 3),
            "suv_max": None if self.uptake is None else round(self.uptake.suv_max, 3),
            "suv_peak": None if self.uptake is None else round(self.uptake.suv_peak, 3),
            "suv_mean": None if self.uptake is None else round(self.uptake.suv_mean, 3),
            "centroid_lps_mm": _rounded(self.centroid_lps_mm),
            "ct_mean_hu": round(self.ct_mean_hu, 1),
            "method": self.method.value,
            "pet_threshold_suv": None
            if self.pet_threshold_suv is None
            else round(self.pet_threshold_suv, 3),
            "parameters": self.parameters.as_parameters(),
        }

    @property
    def centroid_lps_mm(self) -> Point:
        """Centre of mass of the mask (LPS mm)."""
        kji = np.argwhere(np.asarray(self.mask.array)).mean(axis=0)
        p = self.mask.index_to_patient(kji)[0]
        return (float(p[0]), float(p[1]), float(p[2]))


def _sitk() -> Any:
    import SimpleITK

    return SimpleITK


def crop(volume: Volume, lo_kji: Sequence[int], hi_kji: Sequence[int]) -> Volume:
    """The box ``[lo, hi)`` of a volume as a volume of its own (a view, not a copy).

    Spacing and direction are kept; the origin moves to voxel ``lo``; the SOPInstanceUIDs of the
    box's slices are kept when the volume carries them.
    """
    lo = [int(v) for v in lo_kji]
    hi = [int(v) for v in hi_kji]
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    origin = volume.index_to_patient(np.asarray(lo, dtype=np.float64))[0]
    uids = volume.sop_instance_uids
    return replace(
        volume,
        array=volume.array[box],
        origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        sop_instance_uids=uids[lo[0] : hi[0]] if len(uids) == volume.array.shape[0] else (),
        provenance=dict(volume.provenance),
    )


def _seed_index(ct: Volume, seed_lps_mm: Sequence[float]) -> tuple[int, int, int]:
    if len(seed_lps_mm) != 3 or not all(math.isfinite(float(v)) for v in seed_lps_mm):
        raise InputError(f"the point must be three finite numbers (x,y,z mm), got {seed_lps_mm}")
    kji = np.rint(ct.patient_to_index(np.asarray(seed_lps_mm, dtype=np.float64))[0]).astype(int)
    shape = np.asarray(ct.array.shape)
    if np.any(kji < 0) or np.any(kji >= shape):
        lo = ct.index_to_patient(np.zeros(3))[0]
        hi = ct.index_to_patient(shape - 1)[0]
        raise InputError(
            f"the point {_fmt(seed_lps_mm)} mm is outside the CT volume "
            f"({_fmt(lo)} to {_fmt(hi)} mm)",
            column="--at",
        )
    return int(kji[0]), int(kji[1]), int(kji[2])


def _fmt(p: Sequence[float] | npt.NDArray[np.float64]) -> str:
    return ",".join(f"{float(v):.1f}" for v in p)


def _box(ct: Volume, seed: tuple[int, int, int], radius_mm: float) -> tuple[list[int], list[int]]:
    shape = ct.array.shape
    reach = [max(1, math.ceil(radius_mm / s)) for s in ct.spacing_mm]
    lo = [max(0, seed[a] - reach[a]) for a in range(3)]
    hi = [min(shape[a], seed[a] + reach[a] + 1) for a in range(3)]
    return lo, hi


def _robust_seed_stats(
    values: npt.NDArray[np.float32], seed: tuple[int, int, int], min_sd: float
) -> tuple[float, float]:
    k, j, i = seed
    patch = values[k, max(0, j - 2) : j + 3, max(0, i - 2) : i + 3].astype(np.float64)
    median = float(np.median(patch))
    sd = 1.4826 * float(np.median(np.abs(patch - median)))
    return median, max(sd, min_sd)


def _grow(
    values: npt.NDArray[np.float32],
    seed: tuple[int, int, int],
    params: SegmentationParameters,
) -> npt.NDArray[np.bool_]:
    """Confidence-connected growth on the in-plane 3 × 3 median of the box (mean ± multiplier·SD,
    re-estimated), then the boundary decided on the original values (see module docstring)."""
    from scipy import ndimage

    sitk = _sitk()
    smoothed = ndimage.median_filter(values, size=(1, 3, 3))
    mean, sd = _robust_seed_stats(smoothed, seed, params.min_sd_hu)
    image = sitk.GetImageFromArray(smoothed)
    region = np.zeros(values.shape, dtype=bool)
    for _ in range(params.iterations + 1):
        half = params.multiplier * sd
        grown = sitk.ConnectedThreshold(
            image,
            seedList=[(seed[2], seed[1], seed[0])],
            lower=mean - half,
            upper=mean + half,
            replaceValue=1,
        )
        region = sitk.GetArrayViewFromImage(grown).astype(bool)
        inside = smoothed[region].astype(np.float64)
        if inside.size < 2:
            break
        mean = float(inside.mean())
        sd = max(float(inside.std()), params.min_sd_hu)
    # The median moves the edge of thin or pointed parts by up to a pixel: each in-plane
    # neighbour of the region joins it when its original value is nearer the region's median
    # than the median of the other neighbours (the outside).
    cross = np.zeros((1, 3, 3), dtype=bool)
    cross[0, 1, :] = cross[0, :, 1] = True
    ring = ndimage.binary_dilation(region, structure=cross) & ~region
    if ring.any() and region.any():
        inside_median = float(np.median(values[region]))
        outside_median = float(np.median(values[ring]))
        ring_values = values[ring]
        join = np.abs(ring_values - inside_median) < np.abs(ring_values - outside_median)
        region = region.copy()
        region[tuple(index[join] for index in np.nonzero(ring))] = True
    filled: npt.NDArray[np.bool_] = ndimage.binary_fill_holes(region)
    return filled


def _bounding_box(
    mask: npt.NDArray[np.bool_], pad: Sequence[int], shape: Sequence[int]
) -> tuple[slice, slice, slice]:
    """The bounding box of ``mask`` padded by ``pad`` voxels per axis, within ``shape``."""
    out = []
    for axis in range(3):
        hits = np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        lo = max(0, int(hits[0]) - pad[axis]) if len(hits) else 0
        hi = min(shape[axis], int(hits[-1]) + pad[axis] + 1) if len(hits) else 0
        out.append(slice(lo, hi))
    return out[0], out[1], out[2]


def _pet_around(pet: Volume, box: Volume) -> Volume:
    """The part of the PET that covers ``box`` (plus two voxels), so that resampling it onto the
    box does not copy a whole-body PET on every click."""
    corners = np.array(
        [[k, j, i] for k in (0, 1) for j in (0, 1) for i in (0, 1)], dtype=np.float64
    )
    corners *= np.asarray(box.array.shape, dtype=np.float64) - 1
    kji = pet.patient_to_index(box.index_to_patient(corners))
    shape = np.asarray(pet.array.shape)
    lo = np.clip(np.floor(kji.min(axis=0)).astype(int) - 2, 0, shape - 1)
    hi = np.clip(np.ceil(kji.max(axis=0)).astype(int) + 3, lo + 1, shape)
    return crop(pet, lo, hi)


def _touches_faces(
    region: npt.NDArray[np.bool_], lo: Sequence[int], hi: Sequence[int], shape: Sequence[int]
) -> bool:
    """Whether the region reaches a face of the box that is not a face of the whole volume."""
    for axis in range(3):
        if lo[axis] > 0 and np.take(region, 0, axis=axis).any():
            return True
        if hi[axis] < shape[axis] and np.take(region, -1, axis=axis).any():
            return True
    return False


def _largest_component_with(
    mask: npt.NDArray[np.bool_], index: tuple[int, int, int]
) -> npt.NDArray[np.bool_]:
    from scipy import ndimage

    labels, _ = ndimage.label(mask)
    label = labels[index]
    out: npt.NDArray[np.bool_] = labels == label if label else np.zeros_like(mask)
    return out


def _pet_region(
    pet_box: npt.NDArray[np.float32],
    ct_region: npt.NDArray[np.bool_] | None,
    seed: tuple[int, int, int],
    spacing_mm: Sequence[float],
    params: SegmentationParameters,
) -> tuple[npt.NDArray[np.bool_], float, bool] | None:
    """The PET isocontour region around the lesion's SUVmax on the CT box grid.

    Returns the region, its threshold (SUV) and whether the lesion is avid, or ``None`` when the
    seed is not in it.
    """
    if ct_region is not None and ct_region.any():
        search = ct_region
    else:
        # No CT region: the hottest voxel within 10 mm of the seed.
        kk, jj, ii = np.ogrid[tuple(slice(0, n) for n in pet_box.shape)]
        d2 = (
            ((kk - seed[0]) * spacing_mm[0]) ** 2
            + ((jj - seed[1]) * spacing_mm[1]) ** 2
            + ((ii - seed[2]) * spacing_mm[2]) ** 2
        )
        search = d2 <= 10.0**2
    hottest = np.where(search, pet_box, -np.inf)
    peak_index = np.unravel_index(int(np.argmax(hottest)), pet_box.shape)
    suv_max = float(pet_box[peak_index])
    if suv_max <= 0:
        return None
    threshold = params.pet_fraction * suv_max
    peak = (int(peak_index[0]), int(peak_index[1]), int(peak_index[2]))
    region = _largest_component_with(pet_box >= threshold, peak)
    if not region[seed]:
        return None
    avid = suv_max >= params.pet_avid_ratio * float(np.median(pet_box))
    return region, threshold, avid


def segment_lesion(
    ct: Volume,
    seed_lps_mm: Sequence[float],
    *,
    pet: Volume | None = None,
    parameters: SegmentationParameters | None = None,
) -> LesionMeasurement:
    """Segment the lesion under a point and measure it (RECIST axes, volume, SUV).

    Parameters
    ----------
    ct
        CT volume in HU (axial slices; diameters are measured in the slice planes).
    seed_lps_mm
        A point inside the lesion, patient coordinates (LPS, mm).
    pet
        Optional PET in SUV (g/ml) in the same frame of reference, on its own grid (preferred:
        SUVpeak is then PERCIST's, on native voxels) or already on the CT grid.
    parameters
        Method parameters; the defaults are the documented method (module docstring).

    Returns
    -------
    LesionMeasurement

    Raises
    ------
    InputError
        When the point is outside the CT volume, in air (neighbourhood median below ``AIR_HU``:
        outside the body or in aerated lung), or when no lesion boundary is found within the
        largest search box; when the PET is in another frame of reference.
    """
    params = parameters or SegmentationParameters()
    if pet is not None and pet.frame_of_reference_uid != ct.frame_of_reference_uid:
        raise InputError(
            "the PET and CT are in different frames of reference "
            f"({pet.frame_of_reference_uid} vs {ct.frame_of_reference_uid}); "
            "give the PET of the same PET/CT study",
            column="--pet",
        )
    seed = _seed_index(ct, seed_lps_mm)
    values_full = ct.array
    seed_hu, _ = _robust_seed_stats(values_full, seed, params.min_sd_hu)
    if seed_hu < AIR_HU:
        raise InputError(
            f"the point {_fmt(seed_lps_mm)} mm is in air ({seed_hu:.0f} HU): outside the body "
            "or in aerated lung; click inside the lesion",
            column="--at",
        )
    region: npt.NDArray[np.bool_] | None = None
    leaked = True
    lo: list[int] = [0, 0, 0]
    hi: list[int] = list(ct.array.shape)
    for radius in params.search_radii_mm:
        lo, hi = _box(ct, seed, radius)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        values = np.ascontiguousarray(values_full[box], dtype=np.float32)
        local = (seed[0] - lo[0], seed[1] - lo[1], seed[2] - lo[2])
        region = _grow(values, local, params)
        leaked = _touches_faces(region, lo, hi, ct.array.shape)
        if not leaked:
            break
    assert region is not None
    local = (seed[0] - lo[0], seed[1] - lo[1], seed[2] - lo[2])
    box_volume = crop(ct, lo, hi)
    method = SegmentationMethod.CT
    pet_threshold: float | None = None
    if pet is not None:
        from recistry.imaging.resample import resample_to

        pet_box = resample_to(_pet_around(pet, box_volume), box_volume).array
        found = _pet_region(pet_box, None if leaked else region, local, ct.spacing_mm, params)
        if found is not None:
            pet_region, threshold, avid = found
            if leaked and avid:
                region, method, pet_threshold, leaked = (
                    pet_region,
                    SegmentationMethod.PET,
                    threshold,
                    False,
                )
            elif not leaked:
                from scipy import ndimage

                reach = [
                    max(1, round(p / c)) for p, c in zip(pet.spacing_mm, ct.spacing_mm, strict=True)
                ]
                structure = np.ones([2 * r + 1 for r in reach], dtype=bool)
                # Only where the CT region is does the dilated PET region matter.
                near = _bounding_box(region, reach, region.shape)
                bound = np.zeros_like(region)
                bound[near] = ndimage.binary_dilation(pet_region[near], structure=structure)
                bounded = _largest_component_with(region & bound, local)
                pet_threshold = threshold
                if bounded.sum() < region.sum():
                    region, method = bounded, SegmentationMethod.CT_BOUNDED_BY_PET
    if leaked:
        raise InputError(
            f"no lesion boundary found within {params.search_radii_mm[-1]:g} mm of "
            f"{_fmt(seed_lps_mm)} mm (the region of {seed_hu:.0f} HU keeps growing); "
            "click inside a lesion",
            column="--at",
        )
    mask = replace(box_volume, array=region, units="mask", modality="SEG")
    axes = lesion_axes(mask)
    axes = LesionAxes(
        replace(axes.long_axis, slice_index=_slice(axes.long_axis, lo[0])),
        replace(axes.short_axis, slice_index=_slice(axes.short_axis, lo[0])),
        axes.voxel_count,
    )
    inside = np.asarray(box_volume.array)[region].astype(np.float64)
    voxel_ml = float(np.prod(ct.spacing_mm)) / 1000.0
    uptake = None
    if pet is not None:
        voi = mask_on_grid(mask, pet)
        if voi.any():
            uptake = voi_uptake(pet, voi)
    return LesionMeasurement(
        seed_lps_mm=(float(seed_lps_mm[0]), float(seed_lps_mm[1]), float(seed_lps_mm[2])),
        axes=axes,
        volume_ml=int(region.sum()) * voxel_ml,
        mask=mask,
        mask_offset_kji=(lo[0], lo[1], lo[2]),
        method=method,
        ct_mean_hu=float(inside.mean()),
        ct_sd_hu=float(inside.std()),
        uptake=uptake,
        pet_threshold_suv=pet_threshold,
        parameters=params,
    )


def _rounded(p: Sequence[float]) -> list[float]:
    return [round(float(v), 2) for v in p]


def _slice(segment: Segment, k0: int) -> int | None:
    return None if segment.slice_index is None else segment.slice_index + k0
