"""Follow lesions from a prior CT to the current CT of the same patient.

:func:`register_ct` aligns the prior CT to the current CT (SimpleITK, multi-resolution): body
centroids give the starting translation, then a rigid (Euler 3-D) and an affine stage on
coarse copies of both images (``grid_mm`` voxels, mean-squares metric, which suits two CTs in
Hounsfield units). :meth:`CtRegistration.map_point` maps a prior point (LPS mm) onto the current
scan with that global transform; :func:`refine_point` then corrects it for local deformation by
a translation-only registration of a ``refine_radius_mm`` box around the point at finer
resolution. :func:`track_lesions` does both for each prior lesion and re-segments it on the
current CT (:func:`recistry.imaging.segment.segment_lesion`) to propose its measurement.

Why not B-spline: measured on the repositioned synthetic patients and documented with numbers
in docs/imaging.md ("Lesions followed across scans").
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from recistry.errors import InputError
from recistry.imaging.segment import LesionMeasurement, crop, segment_lesion
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

__all__ = [
    "CtRegistration",
    "RegistrationParameters",
    "TrackedLesion",
    "refine_point",
    "register_ct",
    "track_lesions",
]

Point = tuple[float, float, float]
BODY_HU = -500.0
"""Voxels above this (HU) are the body, for the starting translation."""


@dataclass(frozen=True, slots=True)
class RegistrationParameters:
    """Tuning of :func:`register_ct` and :func:`refine_point`.

    Attributes
    ----------
    grid_mm
        Target voxel size of the coarse copies the global stages run on (mm).
    shrink_factors, smoothing_sigmas_mm
        The multi-resolution pyramid on the coarse copies.
    iterations
        Optimiser iterations per level.
    sampling_fraction
        Share of the coarse voxels the metric samples (random, fixed seed: reproducible).
    affine
        Run an affine stage after the rigid one (off: measured no better after refinement).
    bspline_mesh
        When > 0, a B-spline stage with this many mesh cells per axis (LBFGSB) after the
        linear stages (off: measured slower and no better than local refinement).
    refine_radius_mm, refine_grid_mm
        Half-side and voxel size of the local box of :func:`refine_point`.
    """

    grid_mm: float = 4.0
    shrink_factors: tuple[int, ...] = (2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (4.0, 0.0)
    iterations: int = 100
    sampling_fraction: float = 0.1
    affine: bool = False
    bspline_mesh: int = 0
    refine_radius_mm: float = 30.0
    refine_grid_mm: float = 1.5

    def as_parameters(self) -> dict[str, str]:
        """The parameters as text, for the audit trail."""
        return {
            "grid_mm": f"{self.grid_mm:g}",
            "shrink_factors": ",".join(str(s) for s in self.shrink_factors),
            "smoothing_sigmas_mm": ",".join(f"{s:g}" for s in self.smoothing_sigmas_mm),
            "iterations": str(self.iterations),
            "sampling_fraction": f"{self.sampling_fraction:g}",
            "affine": str(self.affine).lower(),
            "bspline_mesh": str(self.bspline_mesh),
            "refine_radius_mm": f"{self.refine_radius_mm:g}",
            "refine_grid_mm": f"{self.refine_grid_mm:g}",
        }


@dataclass(frozen=True, slots=True)
class CtRegistration:
    """A transform from the prior CT's patient space to the current CT's (LPS mm).

    Attributes
    ----------
    transform
        The SimpleITK transform; ``transform.TransformPoint(p_prior)`` is the current position.
    stages
        The stages run, in order (``"centroids"``, ``"rigid"``, ``"affine"``).
    metric_value
        Final mean-squares metric of the last stage (HU², lower is better).
    elapsed_s
        Wall time of the registration (s).
    prior_frame_of_reference_uid, current_frame_of_reference_uid
        The frames the transform connects.
    parameters
        The :class:`RegistrationParameters` used.
    """

    transform: Any
    stages: tuple[str, ...]
    metric_value: float
    elapsed_s: float
    prior_frame_of_reference_uid: str
    current_frame_of_reference_uid: str
    parameters: RegistrationParameters

    def map_point(self, prior_lps_mm: Sequence[float]) -> Point:
        """A prior point (LPS mm) on the current scan, by the global transform (LPS mm)."""
        p = self.transform.TransformPoint(tuple(float(v) for v in prior_lps_mm))
        return (float(p[0]), float(p[1]), float(p[2]))


@dataclass(frozen=True, slots=True)
class TrackedLesion:
    """A prior lesion proposed on the current scan (a proposal until the reader accepts it).

    Attributes
    ----------
    prior_lps_mm
        The lesion's point on the prior scan (LPS mm, prior frame).
    mapped_lps_mm
        That point on the current scan (LPS mm, current frame): global transform, then local
        refinement.
    measurement
        The lesion re-segmented from the mapped point, or ``None`` when it could not be
        (``failure`` says why: e.g. it disappeared, or the point fell in normal tissue).
    """

    prior_lps_mm: Point
    mapped_lps_mm: Point
    measurement: LesionMeasurement | None
    failure: str | None

    @property
    def proposed_lps_mm(self) -> Point:
        """Where the lesion is proposed on the current scan (LPS mm): the centre of the
        re-segmented mask, or the mapped point when re-segmentation failed."""
        return self.mapped_lps_mm if self.measurement is None else self.measurement.centroid_lps_mm

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: the one output format of ``recistry track``."""
        return {
            "prior_lps_mm": [round(v, 2) for v in self.prior_lps_mm],
            "mapped_lps_mm": [round(v, 2) for v in self.mapped_lps_mm],
            "proposed_lps_mm": [round(v, 2) for v in self.proposed_lps_mm],
            "status": "proposed" if self.measurement is not None else "not-found",
            "failure": self.failure,
            "measurement": None if self.measurement is None else self.measurement.to_dict(),
        }


def _sitk() -> Any:
    import SimpleITK

    return SimpleITK


def _coarse(volume: Volume, grid_mm: float) -> Any:
    """The volume as a SimpleITK image, block-averaged to voxels of about ``grid_mm`` (in numpy,
    so the full-resolution CT is never copied) and clipped to −1000…2000 HU."""
    from dataclasses import replace

    from recistry.imaging.resample import to_sitk

    factors = [max(1, round(grid_mm / s)) for s in volume.spacing_mm]
    counts = [n // f for n, f in zip(volume.array.shape, factors, strict=True)]
    if min(counts) < 4:
        factors = [1, 1, 1]
        counts = list(volume.array.shape)
    fk, fj, fi = factors
    nk, nj, ni = counts
    source = np.asarray(volume.array)
    array = np.zeros((nk, nj, ni), dtype=np.float32)
    # Summing strided views reads the CT once and never copies it (a reshape of a cropped view
    # would copy all of it).
    for dk in range(fk):
        for dj in range(fj):
            for di in range(fi):
                array += source[dk : nk * fk : fk, dj : nj * fj : fj, di : ni * fi : fi]
    array /= fk * fj * fi
    np.clip(array, -1000.0, 2000.0, out=array)
    # The centre of the first block is half a block minus half a voxel from the first voxel.
    first = volume.index_to_patient(np.array([(f - 1) / 2 for f in factors], dtype=np.float64))[0]
    coarse = replace(
        volume,
        array=array,
        spacing_mm=(
            volume.spacing_mm[0] * fk,
            volume.spacing_mm[1] * fj,
            volume.spacing_mm[2] * fi,
        ),
        origin_mm=(float(first[0]), float(first[1]), float(first[2])),
        sop_instance_uids=(),
    )
    return to_sitk(coarse)


def _with_array(volume: Volume, array: npt.NDArray[Any]) -> Volume:
    from dataclasses import replace

    return replace(volume, array=array)


def _body_centroid(image: Any) -> npt.NDArray[np.float64]:
    sitk = _sitk()
    array = sitk.GetArrayViewFromImage(image)
    kji = np.argwhere(array > BODY_HU)
    if len(kji) == 0:
        raise InputError("the CT holds no body (no voxel above -500 HU)")
    centre_ijk = kji.mean(axis=0)[::-1]
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(centre_ijk.tolist()))


def _method(params: RegistrationParameters, *, iterations: int | None = None) -> Any:
    sitk = _sitk()
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(params.sampling_fraction, 20250101)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=1e-3,
        numberOfIterations=iterations or params.iterations,
        relaxationFactor=0.6,
        gradientMagnitudeTolerance=1e-6,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    return method


def _execute(method: Any, fixed: Any, moving: Any, prior: Volume, current: Volume) -> None:
    try:
        method.Execute(fixed, moving)
    except RuntimeError as exc:  # ITK: e.g. too few samples where the two images overlap
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown"
        raise InputError(
            f"cannot register series {prior.series_instance_uid} to "
            f"{current.series_instance_uid}: do they show the same body region? ({reason})"
        ) from exc


def register_ct(
    prior: Volume, current: Volume, *, parameters: RegistrationParameters | None = None
) -> CtRegistration:
    """Register the prior CT to the current CT (rigid, then affine).

    Parameters
    ----------
    prior, current
        CT volumes in HU of one patient (any frames of reference, any grids).
    parameters
        Tuning; the defaults are the documented method.

    Returns
    -------
    CtRegistration
        Maps prior LPS mm to current LPS mm.

    Raises
    ------
    InputError
        When either CT holds no body (nothing above -500 HU), or the registration fails (the
        images hardly overlap).
    """
    sitk = _sitk()
    params = parameters or RegistrationParameters()
    started = time.perf_counter()
    fixed = _coarse(prior, params.grid_mm)
    moving = _coarse(current, params.grid_mm)
    fixed_centre = _body_centroid(fixed)
    shift = _body_centroid(moving) - fixed_centre
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(fixed_centre.tolist())
    rigid.SetTranslation(shift.tolist())
    stages = ["centroids"]

    def run(transform: Any) -> tuple[Any, float]:
        method = _method(params)
        method.SetShrinkFactorsPerLevel(list(params.shrink_factors))
        method.SetSmoothingSigmasPerLevel(list(params.smoothing_sigmas_mm))
        method.SetInitialTransform(transform, inPlace=True)
        _execute(method, fixed, moving, prior, current)
        return transform, float(method.GetMetricValue())

    rigid, metric = run(rigid)
    stages.append("rigid")
    transform: Any = rigid
    if params.affine:
        affine = sitk.AffineTransform(3)
        affine.SetCenter(rigid.GetCenter())
        affine.SetMatrix(rigid.GetMatrix())
        affine.SetTranslation(rigid.GetTranslation())
        transform, metric = run(affine)
        stages.append("affine")
    if params.bspline_mesh > 0:
        bspline = sitk.BSplineTransformInitializer(fixed, [params.bspline_mesh] * 3)
        method = _method(params)
        method.SetOptimizerAsLBFGSB(
            gradientConvergenceTolerance=1e-5, numberOfIterations=params.iterations
        )
        method.SetShrinkFactorsPerLevel(list(params.shrink_factors))
        method.SetSmoothingSigmasPerLevel(list(params.smoothing_sigmas_mm))
        method.SetMovingInitialTransform(transform)
        method.SetInitialTransform(bspline, inPlace=True)
        _execute(method, fixed, moving, prior, current)
        metric = float(method.GetMetricValue())
        transform = sitk.CompositeTransform([transform, bspline])
        stages.append("bspline")
    elapsed = time.perf_counter() - started
    logger.info("registered %s to %s in %.2f s (%s)", prior.series_instance_uid,
                current.series_instance_uid, elapsed, "+".join(stages))  # fmt: skip
    return CtRegistration(
        transform=transform,
        stages=tuple(stages),
        metric_value=metric,
        elapsed_s=elapsed,
        prior_frame_of_reference_uid=prior.frame_of_reference_uid,
        current_frame_of_reference_uid=current.frame_of_reference_uid,
        parameters=params,
    )


def _local_image(
    volume: Volume, centre_lps_mm: Sequence[float], radius_mm: float, grid_mm: float
) -> Any:
    from recistry.imaging.resample import to_sitk

    sitk = _sitk()
    centre = np.rint(volume.patient_to_index(np.asarray(centre_lps_mm))[0]).astype(int)
    shape = np.asarray(volume.array.shape)
    reach = np.array([math.ceil(radius_mm / s) for s in volume.spacing_mm])
    lo = np.clip(centre - reach, 0, shape)
    hi = np.clip(centre + reach + 1, 0, shape)
    if np.any(hi - lo < 2):
        return None
    box = crop(volume, lo, hi)
    array = np.clip(np.asarray(box.array, dtype=np.float32), -1000.0, 2000.0)
    image = to_sitk(_with_array(box, array))
    factors = [max(1, round(grid_mm / s)) for s in volume.spacing_mm[::-1]]
    return sitk.BinShrink(image, factors) if max(factors) > 1 else image


def refine_point(
    registration: CtRegistration,
    prior: Volume,
    current: Volume,
    prior_lps_mm: Sequence[float],
) -> Point:
    """A prior point on the current scan, corrected for local deformation.

    The global transform is followed by a translation fitted on a box of
    ``refine_radius_mm`` around the point (prior CT) against the current CT, at
    ``refine_grid_mm`` voxels; the mapped point moves by that translation. Falls back to the
    global mapping when the box leaves either volume.
    """
    sitk = _sitk()
    params = registration.parameters
    mapped = registration.map_point(prior_lps_mm)
    fixed = _local_image(prior, prior_lps_mm, params.refine_radius_mm, params.refine_grid_mm)
    moving = _local_image(current, mapped, params.refine_radius_mm * 1.5, params.refine_grid_mm)
    if fixed is None or moving is None:
        return mapped
    local = sitk.TranslationTransform(3)
    method = _method(params, iterations=40)
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 0.0])
    method.SetMovingInitialTransform(registration.transform)
    method.SetInitialTransform(local, inPlace=True)
    try:
        method.Execute(fixed, moving)
    except RuntimeError as exc:  # too few overlapping samples at the edge of a volume
        logger.info("local refinement at %s skipped: %s", prior_lps_mm, exc)
        return mapped
    composite = sitk.CompositeTransform([registration.transform, local])
    p = composite.TransformPoint(tuple(float(v) for v in prior_lps_mm))
    return (float(p[0]), float(p[1]), float(p[2]))


def track_lesions(
    registration: CtRegistration,
    prior: Volume,
    current: Volume,
    prior_points_lps_mm: Sequence[Sequence[float]],
    *,
    current_pet: Volume | None = None,
    refine: bool = True,
) -> tuple[TrackedLesion, ...]:
    """Propose each prior lesion on the current scan: map its point, re-segment there.

    Parameters
    ----------
    registration
        From :func:`register_ct` (prior → current).
    prior, current
        The two CTs (HU).
    prior_points_lps_mm
        A point inside each prior lesion (LPS mm, prior frame), e.g. its long-axis mid-point.
    current_pet
        PET of the current study (same frame as ``current``), for SUV and PET bounding.
    refine
        Correct each point for local deformation (:func:`refine_point`).

    Returns
    -------
    tuple of TrackedLesion
        In the order of the points.
    """
    out = []
    for point in prior_points_lps_mm:
        prior_point = (float(point[0]), float(point[1]), float(point[2]))
        mapped = (
            refine_point(registration, prior, current, prior_point)
            if refine
            else registration.map_point(prior_point)
        )
        try:
            measurement = segment_lesion(current, mapped, pet=current_pet)
            failure = None
        except InputError as exc:
            measurement, failure = None, exc.message
        out.append(TrackedLesion(prior_point, mapped, measurement, failure))
    return tuple(out)
