"""CT series → HU volume: per-slice rescale, slice order, geometry, and refusals of bad series.

Geometry rules: DICOM PS3.3 C.7.6.2.1.1 (ImagePositionPatient / ImageOrientationPatient define the
slice plane; PixelSpacing is row spacing then column spacing), C.11.1.1.2 (Modality LUT rescale).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from recistry.errors import DicomError
from recistry.imaging.ct import load_ct

from ._series_files import write_ct_series


def _stored(shape: tuple[int, int, int], seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-1000, 3000, size=shape).astype(np.int16)


def test_pydicom_ct_small_gives_rescaled_hu_and_its_geometry() -> None:
    """A real scanner file (pydicom's CT_small.dcm, GE HiSpeed): HU = stored × slope + intercept."""
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    vol = load_ct([path])
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert vol.array.shape == (1, ds.Rows, ds.Columns)
    np.testing.assert_array_equal(vol.array[0], expected)
    np.testing.assert_allclose(vol.origin_mm, [float(v) for v in ds.ImagePositionPatient])
    assert vol.spacing_mm[1:] == (float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1]))
    assert vol.spacing_mm[0] == float(ds.SliceThickness)
    assert vol.sop_instance_uids == (ds.SOPInstanceUID,)
    assert vol.frame_of_reference_uid == ds.FrameOfReferenceUID
    assert vol.units == "HU" and vol.modality == "CT"


@pytest.mark.parametrize(
    "orientation",
    [(1, 0, 0, 0, 1, 0), (0.866025, 0.5, 0, -0.5, 0.866025, 0), (0, 1, 0, 0, 0, -1)],
    ids=["axial", "rotated-axial", "sagittal"],
)
def test_shuffled_files_match_simpleitk_volume_and_geometry(
    tmp_path: Path, orientation: tuple[float, ...]
) -> None:
    """Files in any order, per-slice RescaleSlope/Intercept: same HU and geometry as SimpleITK's
    ImageSeriesReader (GDCM sorts by position along the normal too)."""
    stored = _stored((9, 24, 20))
    slopes = [1, 0.5, 2, 1, 1, 0.25, 1, 3, 1]
    intercepts = [-1024, -1000, -1024, 0, -1024, -1024, 10, -1024, -1024]
    paths = write_ct_series(
        tmp_path, stored, orientation=orientation, slopes=slopes, intercepts=intercepts
    )
    shuffled = list(paths)
    random.Random(3).shuffle(shuffled)
    vol = load_ct(shuffled)

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for p in paths])
    reader.SetOutputPixelType(sitk.sitkFloat32)  # SimpleITK #1636: per-slice slopes need float
    ref = reader.Execute()
    np.testing.assert_allclose(vol.array, sitk.GetArrayFromImage(ref), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(vol.origin_mm, ref.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(vol.spacing_mm[::-1], ref.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(vol.direction, np.reshape(ref.GetDirection(), (3, 3)), atol=1e-5)
    # and against the plain definition, slice by slice, in patient space
    for k in (0, 4, 8):
        ds = pydicom.dcmread(paths[k])
        np.testing.assert_allclose(
            vol.array[k],
            ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            vol.index_to_patient([k, 0, 0])[0],
            [float(v) for v in ds.ImagePositionPatient],
            atol=1e-3,
        )
        assert vol.sop_instance_uids[k] == ds.SOPInstanceUID


def test_pixel_spacing_is_row_then_column(tmp_path: Path) -> None:
    """PS3.3 C.7.6.2.1.1: PixelSpacing[0] is between rows (j), [1] between columns (i)."""
    paths = write_ct_series(tmp_path, _stored((3, 8, 6)), spacing_mm=(3.0, 0.9, 0.6))
    vol = load_ct(paths)
    p = vol.index_to_patient([[0, 1, 0], [0, 0, 1]])
    origin = np.asarray(vol.origin_mm)
    assert np.linalg.norm(p[0] - origin) == pytest.approx(0.9)
    assert np.linalg.norm(p[1] - origin) == pytest.approx(0.6)
    np.testing.assert_allclose(vol.patient_to_index(p), [[0, 1, 0], [0, 0, 1]], atol=1e-9)


def test_implicit_vr_files_and_12_bit_unsigned_data_are_read(tmp_path: Path) -> None:
    """BitsStored 12 unsigned: bits above BitsStored are not pixel data (PS3.5 §8.1.1)."""
    stored = np.abs(_stored((3, 10, 10))) % 4096

    def garbage_high_bits(k: int, ds: pydicom.Dataset) -> None:
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
        noisy = stored[k].astype(np.uint16) | np.uint16(0xA000)
        ds.PixelData = noisy.astype("<u2").tobytes()

    paths = write_ct_series(tmp_path, stored, edit=garbage_high_bits, implicit=True)
    vol = load_ct(paths)
    np.testing.assert_array_equal(vol.array, stored.astype(np.float32) - 1024)


def test_bits_stored_and_sign_are_applied_per_slice_when_they_differ(tmp_path: Path) -> None:
    """One slice with 12 bits stored in a 16-bit signed series: only that slice is masked."""
    stored = np.abs(_stored((4, 10, 10))) % 4096

    def one_12_bit_slice(k: int, ds: pydicom.Dataset) -> None:
        if k == 2:
            ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
            noisy = stored[k].astype(np.uint16) | np.uint16(0xA000)
            ds.PixelData = noisy.astype("<u2").tobytes()

    vol = load_ct(write_ct_series(tmp_path, stored, edit=one_12_bit_slice))
    np.testing.assert_array_equal(vol.array, stored.astype(np.float32) - 1024)


def _message(exc: pytest.ExceptionInfo[DicomError]) -> str:
    return str(exc.value)


def test_missing_slice_is_refused_naming_the_series(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, _stored((6, 8, 8)), description="chest venous")
    with pytest.raises(DicomError) as exc:
        load_ct(paths[:2] + paths[3:])
    assert "1 missing slice(s)" in _message(exc) and "chest venous" in _message(exc)


def test_duplicate_slice_is_refused(tmp_path: Path) -> None:
    paths = write_ct_series(
        tmp_path,
        _stored((4, 8, 8)),
        edit=lambda k, ds: k == 3 and setattr(ds, "ImagePositionPatient", [-100, -120, -45]),
    )
    with pytest.raises(DicomError) as exc:
        load_ct(paths)
    assert "duplicate slice position" in _message(exc)
    assert "ImagePositionPatient (0020,0032)" in _message(exc)


def test_non_uniform_spacing_is_refused(tmp_path: Path) -> None:
    def shift(k: int, ds: pydicom.Dataset) -> None:
        if k >= 3:
            ds.ImagePositionPatient = [-100, -120, -50 + 2.5 * k + 1.0]

    paths = write_ct_series(tmp_path, _stored((6, 8, 8)), edit=shift)
    with pytest.raises(DicomError, match="non-uniform slice spacing"):
        load_ct(paths)


def test_mixed_orientations_are_refused(tmp_path: Path) -> None:
    def tilt(k: int, ds: pydicom.Dataset) -> None:
        if k == 2:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9950042, -0.0998334]

    paths = write_ct_series(tmp_path, _stored((4, 8, 8)), edit=tilt)
    with pytest.raises(DicomError) as exc:
        load_ct(paths)
    assert "mixed orientations" in _message(exc)
    assert str(paths[2]) in _message(exc)


def test_gantry_tilt_warns_and_keeps_exact_slice_positions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Slice origins that drift in-plane (tilted gantry): warned, and voxel [k,0,0] still maps to
    slice k's ImagePositionPatient."""

    def tilt(k: int, ds: pydicom.Dataset) -> None:
        ds.ImagePositionPatient = [-100, -120 + 0.5 * k, -50 + 2.5 * k]

    paths = write_ct_series(tmp_path, _stored((5, 8, 8)), edit=tilt)
    with caplog.at_level(logging.WARNING):
        vol = load_ct(paths)
    assert "gantry tilt" in caplog.text
    assert float(vol.provenance["gantry_tilt_deg"]) == pytest.approx(
        np.degrees(np.arctan(0.5 / 2.5)), abs=1e-3
    )
    for k in range(5):
        np.testing.assert_allclose(
            vol.index_to_patient([k, 0, 0])[0], [-100, -120 + 0.5 * k, -50 + 2.5 * k], atol=1e-4
        )


def test_files_of_two_series_are_refused(tmp_path: Path) -> None:
    a = write_ct_series(tmp_path / "a", _stored((2, 8, 8)))
    b = write_ct_series(tmp_path / "b", _stored((2, 8, 8)))
    with pytest.raises(DicomError, match="2 different series"):
        load_ct(a + b)


def test_truncated_file_is_refused_naming_it(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, _stored((3, 16, 16)))
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) - 100])
    with pytest.raises(DicomError) as exc:
        load_ct(paths)
    assert str(paths[1]) in _message(exc) and "truncated" in _message(exc)


def test_non_dicom_file_is_refused_naming_it(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, _stored((2, 8, 8)))
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image\n" * 20)
    with pytest.raises(DicomError) as exc:
        load_ct([*paths, junk])
    assert str(junk) in _message(exc) and "not a DICOM file" in _message(exc)


@pytest.mark.parametrize(
    ("keyword", "label"),
    [
        ("ImagePositionPatient", "ImagePositionPatient (0020,0032)"),
        ("PixelSpacing", "PixelSpacing (0028,0030)"),
        ("RescaleSlope", "RescaleSlope (0028,1053)"),
        ("ImageOrientationPatient", "ImageOrientationPatient (0020,0037)"),
    ],
)
def test_missing_required_tag_is_named_with_the_file(
    tmp_path: Path, keyword: str, label: str
) -> None:
    paths = write_ct_series(
        tmp_path, _stored((3, 8, 8)), edit=lambda k, ds: k == 1 and delattr(ds, keyword)
    )
    with pytest.raises(DicomError) as exc:
        load_ct(paths)
    assert label in _message(exc) and str(paths[1]) in _message(exc)


def test_non_ct_series_is_refused(tmp_path: Path) -> None:
    paths = write_ct_series(
        tmp_path, _stored((2, 8, 8)), edit=lambda k, ds: setattr(ds, "Modality", "MR")
    )
    with pytest.raises(DicomError, match="not CT"):
        load_ct(paths)


_DICOMDIR_TESTS = Path(get_testdata_file("CT_small.dcm")).parent / "dicomdirtests"


def test_real_gated_ct_series_matches_simpleitk() -> None:
    """pydicom's dicomdirtests/98892001/CT5N: five real (downsampled) scanner CT slices."""
    paths = sorted(str(p) for p in (_DICOMDIR_TESTS / "98892001" / "CT5N").iterdir())
    vol = load_ct(paths)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(
        list(
            sitk.ImageSeriesReader.GetGDCMSeriesFileNames(
                str(_DICOMDIR_TESTS / "98892001" / "CT5N")
            )
        )
    )
    reader.SetOutputPixelType(sitk.sitkFloat32)
    ref = reader.Execute()
    np.testing.assert_allclose(vol.array, sitk.GetArrayFromImage(ref), atol=1e-3)
    np.testing.assert_allclose(vol.origin_mm, ref.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(vol.spacing_mm[::-1], ref.GetSpacing(), atol=1e-4)


def test_real_incomplete_series_is_refused_as_missing_slices() -> None:
    """dicomdirtests/77654033/CT2 keeps 4 slices of a brain CT: the gap is named, not stacked."""
    paths = sorted((_DICOMDIR_TESTS / "77654033" / "CT2").iterdir())
    with pytest.raises(DicomError, match=r"missing slice\(s\) in series 'Routine Brain'"):
        load_ct(paths)


def test_real_scout_pair_is_refused_as_mixed_orientations() -> None:
    """dicomdirtests/98892001/CT2N: an AP and a lateral scout in one series."""
    paths = sorted((_DICOMDIR_TESTS / "98892001" / "CT2N").iterdir())
    with pytest.raises(DicomError, match="mixed orientations in series 'Scout'"):
        load_ct(paths)
