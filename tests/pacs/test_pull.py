"""``recistry pull`` against a real Orthanc: DICOMweb (QIDO-RS + WADO-RS) and DIMSE (C-FIND +
C-GET / C-MOVE), then ``index``, volume loading and ``rescore`` of the pulled tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recistry.cli import main
from recistry.imaging.ct import load_ct
from recistry.imaging.discovery import index_tree
from recistry.imaging.pet import load_pet_suv
from tests.pacs._orthanc import Orthanc
from tests.pacs.conftest import PATIENT, SAMPLE

REPO = Path(__file__).resolve().parents[2]


def _tree(out: Path) -> dict[str, Path]:
    """The pulled files by SOP Instance UID, checking each sits at
    OUT/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm."""
    files = {}
    for path in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        relative = path.relative_to(out).parts
        assert relative == (
            ds.PatientID,
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            f"{ds.SOPInstanceUID}.dcm",
        )
        files[str(ds.SOPInstanceUID)] = path
    return files


def _pull_argv(orthanc: Orthanc, out: Path) -> list[str]:
    """``recistry pull`` of the sample patient's CT and PET into ``out`` (the CLI's argv)."""
    return ["pull", orthanc.dicomweb_url, "--patient", PATIENT, "--modality", "CT,PT", "--out",
            str(out)]  # fmt: skip


def _pull_in_background(argv: list[str], out: Path, until_files: int) -> subprocess.Popen[bytes]:
    """``recistry ARGV`` in a process of its own, returned once it has written ``until_files``
    files into ``out`` (or ended, or 60 s passed)."""
    command = [sys.executable, "-m", "recistry.cli", *argv]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if len(list(out.rglob("*.dcm"))) >= until_files:
            break
        time.sleep(0.005)
    return process


def _same_data_set(pulled: Path, original: Path) -> bool:
    """Same data set (file meta aside: a DIMSE receiver writes its own)."""
    a, b = pydicom.dcmread(pulled), pydicom.dcmread(original)
    return a == b and a.PixelData == b.PixelData


def test_dicomweb_pull_writes_the_archive_files_byte_for_byte(
    orthanc: Orthanc, login: str, sample_by_sop: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "studies"
    status = main(
        [
            "pull",
            orthanc.dicomweb_url,
            "--patient",
            PATIENT,
            "--modality",
            "CT,PT",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    assert "180 instance(s) in 6 series of 3 study(ies): 180 retrieved" in capsys.readouterr().out
    files = _tree(out)
    assert files.keys() == sample_by_sop.keys()
    # WADO-RS with transfer-syntax=*: the instances exactly as loaded into the archive.
    assert all(files[s].read_bytes() == sample_by_sop[s].read_bytes() for s in files)
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_dicomweb_pull_filters_by_study_modality_and_date(
    orthanc: Orthanc, login: str, sample_by_sop: dict[str, Path], tmp_path: Path
) -> None:
    originals = [pydicom.dcmread(p, stop_before_pixels=True) for p in sample_by_sop.values()]
    follow_up = next(d for d in originals if d.StudyDate == "20240311")
    out = tmp_path / "pet"
    args = ["pull", orthanc.dicomweb_url, "--study", follow_up.StudyInstanceUID]
    assert main([*args, "--modality", "PT", "--out", str(out)]) == 0
    expected = {
        d.SOPInstanceUID
        for d in originals
        if d.StudyInstanceUID == follow_up.StudyInstanceUID and d.Modality == "PT"
    }
    assert set(_tree(out)) == expected and len(expected) == 30
    later = tmp_path / "later"
    args = ["pull", orthanc.dicomweb_url, "--patient", PATIENT, "--since", "2024-03-12"]
    assert main([*args, "--modality", "CT,PT", "--out", str(later)]) == 0
    assert {pydicom.dcmread(p).StudyDate for p in _tree(later).values()} == {"20240506"}


@pytest.mark.parametrize("how", ["C-GET", "C-MOVE"])
def test_dimse_pull_receives_the_same_data_sets(
    orthanc: Orthanc, sample_by_sop: dict[str, Path], tmp_path: Path, how: str, capsys
) -> None:
    out = tmp_path / "studies"
    args = ["pull", orthanc.dimse_url, "--patient", PATIENT, "--modality", "CT", "--out", str(out)]
    if how == "C-MOVE":
        args += ["--move-port", str(orthanc.move_port)]
    assert main(args) == 0
    assert "90 instance(s) in 3 series of 3 study(ies): 90 retrieved" in capsys.readouterr().out
    files = _tree(out)
    cts = {s for s, p in sample_by_sop.items() if p.parent.name == "CT"}
    assert set(files) == cts
    assert all(_same_data_set(files[s], sample_by_sop[s]) for s in files)


def test_dimse_pull_from_an_unknown_ae_title_is_one_line_exit_2(
    orthanc: Orthanc, tmp_path: Path, capsys
) -> None:
    args = ["pull", orthanc.dimse_url, "--patient", PATIENT, "--aet", "STRANGER"]
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "AE title 'STRANGER'" in err, err
    assert not (tmp_path / "x").exists()


def test_pulled_tree_is_indexed_loaded_and_rescored_as_the_original(
    pulled: Path, tmp_path: Path, capsys
) -> None:
    index = index_tree(pulled)
    original = index_tree(SAMPLE / PATIENT)
    assert not index.errors and index.files_indexed == 180
    assert index.to_dict()["patients"][0]["patient_id"] == PATIENT
    pairs = {se.series_instance_uid: se for _p, _s, se in original.iter_series()}
    for _patient, _study, series in index.iter_series():
        same = pairs[series.series_instance_uid]
        assert series.slice_count == same.slice_count == 30
        if series.modality == "CT":
            a, b = load_ct(series.paths), load_ct(same.paths)
        else:
            a, b = load_pet_suv(series.paths), load_pet_suv(same.paths)
        assert np.array_equal(a.array, b.array)
        assert (a.spacing_mm, a.origin_mm) == (b.spacing_mm, b.origin_mm)
        assert np.array_equal(a.direction, b.direction) and a.units == b.units
    store = tmp_path / "s.db"
    assert main(["index", str(pulled), "--store", str(store)]) == 0
    assert main(["import", str(SAMPLE / "measurements.csv"), "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["rescore", str(store), "--format", "json"]) == 0
    from_store = json.loads(capsys.readouterr().out)
    assert main(["rescore", str(SAMPLE / "measurements.csv"), "--format", "json"]) == 0
    from_table = json.loads(capsys.readouterr().out)
    assert from_store["patients"] == from_table["patients"]


def test_interrupted_pull_leaves_only_whole_files_and_resumes(
    orthanc: Orthanc, login: str, sample_by_sop: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "studies"
    argv = _pull_argv(orthanc, out)
    process = _pull_in_background(argv, out, until_files=20)
    process.send_signal(signal.SIGKILL)  # a power cut: no clean-up code runs
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the pull ended before it could be cut"
    kept = _tree(out)
    assert 20 <= len(kept) < 180
    # Every file under its final name is whole: what was cut is at most a hidden .partial.
    assert all(kept[s].read_bytes() == sample_by_sop[s].read_bytes() for s in kept)
    # A file damaged on disk afterwards is found and fetched again.
    damaged = next(iter(kept.values()))
    damaged.write_bytes(damaged.read_bytes()[:-1000])
    (damaged.parent / ".left-over.dcm.99.partial").write_bytes(b"half")
    capsys.readouterr()
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert f"{180 - len(kept) + 1} retrieved, {len(kept) - 1} already complete" in summary
    files = _tree(out)
    assert files.keys() == sample_by_sop.keys()
    assert all(files[s].read_bytes() == sample_by_sop[s].read_bytes() for s in files)
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 retrieved, 180 already complete" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["ftp://host/x", "--patient", "P"], "ftp://host/x"),
        (["dimse://ORTHANC@host", "--patient", "P"], "dimse://AET@HOST:PORT"),
        (["dimse://" + "A" * 17 + "@host:104", "--patient", "P"], "AE title"),
        (["http://127.0.0.1:1/dicom-web"], "--patient or --study"),
        (["http://127.0.0.1:1/dicom-web", "--patient", "P", "--since", "March"], "--since"),
        (["http://127.0.0.1:1/dicom-web", "--patient", "P", "--modality", "C T"], "--modality"),
        (["http://127.0.0.1:1/dicom-web", "--patient", "P", "--move-port", "104"], "--move-port"),
        (["http://127.0.0.1:1/dicom-web", "--patient", "P"], "127.0.0.1:1"),
    ],
)
def test_bad_url_or_option_is_one_line_exit_2_and_nothing_written(
    args: list[str], names: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    for variable in ("RECISTRY_PACS_USER", "RECISTRY_PACS_PASSWORD", "RECISTRY_PACS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    out = tmp_path / "out"
    assert main(["pull", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and names in err, err
    assert "Traceback" not in err and not out.exists()


def test_pulled_patient_folder_opens_in_the_annotator(pulled: Path) -> None:
    """The napari annotator's study loader (Qt-free) finds the same scans in the pulled tree."""
    from recistry_napari._loading import load_study

    study, original = load_study(pulled / PATIENT), load_study(SAMPLE / PATIENT)
    assert study.patient_id == original.patient_id == PATIENT
    assert [
        (s.date, s.study_instance_uid, len(s.ct_paths), len(s.pet_paths)) for s in study.scans
    ] == [(s.date, s.study_instance_uid, len(s.ct_paths), len(s.pet_paths)) for s in original.scans]
    assert len(study.scans) == 3 and all(len(s.pet_paths) == 30 for s in study.scans)


def test_ctrl_c_stops_the_pull_cleanly(
    orthanc: Orthanc, login: str, sample_by_sop: dict[str, Path], tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT): exit status 130, no temporary file left, every kept file whole."""
    out = tmp_path / "studies"
    process = _pull_in_background(_pull_argv(orthanc, out), out, until_files=10)
    process.send_signal(signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    kept = _tree(out)
    assert 10 <= len(kept) < 180
    assert all(kept[s].read_bytes() == sample_by_sop[s].read_bytes() for s in kept)
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
