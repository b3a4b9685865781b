"""A 3-D image with its geometry in patient millimetres (DICOM LPS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True, eq=False)
class Volume:
    """A scalar volume and the geometry that places it in the patient.

    Attributes
    ----------
    array
        Voxel values indexed ``[slice, row, column]`` (k, j, i): Hounsfield units for CT, SUV
        (g/ml) for PET.
    spacing_mm
        Voxel size ``(slice, row, column)`` in mm. The slice step is the distance between
        consecutive slice origins along the slice normal, not SliceThickness.
    origin_mm
        Patient position (LPS, mm) of the centre of voxel ``[0, 0, 0]``.
    direction
        3×3 matrix whose columns are the unit LPS vectors of the column (i), row (j) and slice (k)
        index directions, the SimpleITK convention.
    frame_of_reference_uid
        The DICOM FrameOfReferenceUID shared by the series of one acquisition.
    sop_instance_uids
        The SOPInstanceUID of each slice, in slice order.
    series_instance_uid, study_instance_uid, modality
        Identity of the series the volume came from.
    units
        ``"HU"``, ``"SUVbw"`` … what the array holds.
    provenance
        How the values were derived (for the audit trail), e.g. which rule chose the PET scan time.
    frame_numbers
        For a volume read from a multi-frame image, the 1-based frame number of each slice in
        slice order (with ``sop_instance_uids`` it says which frame each slice is); empty for
        single-frame series.
    """

    array: npt.NDArray[Any]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    direction: npt.NDArray[np.float64]
    frame_of_reference_uid: str
    sop_instance_uids: tuple[str, ...]
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    units: str
    provenance: dict[str, str] = field(default_factory=dict)
    frame_numbers: tuple[int, ...] = ()

    def index_to_patient(self, kji: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map voxel indices ``(k, j, i)`` (N×3, may be fractional) to LPS mm (N×3)."""
        kji_arr = np.atleast_2d(np.asarray(kji, dtype=np.float64))
        ijk = kji_arr[:, ::-1] * np.asarray(self.spacing_mm[::-1])
        out: npt.NDArray[np.float64] = np.asarray(self.origin_mm) + ijk @ self.direction.T
        return out

    def patient_to_index(self, lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map LPS mm points (N×3) to fractional voxel indices ``(k, j, i)`` (N×3)."""
        lps_arr = np.atleast_2d(np.asarray(lps, dtype=np.float64))
        ijk = (lps_arr - np.asarray(self.origin_mm)) @ np.linalg.inv(self.direction).T
        out: npt.NDArray[np.float64] = (ijk / np.asarray(self.spacing_mm[::-1]))[:, ::-1]
        return out
