"""Discovery: a tree of DICOM files → patients → studies (by date) → series, headers only."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from recistry.errors import DicomError
from recistry.imaging.discovery import index_tree

from ._series_files import write_ct_series, write_pet_series


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    stored = np.zeros((4, 6, 5), dtype=np.int16)
    # Follow-up first on disk, extensionless names, nested folders.
    write_ct_series(
        root / "p1" / "fu" / "ct",
        stored,
        names=lambda k: f"IM{k:04d}",
        description="CT follow-up",
        edit=lambda k, ds: setattr(ds, "StudyDate", "20240601"),
    )
    base_study = "1.2.826.0.1.3680043.8.498.1001"
    write_ct_series(
        root / "p1" / "bl" / "a" / "b",
        stored,
        spacing_mm=(3.0, 0.9, 0.8),
        study_uid=base_study,
        description="CT baseline",
    )
    write_pet_series(root / "p1" / "bl" / "pet", stored[:3], slopes=[1.0] * 3, study_uid=base_study)
    (root / "p1" / "README").write_text("scanner export\n")
    (root / "empty.bin").write_bytes(b"")
    broken = root / "p1" / "broken.dcm"
    good = next((root / "p1" / "bl" / "pet").iterdir()).read_bytes()
    broken.write_bytes(good[:400])  # DICM prefix, header cut short
    return root


def test_index_groups_patients_studies_by_date_and_series(tree: Path) -> None:
    index = index_tree(tree)
    assert index.files_indexed == 4 + 4 + 3
    assert index.skipped == 2  # README and the empty file: not DICOM, counted
    assert [e.path for e in index.errors] == [str(tree / "p1" / "broken.dcm")]
    assert "truncated" in index.errors[0].reason or "cannot parse" in index.errors[0].reason
    (patient,) = index.patients
    assert patient.patient_id == "LOAD-001" and patient.patient_name == "TEST^LOADER"
    baseline, follow_up = patient.studies
    assert (baseline.study_date, follow_up.study_date) == ("20240301", "20240601")
    ct, pet = baseline.series
    assert (ct.modality, ct.description, ct.slice_count) == ("CT", "CT baseline", 4)
    assert ct.spacing_mm == pytest.approx((3.0, 0.9, 0.8))
    assert ct.pixel_spacing_mm == (0.9, 0.8)
    assert (pet.modality, pet.slice_count, pet.units) == ("PT", 3, "BQML")
    assert pet.radiopharmaceutical == "Ga-68 DOTATATE" and pet.radionuclide == "^68^Gallium"
    assert ct.radiopharmaceutical is None
    # instances sorted along the normal, identity kept
    z = [i.position_mm[2] for i in ct.instances if i.position_mm]
    assert z == sorted(z)
    assert index.series(ct.series_instance_uid) is ct
    assert len(set(ct.sop_instance_uids)) == 4


def test_index_to_dict_is_json_ready(tree: Path) -> None:
    import json

    data = json.loads(json.dumps(index_tree(tree).to_dict()))
    series = data["patients"][0]["studies"][0]["series"]
    assert [s["slice_count"] for s in series] == [4, 3]
    assert data["skipped"] == 2 and len(data["errors"]) == 1


def test_copies_of_one_instance_are_indexed_once(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, np.zeros((2, 4, 4), dtype=np.int16))
    (tmp_path / "copy.dcm").write_bytes(paths[0].read_bytes())
    index = index_tree(tmp_path)
    assert index.files_indexed == 2
    assert len(index.errors) == 1 and "duplicate of" in index.errors[0].reason


def test_index_of_pydicom_test_files_never_aborts() -> None:
    """pydicom's own test files: real scanner files of many kinds, plus broken ones."""
    folder = os.path.dirname(get_testdata_file("CT_small.dcm"))
    index = index_tree(folder)
    ct = [s for _, _, s in index.iter_series() if s.paths == (get_testdata_file("CT_small.dcm"),)]
    assert (
        len(ct) == 1 and ct[0].modality == "CT" and ct[0].pixel_spacing_mm == (0.661468, 0.661468)
    )
    assert index.files_indexed > 50
    assert index.skipped > 0 and index.errors  # text files skipped; damaged ones reported
    assert all(e.reason for e in index.errors)


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DicomError, match="no such file"):
        index_tree(tmp_path / "nope")


def test_pet_without_study_uid_is_reported_not_indexed(tmp_path: Path) -> None:
    write_pet_series(
        tmp_path,
        np.zeros((2, 4, 4), dtype=np.int16),
        slopes=[1.0, 1.0],
        edit=lambda k, ds: k == 0 and delattr(ds, "StudyInstanceUID"),
        injection=dt.datetime(2024, 3, 1, 9),
    )
    index = index_tree(tmp_path)
    assert index.files_indexed == 1
    assert "StudyInstanceUID (0020,000D)" in index.errors[0].reason


def test_parallel_and_dask_indexes_equal_the_serial_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 4: indexing in N processes or on Dask gives the same index, folder by folder.

    pydicom's test files (hundreds of real and broken files in several folders), in chunks small
    enough that every folder is its own task.
    """
    from distributed import LocalCluster

    from recistry.imaging import discovery

    folder = os.path.dirname(get_testdata_file("CT_small.dcm"))
    serial = index_tree(folder).to_dict()
    monkeypatch.setattr(discovery, "FILES_PER_TASK", 1)
    assert index_tree(folder, workers=2).to_dict() == serial
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert index_tree(folder, dask_address=cluster.scheduler_address).to_dict() == serial


def test_folder_chunks_never_split_a_folder() -> None:
    from recistry.imaging.discovery import _folder_chunks

    files = [f"/a/{i}" for i in range(5)] + [f"/b/{i}" for i in range(2)] + ["/c/0"]
    assert _folder_chunks(files, 3) == [files[:5], files[5:8]]
    assert _folder_chunks(files, 1) == [files[:5], files[5:7], files[7:]]
