"""Between recistry's patient frame (DICOM LPS, mm) and napari's world coordinates.

napari orders world axes like array axes, slowest first. recistry shows volumes so that napari
world axes are the LPS axes in reverse order, ``(z, y, x)`` = (superior, posterior, left) in mm:
an axial slice is then drawn rows down (posterior at the bottom) and columns right (patient left
on screen right), the radiological convention, with no flips. Only this module knows that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from recistry.imaging.volume import Volume

WORLD_AXIS_LABELS = ("S (mm)", "P (mm)", "L (mm)")
"""napari world axis labels: LPS z, y, x."""


def lps_to_world(lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map LPS points ``(x, y, z)`` in mm (N×3 or 3) to napari world ``(z, y, x)`` mm."""
    return np.asarray(lps, dtype=np.float64)[..., ::-1].copy()


def world_to_lps(world: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map napari world points ``(z, y, x)`` in mm (N×3 or 3) to LPS ``(x, y, z)`` mm."""
    return np.asarray(world, dtype=np.float64)[..., ::-1].copy()


def layer_transform(volume: Volume) -> dict[str, Any]:
    """Keyword arguments that place ``volume`` in napari world (LPS z, y, x) millimetres.

    Parameters
    ----------
    volume
        Array indexed ``[k, j, i]``, ``spacing_mm`` in (k, j, i) order, ``origin_mm`` in LPS
        ``(x, y, z)``, ``direction`` columns = LPS unit vectors of i, j, k.

    Returns
    -------
    dict
        ``scale`` (mm per voxel, k, j, i), ``translate`` (world mm of voxel [0, 0, 0]: DICOM
        ImagePositionPatient is the voxel centre, as napari's pixel centres are, so no half-voxel
        shift), ``rotate`` (3×3, the identity for a volume already in LPS orientation), ``units``
        and ``axis_labels``, ready for ``viewer.add_image`` or ``add_shapes``.
    """
    reverse = np.eye(3)[::-1]
    # direction maps (i, j, k) to (x, y, z); conjugating with the axis reversal maps (k, j, i)
    # to (z, y, x), napari's order on both sides.
    rotate = reverse @ np.asarray(volume.direction, dtype=np.float64) @ reverse
    return {
        "scale": tuple(float(s) for s in volume.spacing_mm),
        "translate": tuple(float(t) for t in volume.origin_mm[::-1]),
        "rotate": rotate,
        "units": ("mm", "mm", "mm"),
        "axis_labels": WORLD_AXIS_LABELS,
    }
