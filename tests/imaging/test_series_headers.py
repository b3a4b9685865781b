"""Headers of a whole series read against the first file's layout give exactly what the per-file
reader gives, whatever differs between the files (PS3.5 §7 encoding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from recistry.errors import DicomError
from recistry.imaging._dicom import (
    Header,
    HeaderSpec,
    read_header,
    read_series_headers,
    varying_keywords,
)
from recistry.imaging.ct import _CT_SPEC
from recistry.imaging.pet import _PET_SPEC

from ._series_files import write_ct_series, write_pet_series

_PRIVATE_SPEC = HeaderSpec(
    (*_CT_SPEC.keywords, "ReferencedImageSequence.ReferencedSOPInstanceUID"),
    private_groups=(0x0009,),
    lazy=True,
)


def _assert_same_as_per_file(paths: list[Path], spec: HeaderSpec) -> list[Header]:
    series = read_series_headers(paths, spec)
    single = [read_header(p, spec) for p in paths]
    assert len(series) == len(single)
    for a, b in zip(series, single, strict=True):
        assert a.path == b.path
        assert dict(a.values) == dict(b.values), a.path
        assert dict(a.private) == dict(b.private), a.path
        assert (a.transfer_syntax_uid, a.pixel_offset, a.pixel_length) == (
            b.transfer_syntax_uid,
            b.pixel_offset,
            b.pixel_length,
        ), a.path
    # same() must agree with comparing the decoded values, for every pair with the first file
    # and between neighbours, on every attribute read.
    for keyword in spec.keywords:
        for i in range(1, len(series)):
            for j in (0, i - 1):
                expected = single[i].get(keyword) == single[j].get(keyword)
                assert series[i].same(series[j], keyword) == expected, (keyword, i, j)
    return series


def _stored(slices: int = 6) -> np.ndarray:
    return np.random.default_rng(0).integers(-1000, 2000, size=(slices, 8, 10), dtype=np.int16)


@pytest.mark.parametrize("implicit", [False, True])
def test_uids_positions_and_rescales_of_any_length_are_read_per_file(
    tmp_path: Path, implicit: bool
) -> None:
    def edit(k: int, ds: Dataset) -> None:
        # UIDs of 9 to 64 characters (odd ones padded), so later elements move between files
        # (the file meta information repeats it: its group length changes too)
        ds.SOPInstanceUID = "1.2.3." + "9" * (3 + 11 * k) if k < 5 else "1.2.3.4" + "5" * 57

    paths = write_ct_series(
        tmp_path,
        _stored(),
        slopes=[1, 1, 2.5, 1, 0.333333, 1],
        intercepts=[-1024, -1024, -1000.5, -1024, 0, -1024],
        edit=edit,
        implicit=implicit,
    )
    series = _assert_same_as_per_file(paths, _CT_SPEC)
    varying = varying_keywords(series)
    assert varying is not None
    # what differs between these files, and nothing that is the same in all of them
    assert {"SOPInstanceUID", "ImagePositionPatient", "InstanceNumber"} <= varying
    assert {"RescaleSlope", "RescaleIntercept"} <= varying
    assert varying.isdisjoint({"ImageOrientationPatient", "PixelSpacing", "Rows", "BitsStored"})


def test_varying_keywords_is_unknown_for_headers_read_one_by_one(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "a", _stored())
    other = write_ct_series(tmp_path / "b", _stored())
    series = read_series_headers(paths, _CT_SPEC)
    assert varying_keywords([read_header(p, _CT_SPEC) for p in paths]) is None
    assert varying_keywords([*series, *read_series_headers(other, _CT_SPEC)]) is None
    assert varying_keywords(series[:1]) == frozenset()


def test_a_difference_in_any_attribute_is_read_from_that_file(tmp_path: Path) -> None:
    """Attributes equal in the first files and different later (orientation, matrix size,
    series UID, a longer description, an added and a removed element) are never taken from the
    first file."""

    def edit(k: int, ds: Dataset) -> None:
        if k == 2:
            ds.ImageOrientationPatient = ["1", "0", "0", "0", "0.999", "0.04"]
        if k == 3:
            ds.Columns = 11
        if k == 4:
            ds.SeriesDescription = "a much longer description than the others"
            ds.SliceLocation = "12.5"  # an element the others do not have
        if k == 5:
            del ds.KVP
            ds.SeriesInstanceUID = "1.2.3.4.5"

    paths = write_ct_series(tmp_path, _stored(), edit=edit)
    series = _assert_same_as_per_file(paths, _CT_SPEC)
    varying = varying_keywords(series)
    assert varying is None or {"ImageOrientationPatient", "Columns"} <= varying


def test_private_elements_and_sequences_are_read_per_file(tmp_path: Path) -> None:
    def edit(k: int, ds: Dataset) -> None:
        block = ds.private_block(0x0009, "RECISTRY TEST", create=True)
        block.add_new(0x01, "LO", f"value {k}" * (1 + k % 2))
        block.add_new(0x02, "DS", "1.5")
        item = Dataset()
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = "1.2.3" if k != 4 else "1.2.3.4.5.6"
        ds.ReferencedImageSequence = [item]

    paths = write_ct_series(tmp_path, _stored(), edit=edit)
    series = _assert_same_as_per_file(paths, _PRIVATE_SPEC)
    assert series[4].get("ReferencedImageSequence.ReferencedSOPInstanceUID") == "1.2.3.4.5.6"


def test_pet_series_headers_match_per_file(tmp_path: Path) -> None:
    def edit(k: int, ds: Dataset) -> None:
        if k >= 3:  # a second bed position
            ds.AcquisitionTime = "110400"
        if k == 5:
            ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = 151e6

    stored = _stored()
    paths = write_pet_series(
        tmp_path, stored, slopes=[0.5 + 0.01 * k for k in range(len(stored))], edit=edit
    )
    _assert_same_as_per_file(paths, _PET_SPEC)


def test_a_truncated_or_foreign_file_is_refused_like_the_per_file_reader(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, _stored())
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[:400])  # cut inside the header
    with pytest.raises(DicomError, match="truncated") as series_error:
        read_series_headers(paths, _CT_SPEC)
    with pytest.raises(DicomError) as single_error:
        read_header(paths[3], _CT_SPEC)
    assert str(series_error.value) == str(single_error.value)

    paths[3].write_bytes(b"not a DICOM file at all" * 40)
    with pytest.raises(DicomError, match="not a DICOM file"):
        read_series_headers(paths, _CT_SPEC)


def test_a_file_cut_inside_its_pixels_keeps_its_header(tmp_path: Path) -> None:
    """Truncated pixel data is found when the pixels are read (as before), not in the header."""
    paths = write_ct_series(tmp_path, _stored())
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[:-20])
    _assert_same_as_per_file(paths, _CT_SPEC)


_EDITS = st.sampled_from(
    [
        ("ImageOrientationPatient", ["1", "0", "0", "0", "0.8", "0.6"]),
        ("ImageOrientationPatient", ["1.000000", "0", "0", "0", "1", "0"]),
        ("PixelSpacing", [0.8, 0.7]),
        ("PixelSpacing", [0.81234, 0.7]),
        ("SeriesDescription", "CT test"),
        ("SeriesDescription", "CT tesT"),
        ("SeriesDescription", "another description"),
        ("RescaleSlope", 2),
        ("RescaleIntercept", -1000.25),
        ("SliceLocation", "3.5"),
        ("KVP", None),
        ("Columns", 11),
        ("SpecificCharacterSet", "ISO_IR 192"),
        ("private", "x"),
        ("private", "a longer private value"),
        ("sequence", "1.2.3"),
        ("sequence", "1.2.3.4.5"),
    ]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    implicit=st.booleans(),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=4), _EDITS), max_size=4),
)
def test_series_reading_matches_per_file_reading_whatever_differs(
    tmp_path_factory: pytest.TempPathFactory,
    implicit: bool,
    edits: list[tuple[int, tuple[str, object]]],
) -> None:
    """Any mix of changed, added and removed elements in any files (PS3.5 §7.1, §7.5)."""

    def edit(k: int, ds: Dataset) -> None:
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3"
        ds.ReferencedImageSequence = [item]
        for slice_index, (keyword, value) in edits:
            if slice_index != k:
                continue
            if keyword == "private":
                ds.private_block(0x0009, "RECISTRY TEST", create=True).add_new(0x01, "LO", value)
            elif keyword == "sequence":
                ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = value
            elif value is None:
                ds.pop(keyword, None)
            else:
                setattr(ds, keyword, value)

    folder = tmp_path_factory.mktemp("series")
    paths = write_ct_series(folder, _stored(5), edit=edit, implicit=implicit)
    _assert_same_as_per_file(paths, _PRIVATE_SPEC)
