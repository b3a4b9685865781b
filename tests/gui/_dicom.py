"""Write a tiny CT series with pydicom for geometry tests: unequal row and column spacing.

PixelSpacing is (row spacing, column spacing) = (Δy, Δx) (DICOM PS3.3 C.7.6.2.1.1); the files
are written with InstanceNumber reversed so that a reader sorting by it, not by position along
the slice normal, would be caught.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tests.imaging import _series_files


def write_ct_series(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (6, 24, 28),
    row_spacing_mm: float = 0.8,
    column_spacing_mm: float = 0.7,
    slice_spacing_mm: float = 2.5,
    slice_thickness_mm: float | None = None,
    origin_lps_mm: tuple[float, float, float] = (-10.5, -20.0, -40.0),
    patient_id: str = "GEOM1",
    study_date: dt.date = dt.date(2024, 1, 15),
    seed: int = 7,
) -> list[Path]:
    """Write an axial CT series (HU = stored − 1024); returns the file paths, slice 0 first.

    Slice ``k`` has ImagePositionPatient ``origin + (0, 0, k × slice_spacing)``; its
    InstanceNumber and file name count down (``IM0006.dcm`` is slice 0).
    """
    n_slices = shape[0]
    stored = (1024 + np.random.default_rng(seed).normal(40, 5, shape)).astype(np.int16)

    def edit(k: int, ds: Dataset) -> None:
        ds.PatientID = patient_id
        ds.PatientName = "Geometry^Test"
        ds.StudyDate = study_date.strftime("%Y%m%d")
        ds.InstanceNumber = n_slices - k  # reversed on purpose
        ds.SliceThickness = slice_thickness_mm or slice_spacing_mm

    return _series_files.write_ct_series(
        folder,
        stored,
        spacing_mm=(slice_spacing_mm, row_spacing_mm, column_spacing_mm),
        origin_mm=origin_lps_mm,
        edit=edit,
        names=lambda k: f"IM{n_slices - k:04d}.dcm",
        description="geometry test",
    )
