"""The fast header reader agrees with pydicom on every file pydicom ships (PS3.5 §7 encoding)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


_TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ^-", min_size=0, max_size=24)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    implicit=st.booleans(),
    description=_TEXT,
    series_number=st.integers(min_value=-999, max_value=99999),
    spacing=st.lists(st.floats(min_value=0.01, max_value=99.0), min_size=2, max_size=2),
    position=st.lists(st.floats(min_value=-999.0, max_value=999.0), min_size=3, max_size=3),
    items=st.integers(min_value=0, max_value=3),
    private_bytes=st.binary(min_size=0, max_size=300),
    tracer=_TEXT,
    undefined=st.booleans(),
)
def test_fast_reader_matches_pydicom_on_generated_files(
    tmp_path_factory: pytest.TempPathFactory,
    implicit: bool,
    description: str,
    series_number: int,
    spacing: list[float],
    position: list[float],
    items: int,
    private_bytes: bytes,
    tracer: str,
    undefined: bool,
) -> None:
    """Generated headers (PS3.5 §7): explicit/implicit VR, nested sequences of 0-3 items of
    defined or undefined length (§7.5), a private OB element between the attributes read,
    odd-length values padded by pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
    from pydicom.valuerep import format_number_as_ds

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "PT"
    ds.SeriesDescription = description
    ds.SeriesNumber = series_number
    ds.PatientName = "TEST^" + description.replace("^", "")
    ds.add_new(0x00190010, "LO", "RECISTRY TEST")
    ds.add_new(0x00191001, "OB", private_bytes)
    ds.PixelSpacing = [format_number_as_ds(v) for v in spacing]
    ds.ImagePositionPatient = [format_number_as_ds(v) for v in position]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    sequence = []
    for n in range(items):
        item = Dataset()
        item.Radiopharmaceutical = f"{tracer}{n}"
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
            "35337001",
            "SCT",
            tracer or "x",
        )
        code.is_undefined_length_sequence_item = undefined
        item.RadionuclideCodeSequence = [code]
        item["RadionuclideCodeSequence"].is_undefined_length = undefined
        item.is_undefined_length_sequence_item = undefined
        sequence.append(item)
    ds.RadiopharmaceuticalInformationSequence = sequence
    ds["RadiopharmaceuticalInformationSequence"].is_undefined_length = undefined
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = bytes(8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        ds.SOPClassUID,
        ds.SOPInstanceUID,
    )
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = meta
    path = tmp_path_factory.mktemp("gen") / "f.dcm"
    ds.save_as(path, enforce_file_format=True)
    fast = read_header(path, _SPEC)
    slow = _pydicom_header(str(path), _SPEC, has_preamble=True)
    assert dict(fast.values) == dict(slow.values)
    assert fast.pixel_offset is not None and fast.pixel_length == 8
