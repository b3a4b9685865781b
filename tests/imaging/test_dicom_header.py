"""The fast header reader agrees with pydicom on every file pydicom ships (PS3.5 §7 encoding)."""

from __future__ import annotations

import os

import pytest
from pydicom.data import get_testdata_file

from recistry.errors import DicomError
from recistry.imaging._dicom import HeaderSpec, _pydicom_header, read_header

_FOLDER = os.path.dirname(get_testdata_file("CT_small.dcm"))
_SPEC = HeaderSpec(
    (
        "PatientID",
        "PatientName",
        "StudyInstanceUID",
        "StudyDate",
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "Modality",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "PixelSpacing",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "RescaleSlope",
        "ImageType",
        "BitsAllocated",
        "RadiopharmaceuticalInformationSequence.Radiopharmaceutical",
        "RadiopharmaceuticalInformationSequence.RadionuclideCodeSequence.CodeMeaning",
        "ReferencedImageSequence.ReferencedSOPInstanceUID",
    )
)


def _files() -> list[str]:
    out = []
    for name in sorted(os.listdir(_FOLDER)):
        path = os.path.join(_FOLDER, name)
        if os.path.isfile(path):
            with open(path, "rb") as fp:
                head = fp.read(132)
            if head[128:132] == b"DICM":
                out.append(path)
    return out


def test_fast_reader_matches_pydicom_on_its_test_files() -> None:
    compared = 0
    for path in _files():
        try:
            fast = read_header(path, _SPEC)
        except DicomError as exc:
            # A cut header is refused (pydicom would return the elements before the cut);
            # anything else the fast reader refuses, pydicom must refuse too.
            if "truncated" not in str(exc):
                with pytest.raises(DicomError):
                    _pydicom_header(path, _SPEC, has_preamble=True)
            continue
        slow = _pydicom_header(path, _SPEC, has_preamble=True)
        assert fast.values == slow.values, path
        compared += 1
    assert compared > 60


def test_pixel_data_offset_points_at_the_pixels() -> None:
    import numpy as np
    import pydicom

    path = get_testdata_file("CT_small.dcm")
    header = read_header(path, _SPEC)
    assert header.pixel_offset is not None
    raw = np.fromfile(path, dtype="<i2", count=128 * 128, offset=header.pixel_offset)
    np.testing.assert_array_equal(raw.reshape(128, 128), pydicom.dcmread(path).pixel_array)


def test_lazy_headers_decode_the_same_values() -> None:
    lazy_spec = HeaderSpec(_SPEC.keywords, lazy=True)
    for path in _files():
        try:
            eager = read_header(path, _SPEC)
        except DicomError:
            continue
        lazy = read_header(path, lazy_spec)
        # single values first (decoded on demand), then the whole mapping
        for keyword in (
            "Modality",
            "PixelSpacing",
            "RadiopharmaceuticalInformationSequence.Radiopharmaceutical",
        ):
            assert lazy.get(keyword) == eager.get(keyword), (path, keyword)
        assert dict(lazy.values) == dict(eager.values), path


def test_index_reading_stops_early_only_for_non_pet_and_agrees_with_pydicom() -> None:
    """The index stops before group 0054 unless the image is PET/NM: same values either way."""
    from pathlib import Path

    from recistry.imaging.discovery import _INDEX_SPEC

    dro = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ibsi-suv-dro" / "DRO"
    pet_files = sorted(str(p) for p in dro.glob("DRO_*/PT/*_000.dcm"))
    assert len(pet_files) == 17
    for path in [*_files(), *pet_files]:
        try:
            fast = dict(read_header(path, _INDEX_SPEC).values)
        except DicomError:
            continue
        slow = _pydicom_header(path, _INDEX_SPEC, has_preamble=True)
        assert fast == dict(slow.values), path
    assert read_header(pet_files[0], _INDEX_SPEC).get("Units") == "BQML"


def test_a_malformed_value_is_named_when_a_lazy_header_decodes_it() -> None:
    path = os.path.join(_FOLDER, "badVR.dcm")  # NumberOfFrames '1A' (IS)
    header = read_header(path, HeaderSpec(("Modality", "NumberOfFrames"), lazy=True))
    with pytest.raises(DicomError, match=r"NumberOfFrames \(0028,0008\)"):
        header.get("NumberOfFrames")
