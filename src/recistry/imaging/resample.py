"""Place one volume on another's grid (PET onto CT), and find the voxels under points and lines.

PET and CT of one PET/CT study share a DICOM frame of reference (PS3.3 C.7.4.1), so patient
coordinates (LPS mm) are common to both and no registration is needed: resampling is a pure
change of grid, done by SimpleITK with the identity transform.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from recistry.errors import DicomError
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

Interpolation = Literal["linear", "nearest", "bspline"]


def _sitk() -> Any:
    # Imported on use (the CLI starts without it); typed as Any because SimpleITK's SWIG
    # bindings declare no types.
    import SimpleITK

    return SimpleITK


def to_sitk(volume: Volume) -> Any:
    """The volume as a ``SimpleITK.Image`` (spacing, origin and direction in LPS mm)."""
    sitk = _sitk()

    image = sitk.GetImageFromArray(volume.array)
    image.SetSpacing(tuple(float(s) for s in volume.spacing_mm[::-1]))
    image.SetOrigin(tuple(float(o) for o in volume.origin_mm))
    image.SetDirection(tuple(float(d) for d in np.asarray(volume.direction).ravel()))
    return image


def resample_to(
    volume: Volume,
    reference: Volume,
    *,
    interpolation: Interpolation = "linear",
    outside_value: float = 0.0,
    require_same_frame: bool = True,
) -> Volume:
    """Resample ``volume`` onto the voxel grid of ``reference``.

    Parameters
    ----------
    volume
        The volume to move, e.g. a PET SUV volume.
    reference
        The volume whose grid (shape, spacing, origin, direction) the result takes, e.g. the CT.
    interpolation
        ``"linear"`` (default; SUV between voxel centres), ``"nearest"`` (labels, or to keep
        original voxel values) or ``"bspline"``.
    outside_value
        Value of reference voxels that fall outside ``volume`` (0 SUV by default).
    require_same_frame
        Refuse volumes whose FrameOfReferenceUID differs: their patient coordinates are not
        comparable without a registration.

    Returns
    -------
    Volume
        float32 array on the reference grid; identity, units and provenance of ``volume``
        (provenance adds ``resampled_to`` and ``interpolation``); ``sop_instance_uids`` empty,
        since its slices are no longer the source's DICOM instances.

    Raises
    ------
    DicomError
        When the frames of reference differ and ``require_same_frame`` is set.
    """
    sitk = _sitk()

    if require_same_frame and volume.frame_of_reference_uid != reference.frame_of_reference_uid:
        raise DicomError(
            f"series {volume.series_instance_uid} (FrameOfReferenceUID "
            f"{volume.frame_of_reference_uid}) and series {reference.series_instance_uid} "
            f"({reference.frame_of_reference_uid}) are not in one frame of reference; they "
            "need a registration before one can be resampled onto the other",
            tag="FrameOfReferenceUID (0020,0052)",
        )
    methods = {
        "linear": sitk.sitkLinear,
        "nearest": sitk.sitkNearestNeighbor,
        "bspline": sitk.sitkBSpline,
    }
    source = volume.array if volume.array.dtype == np.float32 else volume.array.astype(np.float32)
    image = to_sitk(replace(volume, array=source))
    resampler = sitk.ResampleImageFilter()
    # The output grid is given directly: no reference image has to be allocated.
    resampler.SetSize([int(n) for n in reference.array.shape[::-1]])
    resampler.SetOutputSpacing([float(s) for s in reference.spacing_mm[::-1]])
    resampler.SetOutputOrigin([float(o) for o in reference.origin_mm])
    resampler.SetOutputDirection([float(d) for d in np.asarray(reference.direction).ravel()])
    resampler.SetTransform(sitk.Transform())
    resampler.SetInterpolator(methods[interpolation])
    resampler.SetDefaultPixelValue(float(outside_value))
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    resampled = resampler.Execute(image)
    array = sitk.GetArrayFromImage(resampled)
    provenance = dict(volume.provenance)
    provenance["resampled_to"] = reference.series_instance_uid
    provenance["interpolation"] = interpolation
    return Volume(
        array=array,
        spacing_mm=reference.spacing_mm,
        origin_mm=reference.origin_mm,
        direction=np.array(reference.direction, dtype=np.float64),
        frame_of_reference_uid=reference.frame_of_reference_uid,
        sop_instance_uids=(),
        series_instance_uid=volume.series_instance_uid,
        study_instance_uid=volume.study_instance_uid,
        modality=volume.modality,
        units=volume.units,
        provenance=provenance,
    )


def voxel_at(volume: Volume, point_mm: npt.ArrayLike) -> tuple[int, int, int] | None:
    """Index ``(k, j, i)`` of the voxel containing an LPS point (mm), or ``None`` if outside."""
    kji = np.rint(volume.patient_to_index(point_mm)[0]).astype(int)
    if np.any(kji < 0) or np.any(kji >= np.asarray(volume.array.shape)):
        return None
    return (int(kji[0]), int(kji[1]), int(kji[2]))


def voxels_on_segment(
    volume: Volume, start_mm: npt.ArrayLike, end_mm: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """The voxels ``(k, j, i)`` (M×3, in order from start to end) that a straight segment
    between two LPS points (mm) passes through, e.g. a CT line's PET voxels.

    The segment is sampled at a quarter of the smallest voxel spacing; voxels outside the volume
    are dropped.
    """
    a = np.asarray(start_mm, dtype=np.float64)
    b = np.asarray(end_mm, dtype=np.float64)
    length = float(np.linalg.norm(b - a))
    steps = max(1, int(np.ceil(length / (min(volume.spacing_mm) / 4.0))))
    points = a + np.linspace(0.0, 1.0, steps + 1)[:, None] * (b - a)
    kji = np.rint(volume.patient_to_index(points)).astype(np.int64)
    inside = np.all((kji >= 0) & (kji < np.asarray(volume.array.shape)), axis=1)
    kji = kji[inside]
    if len(kji) == 0:
        return kji.reshape(0, 3)
    keep = np.ones(len(kji), dtype=bool)
    keep[1:] = np.any(np.diff(kji, axis=0) != 0, axis=1)
    return kji[keep]
