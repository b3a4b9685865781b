"""SSTR-PET hot spots: candidate lesions above a liver-based threshold, minus physiology.

On Ga-68 DOTATATE PET, tumour uptake is judged against the liver (Krenning scale; the liver is
the reference organ of the SNMMI/EANM SSTR-PET guideline, Hope et al., JNM 2023). A **hot spot**
is a 26-connected region of PET voxels at or above the liver threshold

    threshold = 1.5 × liver SUVmean + 2 × liver SD

(the PERCIST 1.0 liver-based floor for a measurable lesion, Wahl et al., JNM 2009;50:122S; the
"normal liver background threshold" family of SSTR tumour-volume methods uses the same idea).
Regions smaller than ``min_volume_ml`` are dropped as noise. Regions whose hottest voxel lies in
a region the reader marked as physiological (:class:`PhysiologyRegion`), or that match a simple
**organ prior**, are listed apart as physiological uptake.

Organ priors (PET only, relative to the body seen on the PET; a prior is a suggestion the reader
confirms, not a segmentation):

- **spleen**: the largest hot region of ≥ 80 ml whose centre is ≥ 40 mm to the patient's left of
  the body's midline;
- **kidney**: a hot region of 40–400 ml, 30–130 mm either side of the midline, in the posterior
  half of the body (at most one per side);
- **bladder**: ≥ 30 ml, within 50 mm of the midline and 80 mm of the caudal end of a PET that
  spans ≥ 300 mm;
- **pituitary**: ≤ 5 ml, within 20 mm of the midline and 80 mm of the cranial end of a PET that
  spans ≥ 300 mm, where the body's cross-section is under 400 cm² (a head).

Per time point, the **SSTR-expressing tumour volume** (sum of the candidates' volumes, ml) and
the **total lesion uptake** (sum of SUVmean × volume, SUV·ml) are exploratory burden measures,
like MTV and TLG for FDG (cf. SRETV and TLSRE in the SSTR-PET literature, reviewed by Weber et al.,
Cancers 2023;15:3581). They depend on the threshold, which is recorded with them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from recistry.errors import InputError
from recistry.imaging.metrics import (
    LIVER_REFERENCE_DIAMETER_MM,
    ReferenceUptake,
    sphere_uptake,
)
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

__all__ = [
    "LIVER_SD_WEIGHT",
    "LIVER_THRESHOLD_FACTOR",
    "HotSpot",
    "HotSpotSearch",
    "PhysiologyRegion",
    "find_hotspots",
    "liver_reference_from_ct",
    "liver_threshold",
    "not_yet_annotated",
]

LIVER_THRESHOLD_FACTOR = 1.5
"""PERCIST 1.0 (Wahl et al. 2009): threshold = 1.5 × liver SUVmean + 2 × liver SD."""
LIVER_SD_WEIGHT = 2.0
BODY_SUV = 0.2
"""PET voxels at or above this SUV are the body, for the organ priors' midline and extent."""

Point = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class PhysiologyRegion:
    """A sphere the reader marked as physiological uptake (e.g. kidney, bladder, uncinate).

    A hot spot whose hottest voxel lies within ``radius_mm`` of ``center_lps_mm`` is
    physiological and named ``name``.
    """

    name: str
    center_lps_mm: Point
    radius_mm: float

    def contains(self, point_lps_mm: Sequence[float]) -> bool:
        return math.dist(point_lps_mm, self.center_lps_mm) <= self.radius_mm


@dataclass(frozen=True, slots=True)
class HotSpot:
    """One connected region above the threshold.

    Attributes
    ----------
    suv_max, suv_mean
        Hottest voxel and mean over the region (SUV g/ml); ``max_lps_mm`` is the hottest voxel.
    volume_ml
        Voxels × voxel volume (ml).
    total_uptake
        SUVmean × volume (SUV·ml).
    centroid_lps_mm
        Centre of the region (LPS mm).
    extent_mm
        Size of its bounding box along the slice, row and column directions (mm).
    physiology
        ``None`` for a candidate lesion; else why it is physiological, e.g. ``"spleen (organ
        prior)"`` or ``"kidney (marked)"``.
    """

    suv_max: float
    suv_mean: float
    volume_ml: float
    total_uptake: float
    max_lps_mm: Point
    centroid_lps_mm: Point
    extent_mm: tuple[float, float, float]
    voxel_count: int
    physiology: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "suv_max": round(self.suv_max, 3),
            "suv_mean": round(self.suv_mean, 3),
            "volume_ml": round(self.volume_ml, 3),
            "total_uptake": round(self.total_uptake, 3),
            "max_lps_mm": [round(v, 2) for v in self.max_lps_mm],
            "centroid_lps_mm": [round(v, 2) for v in self.centroid_lps_mm],
            "extent_mm": [round(v, 1) for v in self.extent_mm],
            "physiology": self.physiology,
        }


@dataclass(frozen=True, slots=True)
class HotSpotSearch:
    """Hot spots of one PET and the burden of the candidates.

    Attributes
    ----------
    threshold_suv
        ``1.5 × liver_suv_mean + 2 × liver_suv_sd`` (SUV).
    candidates
        Hot spots not explained by physiology, hottest first: the candidate lesions.
    physiological
        Hot spots in marked regions or matching an organ prior.
    sstr_tumour_volume_ml
        Sum of the candidates' volumes (ml); exploratory.
    total_lesion_uptake
        Sum of the candidates' SUVmean × volume (SUV·ml); exploratory.
    """

    threshold_suv: float
    liver_suv_mean: float
    liver_suv_sd: float
    min_volume_ml: float
    candidates: tuple[HotSpot, ...]
    physiological: tuple[HotSpot, ...]
    sstr_tumour_volume_ml: float
    total_lesion_uptake: float
    method: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: the one output format of ``recistry hotspots``."""
        return {
            "threshold_suv": round(self.threshold_suv, 3),
            "liver_suv_mean": round(self.liver_suv_mean, 3),
            "liver_suv_sd": round(self.liver_suv_sd, 3),
            "min_volume_ml": self.min_volume_ml,
            "sstr_tumour_volume_ml": round(self.sstr_tumour_volume_ml, 3),
            "total_lesion_uptake": round(self.total_lesion_uptake, 3),
            "candidates": [h.to_dict() for h in self.candidates],
            "physiological": [h.to_dict() for h in self.physiological],
            "method": dict(self.method),
        }


def liver_threshold(liver_suv_mean: float, liver_suv_sd: float) -> float:
    """``1.5 × liver SUVmean + 2 × liver SD`` (PERCIST 1.0, Wahl et al. 2009), SUV."""
    if not liver_suv_mean > 0 or liver_suv_sd < 0:
        raise InputError(
            f"the liver reference must have SUVmean > 0 and SD >= 0, got {liver_suv_mean}, "
            f"{liver_suv_sd}",
            column="liver",
        )
    return LIVER_THRESHOLD_FACTOR * liver_suv_mean + LIVER_SD_WEIGHT * liver_suv_sd


def _point(p: npt.ArrayLike) -> Point:
    a = np.asarray(p, dtype=np.float64)
    return (float(a[0]), float(a[1]), float(a[2]))


@dataclass(frozen=True, slots=True)
class _Body:
    midline_x_mm: float
    centre_y_mm: float
    z_range_mm: tuple[float, float]
    area_cm2_by_z: dict[int, float]


def _body(pet: Volume) -> _Body:
    body = np.asarray(pet.array) >= BODY_SUV
    per_slice = body.sum(axis=(1, 2))
    total = int(per_slice.sum())
    if total == 0:
        return _Body(0.0, 0.0, (0.0, 0.0), {})
    # The centroid from the marginal sums: no list of every body voxel.
    mean_index = [
        float((body.sum(axis=tuple(a for a in range(3) if a != axis)) * np.arange(n)).sum()) / total
        for axis, n in enumerate(body.shape)
    ]
    centre = pet.index_to_patient(np.asarray(mean_index))[0]
    ks = np.nonzero(per_slice)[0]
    zs = pet.index_to_patient(np.column_stack([ks, np.zeros_like(ks), np.zeros_like(ks)]))[:, 2]
    pixel_cm2 = pet.spacing_mm[1] * pet.spacing_mm[2] / 100.0
    areas = {int(k): float(per_slice[k]) * pixel_cm2 for k in ks.tolist()}
    return _Body(float(centre[0]), float(centre[1]), (float(zs.min()), float(zs.max())), areas)


def _organ_prior(
    spot: HotSpot, body: _Body, *, spleen_taken: bool, kidney_sides: set[int]
) -> str | None:
    """The organ prior a hot spot matches (module docstring), or ``None``."""
    x, y, z = spot.centroid_lps_mm
    lateral = x - body.midline_x_mm  # LPS: +x is the patient's left
    span = body.z_range_mm[1] - body.z_range_mm[0]
    if not spleen_taken and spot.volume_ml >= 80.0 and lateral >= 40.0:
        return "spleen"
    side = 1 if lateral > 0 else -1
    if (
        40.0 <= spot.volume_ml <= 400.0
        and 30.0 <= abs(lateral) <= 130.0
        and y >= body.centre_y_mm
        and side not in kidney_sides
    ):
        return "kidney"
    if span >= 300.0:
        if spot.volume_ml >= 30.0 and abs(lateral) <= 50.0 and z - body.z_range_mm[0] <= 80.0:
            return "bladder"
        if spot.volume_ml <= 5.0 and abs(lateral) <= 20.0 and body.z_range_mm[1] - z <= 80.0:
            return "pituitary"
    return None


def find_hotspots(
    pet: Volume,
    liver: ReferenceUptake,
    *,
    physiology: Sequence[PhysiologyRegion] = (),
    organ_priors: bool = True,
    min_volume_ml: float = 0.2,
) -> HotSpotSearch:
    """Hot spots of a PET above the liver threshold, split into candidates and physiology.

    Parameters
    ----------
    pet
        PET volume in SUV (g/ml).
    liver
        Liver reference (``sphere_uptake(pet, centre, LIVER_REFERENCE_DIAMETER_MM)``, or
        :func:`liver_reference_from_ct`).
    physiology
        Regions the reader marked as physiological uptake.
    organ_priors
        Also apply the spleen, kidney, bladder and pituitary priors (module docstring).
    min_volume_ml
        Smaller regions are dropped (0.2 ml: about five 4 mm voxels; a 10 mm lesion is 0.52 ml).

    Returns
    -------
    HotSpotSearch
    """
    from scipy import ndimage

    threshold = liver_threshold(liver.suv_mean, liver.suv_sd)
    values = np.asarray(pet.array, dtype=np.float32)
    labels, count = ndimage.label(values >= threshold, structure=np.ones((3, 3, 3), dtype=bool))
    voxel_ml = float(np.prod(pet.spacing_mm)) / 1000.0
    spots: list[HotSpot] = []
    if count:
        index = np.arange(1, count + 1)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        keep = index[sizes * voxel_ml >= min_volume_ml]
        objects = ndimage.find_objects(labels)
        for label in keep.tolist():
            box = objects[label - 1]
            assert box is not None
            inside = labels[box] == label
            region = values[box][inside].astype(np.float64)
            kji = np.argwhere(inside) + [s.start for s in box]
            hottest = kji[int(np.argmax(region))]
            n = len(region)
            spots.append(
                HotSpot(
                    suv_max=float(region.max()),
                    suv_mean=float(region.mean()),
                    volume_ml=n * voxel_ml,
                    total_uptake=float(region.mean()) * n * voxel_ml,
                    max_lps_mm=_point(pet.index_to_patient(hottest)[0]),
                    centroid_lps_mm=_point(pet.index_to_patient(kji.mean(axis=0))[0]),
                    extent_mm=(
                        (box[0].stop - box[0].start) * pet.spacing_mm[0],
                        (box[1].stop - box[1].start) * pet.spacing_mm[1],
                        (box[2].stop - box[2].start) * pet.spacing_mm[2],
                    ),
                    voxel_count=n,
                )
            )
    spots.sort(key=lambda s: -s.volume_ml)  # priors look at the big regions first
    body = _body(pet) if organ_priors else None
    spleen_taken = False
    kidney_sides: set[int] = set()
    candidates, physiological = [], []
    for spot in spots:
        marked = next((r for r in physiology if r.contains(spot.max_lps_mm)), None)
        why: str | None = None
        if marked is not None:
            why = f"{marked.name} (marked)"
        elif body is not None:
            organ = _organ_prior(spot, body, spleen_taken=spleen_taken, kidney_sides=kidney_sides)
            if organ == "spleen":
                spleen_taken = True
            if organ == "kidney":
                kidney_sides.add(1 if spot.centroid_lps_mm[0] > body.midline_x_mm else -1)
            why = None if organ is None else f"{organ} (organ prior)"
        if why is None:
            candidates.append(spot)
        else:
            physiological.append(replace(spot, physiology=why))
    candidates.sort(key=lambda s: -s.suv_max)
    return HotSpotSearch(
        threshold_suv=threshold,
        liver_suv_mean=liver.suv_mean,
        liver_suv_sd=liver.suv_sd,
        min_volume_ml=min_volume_ml,
        candidates=tuple(candidates),
        physiological=tuple(physiological),
        sstr_tumour_volume_ml=float(sum(s.volume_ml for s in candidates)),
        total_lesion_uptake=float(sum(s.total_uptake for s in candidates)),
        method={
            "threshold": "1.5 x liver SUVmean + 2 x liver SD (PERCIST 1.0)",
            "connectivity": "26",
            "organ_priors": str(organ_priors).lower(),
            "marked_regions": str(len(physiology)),
        },
    )


def not_yet_annotated(
    search: HotSpotSearch, annotated_lps_mm: Sequence[Sequence[float]], *, margin_mm: float = 10.0
) -> tuple[HotSpot, ...]:
    """The candidates no annotated point explains: none lies within the candidate's bounding
    half-extent plus ``margin_mm`` of its centre (what the reader still has to check)."""
    out = []
    for spot in search.candidates:
        reach = max(spot.extent_mm) / 2.0 + margin_mm
        if not any(math.dist(p, spot.centroid_lps_mm) <= reach for p in annotated_lps_mm):
            out.append(spot)
    return tuple(out)


def liver_reference_from_ct(ct: Volume, pet: Volume) -> ReferenceUptake:
    """A liver reference found automatically (a heuristic; give the centre when you can).

    The liver is taken as the largest connected region of 30–90 HU (after a 3 × 3 in-plane
    median, on every second row and column) in the patient's right half of the body; the
    PERCIST 3 cm sphere is centred on its point farthest from its boundary (so away from its
    edges and from lesions, which are holes in the region), and measured on the PET.

    Raises
    ------
    InputError
        When no region can hold the 3 cm sphere.
    """
    from scipy import ndimage

    step = max(1, round(2.0 / min(ct.spacing_mm[1:])))
    hu = np.asarray(ct.array[:, ::step, ::step], dtype=np.float32)
    hu = ndimage.median_filter(hu, size=(1, 3, 3))
    spacing = (ct.spacing_mm[0], ct.spacing_mm[1] * step, ct.spacing_mm[2] * step)
    body = hu > -500.0
    kji_body = np.argwhere(body)
    if len(kji_body) == 0:
        raise InputError("the CT holds no body to find the liver in", column="--ct")
    sub = _subsampled(ct, step, hu)
    midline = sub.index_to_patient(kji_body.mean(axis=0))[0][0]
    xs = sub.index_to_patient(
        np.column_stack([np.zeros(hu.shape[2]), np.zeros(hu.shape[2]), np.arange(hu.shape[2])])
    )[:, 0]
    right = (xs < midline)[None, None, :]
    tissue = (hu >= 30.0) & (hu <= 90.0) & right
    labels, count = ndimage.label(tissue)
    if count == 0:
        raise InputError("no liver-like tissue (30-90 HU) on the CT; give --liver", column="--ct")
    sizes = ndimage.sum_labels(np.ones_like(hu), labels, np.arange(1, count + 1))
    liver = labels == int(np.argmax(sizes)) + 1
    # Padded with background, so the sphere must also fit inside the scanned volume.
    depth = ndimage.distance_transform_edt(np.pad(liver, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    deepest = np.unravel_index(int(np.argmax(depth)), depth.shape)
    if depth[deepest] < LIVER_REFERENCE_DIAMETER_MM / 2:
        raise InputError(
            "the liver-like region on the CT cannot hold the 3 cm reference sphere; give --liver",
            column="--ct",
        )
    centre = sub.index_to_patient(np.asarray(deepest, dtype=np.float64))[0]
    return sphere_uptake(pet, _point(centre), LIVER_REFERENCE_DIAMETER_MM)


def _subsampled(ct: Volume, step: int, array: npt.NDArray[Any]) -> Volume:
    return replace(
        ct,
        array=array,
        spacing_mm=(ct.spacing_mm[0], ct.spacing_mm[1] * step, ct.spacing_mm[2] * step),
        sop_instance_uids=(),
    )
