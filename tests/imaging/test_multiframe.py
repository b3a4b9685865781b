"""Enhanced and Legacy Converted Enhanced CT/PET load as the same volumes as single-frame series.

Legacy Converted Enhanced CT and PET objects (PS3.3 A.70, A.71) are written by highdicom from
recistry's synthetic series; their volumes must equal the single-frame load value for value and in
geometry. The Enhanced CT sample of pydicom-data (eCT_Supplemental.dcm, PS3.3 A.38) is checked
against pydicom's own per-frame decode and the per-frame Plane Position (C.7.6.16.2.3).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from highdicom.legacy import LegacyConvertedEnhancedCTImage, LegacyConvertedEnhancedPETImage
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_rescale

from recistry.errors import DicomError
from recistry.imaging.ct import load_ct
from recistry.imaging.pet import load_pet_suv
from recistry.imaging.volume import Volume

from ._encoded import require_tool
from .conftest import SyntheticScan


def _legacy_converted(files: list[Path], out: Path, modality: str) -> Path:
    cls = LegacyConvertedEnhancedCTImage if modality == "CT" else LegacyConvertedEnhancedPETImage
    image = cls(
        [pydicom.dcmread(f) for f in files],
        series_instance_uid=hd.UID(),
        series_number=20,
        sop_instance_uid=hd.UID(),
        instance_number=1,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save_as(out)
    return out


def _assert_same_volume(multi: Volume, single: Volume) -> None:
    np.testing.assert_array_equal(multi.array, single.array)
    assert multi.spacing_mm == single.spacing_mm
    assert multi.origin_mm == single.origin_mm
    np.testing.assert_array_equal(multi.direction, single.direction)
    assert multi.frame_of_reference_uid == single.frame_of_reference_uid
    assert multi.units == single.units


def test_legacy_converted_enhanced_ct_equals_the_single_frame_load(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    files = synthetic_scan.ct_files()
    single = load_ct(files)
    path = _legacy_converted(files[::-1], tmp_path / "lce_ct.dcm", "CT")
    assert pydicom.dcmread(path).NumberOfFrames == len(files)
    multi = load_ct([path])
    _assert_same_volume(multi, single)
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    assert multi.sop_instance_uids == (uid,) * len(files)
    assert sorted(multi.frame_numbers) == list(range(1, len(files) + 1))


def test_legacy_converted_enhanced_pet_equals_the_single_frame_suv(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """Per-frame RescaleSlope (Pixel Value Transformation), the radiopharmaceutical and the PET
    attributes kept in the Unassigned Converted Attributes give the same SUVbw."""
    files = synthetic_scan.pet_files()
    single = load_pet_suv(files)
    multi = load_pet_suv([_legacy_converted(files, tmp_path / "lce_pt.dcm", "PT")])
    _assert_same_volume(multi, single)
    for key in ("scan_time_rule", "suv_bw_factor_g_per_bq", "injection_time", "dose_bq"):
        assert multi.provenance[key] == single.provenance[key]


def test_compressed_legacy_converted_ct_decodes_every_frame(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """The multi-frame object JPEG 2000-compressed by GDCM: 30 frames, decoded in parallel."""
    files = synthetic_scan.ct_files()
    native = _legacy_converted(files, tmp_path / "lce_ct.dcm", "CT")
    j2k = tmp_path / "lce_ct_j2k.dcm"
    subprocess.run([require_tool("gdcmconv"), "--j2k", str(native), str(j2k)], check=True)
    assert pydicom.dcmread(j2k).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.90"
    _assert_same_volume(load_ct([j2k]), load_ct(files))


def test_enhanced_ct_sample_of_pydicom_data(caplog: pytest.LogCaptureFixture) -> None:
    """eCT_Supplemental.dcm (pydicom-data, installed offline in the package): 2 frames, HU from
    the shared Pixel Value Transformation, positions from the per-frame Plane Position."""
    path = get_testdata_file("eCT_Supplemental.dcm")
    assert path is not None and "data_store" in path  # the pydicom-data package, not a download
    ds = pydicom.dcmread(path)
    with caplog.at_level(logging.WARNING):
        volume = load_ct([path])
    assert "RescaleType is 'US'" in caplog.text  # what the sample declares, kept as rescaled
    frames = ds.PerFrameFunctionalGroupsSequence
    positions = np.array(
        [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in frames]
    )
    iop = [
        float(v)
        for v in ds.SharedFunctionalGroupsSequence[0]
        .PlaneOrientationSequence[0]
        .ImageOrientationPatient
    ]
    normal = np.cross(iop[:3], iop[3:])
    order = np.argsort(positions @ normal)
    stored = ds.pixel_array  # pydicom's decode of both frames
    shared = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    expected = np.stack([apply_rescale(stored[k], shared) for k in order])
    np.testing.assert_array_equal(volume.array, expected.astype(np.float32))
    assert volume.origin_mm == tuple(positions[order[0]])
    assert volume.frame_numbers == tuple(int(k) + 1 for k in order)
    spacing = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
    assert volume.spacing_mm[1:] == (float(spacing[0]), float(spacing[1]))
    assert volume.spacing_mm[0] == pytest.approx(float(abs(np.diff(positions @ normal)[0])))
    np.testing.assert_allclose(volume.direction[:, 0], iop[:3])


def _edit_frames(path: Path, edit: object) -> Path:
    ds = pydicom.dcmread(path)
    edit(ds)  # type: ignore[operator]
    ds.save_as(path)
    return path


def test_frames_of_two_stacks_are_refused_naming_stack_id(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    path = _legacy_converted(synthetic_scan.ct_files(), tmp_path / "lce.dcm", "CT")

    def two_stacks(ds: pydicom.Dataset) -> None:
        ds.PerFrameFunctionalGroupsSequence[3].FrameContentSequence[0].StackID = "2"

    _edit_frames(path, two_stacks)
    with pytest.raises(DicomError, match="2 stacks") as info:
        load_ct([path])
    assert str(path) in str(info.value) and "StackID (0020,9056)" in str(info.value)


def test_in_stack_numbers_that_do_not_follow_the_positions_are_refused(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """PS3.3 C.7.6.16.2.2.4: In-Stack Position Number runs along the stack."""
    path = _legacy_converted(synthetic_scan.ct_files(), tmp_path / "lce.dcm", "CT")

    def swap(ds: pydicom.Dataset) -> None:
        a = ds.PerFrameFunctionalGroupsSequence[4].FrameContentSequence[0]
        b = ds.PerFrameFunctionalGroupsSequence[9].FrameContentSequence[0]
        a.InStackPositionNumber, b.InStackPositionNumber = (
            b.InStackPositionNumber,
            a.InStackPositionNumber,
        )

    _edit_frames(path, swap)
    with pytest.raises(DicomError, match="dimension index does not follow") as info:
        load_ct([path])
    assert "InStackPositionNumber (0020,9057)" in str(info.value)
    assert "(frame " in str(info.value)


def test_a_duplicate_frame_position_names_the_file_and_both_frames(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    path = _legacy_converted(synthetic_scan.ct_files(), tmp_path / "lce.dcm", "CT")

    def duplicate(ds: pydicom.Dataset) -> None:
        frames = ds.PerFrameFunctionalGroupsSequence
        frames[7].PlanePositionSequence[0].ImagePositionPatient = list(
            frames[6].PlanePositionSequence[0].ImagePositionPatient
        )

    _edit_frames(path, duplicate)
    with pytest.raises(DicomError, match="duplicate slice position") as info:
        load_ct([path])
    message = str(info.value)
    assert "(frame 7)" in message and "(frame 8)" in message
    assert "ImagePositionPatient (0020,0032)" in message
