"""Synthetic CT + Ga-68 DOTATATE PET studies: valid DICOM and a ground truth that is right."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom import config as pydicom_config

from recistry.cli import main
from recistry.errors import InputError
from recistry.imaging.ct import load_ct
from recistry.imaging.metrics import lesion_axes
from recistry.imaging.synth import MEASUREMENT_COLUMNS, write_synthetic_studies
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions
from recistry.tables import build_records, read_measurements

SIZE = 96
SAMPLE_ARGS = ["--patients", "1", "--timepoints", "3", "--seed", "1", "--size", "256"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four patients (one per script), three scans each, written with strict DS/VR checks."""
    out = tmp_path_factory.mktemp("synth") / "out"
    old = pydicom_config.settings.writing_validation_mode
    pydicom_config.settings.writing_validation_mode = pydicom_config.RAISE
    try:
        write_synthetic_studies(out, patients=4, timepoints=3, seed=7, size=SIZE)
    finally:
        pydicom_config.settings.writing_validation_mode = old
    return out


@pytest.fixture(scope="module")
def truth(synth: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((synth / "ground_truth.json").read_text())
    return data


def _series(folder: Path) -> list[pydicom.Dataset]:
    """Slices of one series sorted along the slice normal (PS3.3 C.7.6.2.1.1)."""
    slices = [pydicom.dcmread(p) for p in folder.iterdir()]
    return sorted(slices, key=lambda ds: float(ds.ImagePositionPatient[2]))


def _dciodvfy(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return [f"{path.name}: {line}" for line in result.stderr.splitlines() if "Error" in line]


def test_every_file_passes_dciodvfy_ps3_3_ct_and_pet_image_iods(synth: Path) -> None:
    """dciodvfy (dicom3tools) checks each file against the CT/PET Image IODs of PS3.3 A.3/A.21."""
    # Not a skip: a validator silently missing would let invalid files through.
    assert shutil.which("dciodvfy"), "dciodvfy missing: run scripts/install-system-deps.sh"
    files = sorted(synth.rglob("*.dcm"))
    assert len(files) == 4 * 3 * 2 * 30
    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = [line for lines in pool.map(_dciodvfy, files) for line in lines]
    assert errors == []


def test_pet_header_has_ga68_dotatate_codes_and_no_patient_position(synth: Path) -> None:
    """PS3.3 C.8.4.6 (PET Isotope) and C.8.4.1 (NM/PET Patient Orientation): SCT codes, no
    PatientPosition beside PatientOrientationCodeSequence."""
    ds = pydicom.dcmread(next(synth.rglob("PT0001.dcm")))
    isotope = ds.RadiopharmaceuticalInformationSequence[0]
    assert isotope.RadionuclideCodeSequence[0].CodeValue == "35337001"
    assert isotope.RadiopharmaceuticalCodeSequence[0].CodeValue == "724025002"
    assert ds.PatientOrientationCodeSequence[0].CodeValue == "102538003"
    assert "PatientPosition" not in ds
    assert (ds.Units, ds.DecayCorrection) == ("BQML", "START")
    assert {"ATTN", "DECY"} <= set(ds.CorrectedImage)


def test_ct_and_pet_of_a_study_share_study_and_frame_of_reference(synth: Path) -> None:
    for scan in (p for p in synth.glob("*/*") if p.is_dir()):
        ct = pydicom.dcmread(next((scan / "CT").iterdir()), stop_before_pixels=True)
        pt = pydicom.dcmread(next((scan / "PT").iterdir()), stop_before_pixels=True)
        assert ct.StudyInstanceUID == pt.StudyInstanceUID
        assert ct.FrameOfReferenceUID == pt.FrameOfReferenceUID
        assert ct.SeriesInstanceUID != pt.SeriesInstanceUID


def _pixel_centres_mm(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """x (per column) and y (per row) in LPS mm of an axial slice; PixelSpacing is (row, col)."""
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    x0, y0 = float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1])
    return x0 + col_mm * np.arange(ds.Columns), y0 + row_mm * np.arange(ds.Rows)


def test_ct_lesion_axes_match_truth_within_one_pixel_diagonal(
    synth: Path, truth: dict[str, Any]
) -> None:
    """RECIST 1.1 §3.1 long and short axes, measured on the CT by lesion_axes, match the truth
    (diameters and centre within one pixel diagonal, on the slice the truth names)."""
    from scipy import ndimage

    checked = 0
    for patient in truth["patients"]:
        for tp in patient["timepoints"]:
            ct = load_ct((synth / tp["ct_folder"]).iterdir())
            diagonal = math.hypot(ct.spacing_mm[1], ct.spacing_mm[2])
            for lesion in tp["lesions"]:
                near = np.abs(ct.array - lesion["ct_hu"]) < 20
                labels, _ = ndimage.label(near)
                index = np.rint(ct.patient_to_index(lesion["center_lps_mm"])[0]).astype(int)
                centre = (int(index[0]), int(index[1]), int(index[2]))
                assert labels[centre] > 0, lesion["lesion_id"]
                axes = lesion_axes(replace(ct, array=labels == labels[centre]))
                # The centre slice holds the true axes; a neighbour whose true cross-section is
                # within a pixel diagonal of it may win on coarse pixels.
                if axes.long_axis.sop_instance_uid != lesion["ct_sop_instance_uid"]:
                    dz = axes.long_axis.start_lps_mm[2] - lesion["center_lps_mm"][2]
                    there = math.sqrt(max(0.0, 1 - (dz / lesion["semi_axes_mm"][2]) ** 2))
                    long_mm = float(lesion["long_axis_mm"])
                    assert long_mm * (1 - there) <= diagonal, (lesion["lesion_id"], dz)
                for segment, name in ((axes.long_axis, "long"), (axes.short_axis, "short")):
                    expected = float(lesion[f"{name}_axis_mm"])
                    assert abs(segment.length_mm - expected) <= diagonal, (lesion, name)
                # Coarse pixels can tilt the longest chord; its middle stays at the centre.
                middle = np.add(axes.long_axis.start_lps_mm, axes.long_axis.end_lps_mm) / 2
                assert math.dist(middle, lesion["center_lps_mm"]) <= diagonal
                checked += 1
    assert checked == 4 * 3 * 5 + 1  # five baseline lesions, plus the new lesion once


def _suv_factor_from_header(ds: pydicom.Dataset) -> float:
    """SUVbw per Bq/ml from the header alone (QIBA vendor-neutral pseudo-code, BQML/START)."""
    isotope = ds.RadiopharmaceuticalInformationSequence[0]
    start = dt.datetime.strptime(isotope.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S")
    scan = dt.datetime.strptime(ds.SeriesDate + ds.SeriesTime, "%Y%m%d%H%M%S")
    decayed = float(isotope.RadionuclideTotalDose) * 2.0 ** (
        -(scan - start).total_seconds() / float(isotope.RadionuclideHalfLife)
    )
    return float(ds.PatientWeight) * 1000.0 / decayed


def test_pet_suv_at_lesion_and_organ_centres_within_one_percent(
    synth: Path, truth: dict[str, Any]
) -> None:
    """SUVbw from the header and per-slice RescaleSlope equals the truth within 1 %."""
    for patient in truth["patients"]:
        for tp in patient["timepoints"]:
            series = _series(synth / tp["pet_folder"])
            zs = np.array([float(ds.ImagePositionPatient[2]) for ds in series])
            slopes = {float(ds.RescaleSlope) for ds in series}
            assert len(slopes) > 1  # per-slice slopes, as vendors write them
            points = [(les["center_lps_mm"], les["suv_max"]) for les in tp["lesions"]]
            for organ in ("liver", "spleen"):
                centre = patient[f"{organ}_reference_center_lps_mm"]
                points.append((centre, patient[f"{organ}_suv_mean"]))
            for (x, y, z), expected in points:
                ds = series[int(np.argmin(np.abs(zs - z)))]
                xs, ys = _pixel_centres_mm(ds)
                value = ds.pixel_array[np.argmin(np.abs(ys - y)), np.argmin(np.abs(xs - x))]
                suv = float(value) * float(ds.RescaleSlope) * _suv_factor_from_header(ds)
                assert suv == pytest.approx(expected, rel=0.01)
                assert patient["suv_bw_per_bq_ml"] == pytest.approx(
                    _suv_factor_from_header(ds), rel=1e-9
                )


def test_lesion_uptake_covers_every_krenning_grade(truth: dict[str, Any]) -> None:
    """Kwekkeboom & Krenning 2002: 4 > spleen, 3 > liver, 2 ≈ liver, 1 < liver, 0 none."""
    for patient in truth["patients"]:
        liver, spleen = patient["liver_suv_mean"], patient["spleen_suv_mean"]
        baseline = patient["timepoints"][0]["lesions"]
        assert sorted(les["krenning"] for les in baseline) == [0, 1, 2, 3, 4]
        for les in baseline:
            suv = les["suv_max"]
            grade = les["krenning"]
            assert (suv > spleen) == (grade == 4)
            assert (liver * 1.1 < suv <= spleen) == (grade == 3)
            assert (liver * 0.9 <= suv <= liver * 1.1) == (grade == 2)


def test_measurement_tables_score_to_the_scripted_responses(
    synth: Path, truth: dict[str, Any]
) -> None:
    """The RECIST 1.1 engine (§4.3–4.4: −30 %, +20 % and 5 mm, new lesions) gives every scripted
    overall response from the tables, and each row points at the truth's slice and SUV."""
    combined = list(csv.DictReader((synth / "measurements.csv").open()))
    assert tuple(combined[0]) == MEASUREMENT_COLUMNS
    records = build_records(read_measurements(synth / "measurements.csv"), {})
    assessed = {a.patient_id: a for a in assess_patients(records, AssessmentOptions())}
    for patient in truth["patients"]:
        rows = list(csv.DictReader((synth / patient["patient_id"] / "measurements.csv").open()))
        assert rows == [r for r in combined if r["patient_id"] == patient["patient_id"]]
        assessment = assessed[patient["patient_id"]]
        assert assessment.baseline_sum_mm == Decimal("85.0")
        scored = [str(tp.overall_response) for tp in assessment.timepoints]
        scripted = [tp["scripted_response"] for tp in patient["timepoints"][1:]]
        assert scored == scripted, patient["script"]
        for row in rows:
            tp = next(t for t in patient["timepoints"] if t["date"] == row["date"])
            lesion = next(les for les in tp["lesions"] if les["lesion_id"] == row["lesion_id"])
            assert row["sop_instance_uid"] == lesion["ct_sop_instance_uid"]
            assert row["series_uid"] == tp["ct_series_instance_uid"]
            assert float(row["suv_max"]) == pytest.approx(lesion["suv_max"])
    scripts = {p["script"] for p in truth["patients"]}
    assert scripts == {"PR then new lesion", "PR", "SD", "PD"}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_synthetic_studies(tmp_path / name, patients=1, timepoints=2, seed=3, size=32)
    write_synthetic_studies(tmp_path / "c", patients=1, timepoints=2, seed=4, size=32)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_sample_demo_patient_is_rebuilt_byte_for_byte_by_make_sample(tmp_path: Path) -> None:
    """sample_dicom/demo_patient is exactly what the Makefile's ``sample`` command writes."""
    sample = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient"
    rebuilt = tmp_path / "demo_patient"
    assert main(["synth", str(rebuilt), *SAMPLE_ARGS]) == 0
    files = sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    # Compare what synth writes; other tools may add their outputs (e.g. an SR) beside it.
    for name in files:
        assert (sample / name).read_bytes() == (rebuilt / name).read_bytes(), name
    assert sum((sample / name).stat().st_size for name in files) < 25 * 2**20
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "recistry synth out/demo_patient " + " ".join(SAMPLE_ARGS) in makefile
    assert "cp -R out/demo_patient/. sample_dicom/demo_patient/" in makefile


def test_cli_writes_studies_and_refuses_a_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    args = ["synth", str(out), "--patients", "1", "--timepoints", "1", "--size", "32"]
    assert main(args) == 0
    assert len(list(out.rglob("*.dcm"))) == 60
    before = _digest(out)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "not empty" in err and "Traceback" not in err
    assert _digest(out) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"patients": 0, "timepoints": 1, "size": 64}, "patients"),
        ({"patients": 1, "timepoints": 0, "size": 64}, "timepoints"),
        ({"patients": 1, "timepoints": 1, "size": 16}, "size"),
    ],
)
def test_bad_counts_are_refused_and_nothing_is_written(
    tmp_path: Path, kwargs: dict[str, int], field: str
) -> None:
    with pytest.raises(InputError, match=field):
        write_synthetic_studies(tmp_path / "out", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_an_output_path_that_is_a_file_or_unwritable_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    with pytest.raises(InputError, match="is a file"):
        write_synthetic_studies(target, patients=1, timepoints=1, size=32)
    assert target.read_text() == "keep me"
    blocked = target / "sub" / "out"  # a folder cannot be created under a file
    with pytest.raises(InputError, match="cannot create") as info:
        write_synthetic_studies(blocked, patients=1, timepoints=1, size=32)
    assert info.value.path == str(blocked)


def test_repositioned_follow_up_puts_each_lesion_at_its_recorded_centre() -> None:
    """--reposition: the CT holds each lesion's HU at the truth's scan centre (the known rigid
    transform plus deformation), not at its baseline position; baseline truth is unchanged."""
    from recistry.imaging.resample import voxel_at
    from tests.imaging._synth_cases import repositioned_case

    patient, scans = repositioned_case()
    baseline, follow_up = scans
    assert baseline.truth["repositioning"] is None
    pose = follow_up.truth["repositioning"]
    assert 0.5 <= max(abs(a) for a in pose["rotation_deg_xyz"]) <= 5.0
    assert math.hypot(*pose["translation_mm"][:2]) >= 5.0
    moved = []
    for lesion in follow_up.truth["lesions"]:
        at = voxel_at(follow_up.ct, lesion["center_lps_mm"])
        assert at is not None
        patch = follow_up.ct.array[at[0], at[1] - 1 : at[1] + 2, at[2] - 1 : at[2] + 2]
        assert float(np.median(patch)) == pytest.approx(lesion["ct_hu"], abs=6.0), lesion[
            "lesion_id"
        ]
        moved.append(math.dist(lesion["center_lps_mm"], lesion["body_center_lps_mm"]))
    assert min(moved) > 5.0
    for lesion in baseline.truth["lesions"]:
        assert "body_center_lps_mm" not in lesion
    assert {les["lesion_id"] for les in baseline.truth["lesions"]} >= {"LU1"}
    lung = next(les for les in baseline.truth["lesions"] if les["lesion_id"] == "LU1")
    centre = np.asarray(lung["center_lps_mm"])
    beside = voxel_at(baseline.ct, np.add(centre, (lung["semi_axes_mm"][0] + 6, 0, 0)))
    assert beside is not None and baseline.ct.array[beside] < -700  # aerated lung around it
    assert patient["patient_id"] == "SYN5-001"
