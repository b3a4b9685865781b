"""Real-world files that are not quite right: bare data sets load; refusals come before any pixel
is decoded and name the file, the tag and that file's own series (issue 11).

A bare data set (no preamble, no Part-10 file meta information; PS3.10 §7.1) is read with its
transfer syntax inferred as pydicom infers it (implicit VR little endian unless the first element
says otherwise, PS3.5 §10.1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recistry.errors import DicomError
from recistry.imaging.ct import load_ct
from recistry.imaging.discovery import index_tree
from recistry.imaging.pet import load_pet_suv

from ._encoded import ENCODER_CASES, encode_series
from .conftest import SyntheticScan


def _write_bare(src: Path, dst: Path, *, implicit: bool) -> None:
    ds = pydicom.dcmread(src)
    del ds.file_meta
    ds.preamble = None
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
    assert dst.read_bytes()[128:132] != b"DICM"


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-vr", "explicit-vr"])
def test_bare_data_sets_are_indexed_and_load_like_part10_files(
    synthetic_scan: SyntheticScan, tmp_path: Path, implicit: bool
) -> None:
    for f in synthetic_scan.pet_files():
        _write_bare(f, tmp_path / "bare" / f.name, implicit=implicit)
    files = sorted((tmp_path / "bare").iterdir())
    index = index_tree(tmp_path / "bare")
    ((_, _, series),) = index.iter_series()
    assert index.errors == () and series.slice_count == len(files)
    expected = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    assert series.transfer_syntax_uids == (expected,) and series.pixels_decodable
    np.testing.assert_array_equal(
        load_pet_suv(files).array, load_pet_suv(synthetic_scan.pet_files()).array
    )


def _corrupt_codestreams(files: list[Path]) -> None:
    """Cut every frame's JPEG 2000 code stream short: decoding any pixel now fails."""
    for f in files:
        ds = pydicom.dcmread(f)
        (frame,) = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)
        ds.PixelData = pydicom.encaps.encapsulate([frame[:200]])
        ds.save_as(f)


def test_missing_frame_of_reference_is_refused_before_any_pixel_is_decoded(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """Every file's pixels are undecodable; the missing FrameOfReferenceUID is still the error,
    so it was checked first."""
    j2k = next(c for c in ENCODER_CASES if c.name == "j2k-lossless")
    files = encode_series(j2k, synthetic_scan.ct, tmp_path / "ct")
    _corrupt_codestreams(files)
    with pytest.raises(DicomError, match="cannot decode the pixel data") as info:
        load_ct(files)  # the corruption is real
    assert str(info.value).startswith(f"{files[0]}, tag PixelData (7FE0,0010)")
    assert "failed to decode image" in str(info.value)  # the decoder's own reason
    victim = files[17]
    ds = pydicom.dcmread(victim)
    del ds.FrameOfReferenceUID
    ds.save_as(victim)
    with pytest.raises(DicomError) as info:
        load_ct(files)
    message = str(info.value)
    assert message.startswith(f"{victim}, tag FrameOfReferenceUID (0020,0052)")
    assert "Synthetic abdomen CT" in message and "\n" not in message


def test_a_file_of_another_series_is_named_with_its_own_series(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """A mixed folder: the PET file handed to the CT loader is named with the PET series, and a
    CT file of another series with that series, never the series of the first file."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in synthetic_scan.ct_files()[:5]:
        shutil.copy(f, folder / f.name)
    shutil.copy(synthetic_scan.pet_files()[0], folder / "zz_pet.dcm")
    with pytest.raises(DicomError) as info:
        load_ct(sorted(folder.iterdir()))
    message = str(info.value)
    assert message.startswith(f"{folder / 'zz_pet.dcm'}, tag Modality (0008,0060)")
    assert "(series 'Synthetic Ga-68 DOTATATE PET AC' #3" in message

    (folder / "zz_pet.dcm").unlink()
    other = pydicom.dcmread(synthetic_scan.ct_files()[9])
    other.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    other.SeriesDescription = "CT lung window"
    other.save_as(folder / "zz_other.dcm")
    with pytest.raises(DicomError) as info:
        load_ct(sorted(folder.iterdir()))
    message = str(info.value)
    assert message.startswith(f"{folder / 'zz_other.dcm'}, tag SeriesInstanceUID (0020,000E)")
    assert "belongs to series 'CT lung window'" in message
    assert "not to series 'Synthetic abdomen CT'" in message


def test_wrong_modality_names_that_files_series(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    pet = synthetic_scan.pet_files()
    folder = tmp_path / "pt"
    folder.mkdir()
    for f in pet:
        shutil.copy(f, folder / f.name)
    victim = folder / pet[3].name
    ds = pydicom.dcmread(victim)
    ds.Modality = "CT"
    ds.SeriesDescription = "odd one"
    ds.save_as(victim)
    with pytest.raises(DicomError) as info:
        load_pet_suv(sorted(folder.iterdir()))
    message = str(info.value)
    assert message.startswith(f"{victim}, tag Modality (0008,0060)") and "'odd one'" in message
