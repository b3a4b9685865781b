"""Write a tiny CT series with pydicom for geometry tests: unequal row and column spacing.

PixelSpacing is (row spacing, column spacing) = (Δy, Δx) (DICOM PS3.3 C.7.6.2.1.1); the files
are written with InstanceNumber reversed so that a reader sorting by it, not by position along
the slice normal, would be caught.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


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

    Slice ``k`` has ImagePositionPatient ``origin + (0, 0, k × slice_spacing)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    n_slices, rows, columns = shape
    paths = []
    for k in range(n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientID = patient_id
        ds.PatientName = "Geometry^Test"
        # Type 2 attributes of the Patient and General Study modules (PS3.3 C.7.1.1, C.7.2.1).
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyTime = "090000"
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.StudyDate = study_date.strftime("%Y%m%d")
        ds.SeriesNumber = 1
        ds.InstanceNumber = n_slices - k  # reversed on purpose
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        x, y, z = origin_lps_mm
        ds.ImagePositionPatient = [x, y, z + k * slice_spacing_mm]
        ds.PixelSpacing = [row_spacing_mm, column_spacing_mm]
        ds.SliceThickness = slice_thickness_mm or slice_spacing_mm
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        pixels = (1024 + rng.normal(40, 5, (rows, columns))).astype(np.uint16)
        ds.PixelData = pixels.tobytes()
        path = folder / f"IM{n_slices - k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
