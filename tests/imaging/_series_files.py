"""Write small real CT and PET series with pydicom for the loader tests.

Every file is a real DICOM file written by pydicom and read back by the code under test; the
tests change one attribute at a time to build each bad-input case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from recistry.imaging.suv import frame_average_offset_s

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"

Edit = Callable[[int, Dataset], None]


def image_header(sop_class: str, modality: str, study: str, series: str, frame: str) -> Dataset:
    """The patient, study, series and pixel-description attributes of a test image header."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "TEST^LOADER"
    ds.PatientID = "LOAD-001"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study
    ds.StudyDate = "20240301"
    ds.StudyTime = "090000"
    ds.StudyDescription = "loader test"
    ds.AccessionNumber = "A1"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesInstanceUID = series
    ds.Modality = modality
    ds.FrameOfReferenceUID = frame
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "recistry tests"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _save(ds: Dataset, path: Path, implicit: bool = False) -> None:
    # enforce_file_format fills in the rest of the file meta (SOP class and instance UIDs).
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_ct_series(
    folder: Path,
    stored: np.ndarray,
    *,
    spacing_mm: tuple[float, float, float] = (2.5, 0.8, 0.7),
    origin_mm: tuple[float, float, float] = (-100.0, -120.0, -50.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    slopes: Sequence[float] | None = None,
    intercepts: Sequence[float] | None = None,
    edit: Edit | None = None,
    names: Callable[[int], str] = lambda k: f"ct_{k:03d}.dcm",
    implicit: bool = False,
    study_uid: str | None = None,
    frame_uid: str | None = None,
    description: str = "CT test",
) -> list[Path]:
    """Write ``stored`` [k, j, i] (int16 stored values) as one CT series; slice k at
    ``origin + k * spacing[0] * normal``. Returns the paths in slice order."""
    study = study_uid or generate_uid()
    series = generate_uid()
    frame = frame_uid or generate_uid()
    iop = np.asarray(orientation, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    paths = []
    for k in range(stored.shape[0]):
        ds = image_header(CT_STORAGE, "CT", study, series, frame)
        ds.SeriesDescription = description
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PatientPosition = "HFS"
        position = np.asarray(origin_mm) + k * spacing_mm[0] * normal
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in iop]
        ds.PixelSpacing = [spacing_mm[1], spacing_mm[2]]
        ds.SliceThickness = spacing_mm[0]
        ds.Rows, ds.Columns = stored.shape[1:]
        ds.RescaleSlope = slopes[k] if slopes is not None else 1
        ds.RescaleIntercept = intercepts[k] if intercepts is not None else -1024
        ds.KVP = 120
        ds.AcquisitionNumber = 1
        ds.PixelData = np.ascontiguousarray(stored[k], dtype="<i2").tobytes()
        if edit is not None:
            edit(k, ds)
        path = folder / names(k)
        _save(ds, path, implicit)
        paths.append(path)
    return paths


def write_pet_series(
    folder: Path,
    stored: np.ndarray,
    *,
    slopes: Sequence[float],
    spacing_mm: tuple[float, float, float] = (4.0, 4.0, 4.0),
    origin_mm: tuple[float, float, float] = (-100.0, -120.0, -50.0),
    weight_kg: float | None = 70.0,
    size_m: float | None = 1.75,
    sex: str = "M",
    dose_bq: float | None = 150e6,
    half_life_s: float | None = 4062.6,
    injection: dt.datetime = dt.datetime(2024, 3, 1, 10, 0, 0),
    series_time: dt.datetime = dt.datetime(2024, 3, 1, 11, 0, 0),
    units: str = "BQML",
    decay_correction: str | None = "START",
    edit: Edit | None = None,
    study_uid: str | None = None,
    frame_uid: str | None = None,
) -> list[Path]:
    """Write a Ga-68 DOTATATE PET series; activity (Bq/ml) = stored × slopes[k]."""
    study = study_uid or generate_uid()
    series = generate_uid()
    frame = frame_uid or generate_uid()
    paths = []
    for k in range(stored.shape[0]):
        ds = image_header(PET_STORAGE, "PT", study, series, frame)
        ds.SeriesDescription = "PET Ga-68 DOTATATE"
        ds.SeriesNumber = 3
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        ds.NumberOfSlices = stored.shape[0]
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.SeriesDate = series_time.strftime("%Y%m%d")
        ds.SeriesTime = series_time.strftime("%H%M%S")
        ds.AcquisitionDate = series_time.strftime("%Y%m%d")
        ds.AcquisitionTime = series_time.strftime("%H%M%S")
        ds.Units = units
        ds.CountsSource = "EMISSION"
        ds.SeriesType = ["STATIC", "IMAGE"]
        ds.CorrectedImage = ["ATTN", "DECY", "SCAT", "DTIM"]
        if decay_correction is not None:
            ds.DecayCorrection = decay_correction
        ds.DecayFactor = 1.0
        # Consistent with a series reference time at the acquisition start (DICOM C.8.9.4.1.5).
        ds.ActualFrameDuration = 180000
        ds.FrameReferenceTime = f"{1000 * frame_average_offset_s(180, half_life_s or 4062.6):.3f}"
        if weight_kg is not None:
            ds.PatientWeight = weight_kg
        if size_m is not None:
            ds.PatientSize = size_m
        ds.PatientSex = sex
        item = Dataset()
        item.Radiopharmaceutical = "Ga-68 DOTATATE"
        item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S")
        item.RadiopharmaceuticalStartTime = injection.strftime("%H%M%S")
        if dose_bq is not None:
            item.RadionuclideTotalDose = dose_bq
        if half_life_s is not None:
            item.RadionuclideHalfLife = half_life_s
        code = Dataset()
        code.CodeValue = "35337001"
        code.CodingSchemeDesignator = "SCT"
        code.CodeMeaning = "^68^Gallium"
        item.RadionuclideCodeSequence = [code]
        ds.RadiopharmaceuticalInformationSequence = [item]
        position = np.asarray(origin_mm) + np.array([0.0, 0.0, k * spacing_mm[0]])
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spacing_mm[1], spacing_mm[2]]
        ds.SliceThickness = spacing_mm[0]
        ds.Rows, ds.Columns = stored.shape[1:]
        ds.RescaleSlope = f"{slopes[k]:.10g}"
        ds.RescaleIntercept = 0
        ds.PixelData = np.ascontiguousarray(stored[k], dtype="<i2").tobytes()
        if edit is not None:
            edit(k, ds)
        path = folder / f"pt_{k:03d}.dcm"
        _save(ds, path)
        paths.append(path)
    return paths
