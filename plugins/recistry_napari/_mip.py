"""Coronal maximum-intensity projection of a PET volume, and the hot spot under a click. No Qt.

The MIP is taken along the patient's anterior-posterior axis (LPS y), so it shows the whole
body from the front, head up, patient right on the left of the image (radiological). A click on
it gives the (z, x) of the pixel; the depth (y) is where the maximum along that ray lies, so the
axial views can jump to the hot spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recistry.imaging.volume import Volume

__all__ = ["CoronalMip", "coronal_mip"]


@dataclass(frozen=True, slots=True)
class CoronalMip:
    """A coronal MIP in SUV: ``image[row, column]``, row 0 the most superior slice.

    ``depth[row, column]`` is the volume's j (row) index of the maximum along each ray.
    """

    image: npt.NDArray[np.float32]
    depth: npt.NDArray[np.intp]
    volume: Volume

    def hot_spot_lps(self, row: int, column: int) -> tuple[float, float, float]:
        """Patient LPS mm of the voxel whose value the MIP shows at (row, column)."""
        k = self.volume.array.shape[0] - 1 - row
        j = int(self.depth[row, column])
        point = self.volume.index_to_patient(np.array([[k, j, column]], dtype=float))[0]
        return (float(point[0]), float(point[1]), float(point[2]))

    def aspect(self) -> float:
        """Height / width of a MIP pixel on screen (slice spacing / column spacing)."""
        return float(self.volume.spacing_mm[0] / self.volume.spacing_mm[2])


def coronal_mip(volume: Volume) -> CoronalMip:
    """MIP of ``volume`` (``[k, j, i]``, LPS orientation) along j (anterior → posterior).

    Rows are flipped so that the most superior slice (highest k for an LPS volume) is on top.
    """
    data = np.asarray(volume.array)
    depth = np.argmax(data, axis=1)
    image = np.take_along_axis(data, depth[:, None, :], axis=1)[:, 0, :]
    return CoronalMip(
        image=np.ascontiguousarray(image[::-1], dtype=np.float32),
        depth=np.ascontiguousarray(depth[::-1]),
        volume=volume,
    )
