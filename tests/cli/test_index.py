"""``recistry index``: table and JSON output, exit statuses, no traceback on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recistry.cli import main
from tests.imaging._series_files import write_ct_series, write_pet_series


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    stored = np.zeros((3, 6, 6), dtype=np.int16)
    write_ct_series(tmp_path / "ct", stored, names=lambda k: f"{k}", description="CT abdomen")
    write_pet_series(tmp_path / "pet" / "x", stored, slopes=[1.0, 1.0, 1.0])
    (tmp_path / "notes.txt").write_text("hello")
    return tmp_path


def test_table_lists_patient_series_and_counts(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "LOAD-001" in out and "CT abdomen" in out and "Ga-68 DOTATATE" in out
    assert "1 patient(s), 2 study(ies), 2 series, 6 file(s); 1 non-DICOM file(s) skipped" in out


def test_json_output(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(archive), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    series = [s for st in data["patients"][0]["studies"] for s in st["series"]]
    assert sorted(s["modality"] for s in series) == ["CT", "PT"]
    pet = next(s for s in series if s["modality"] == "PT")
    assert pet["radiopharmaceutical"] == "Ga-68 DOTATATE" and pet["slice_count"] == 3
    assert pet["pixel_spacing_mm"] == [4.0, 4.0] and pet["slice_spacing_mm"] == 4.0
    assert data["skipped"] == 1 and data["errors"] == []


def test_unreadable_file_is_listed_and_strict_exits_1(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = next((archive / "ct").iterdir())
    victim.write_bytes(victim.read_bytes()[:300])
    assert main(["index", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "unreadable" in out and "truncated" in out
    assert main(["index", str(archive), "--strict"]) == 1


def test_missing_root_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or folder" in err and "Traceback" not in err


SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


def test_sample_dicom_lists_the_demo_patient(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(SAMPLE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == [] and data["patients"]
    modalities = {
        s["modality"] for p in data["patients"] for st in p["studies"] for s in st["series"]
    }
    assert {"CT", "PT"} <= modalities


def _as_jpeg2000_part2(src: Path, dst: Path) -> None:
    """``src`` with its pixels encapsulated and labelled JPEG 2000 Part 2 Multi-component
    (1.2.840.10008.1.2.4.92), a syntax no installed decoder handles."""
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(src)
    ds.PixelData = encapsulate([b"\xff\x0a" + bytes(14)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.92"
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst, enforce_file_format=True)


def test_index_shows_decodable_pixels_and_frame_counts(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A series whose transfer syntax has no decoder is flagged before it is opened (issue 11),
    and a multi-frame object is listed with its frame count."""
    from pydicom.data import get_testdata_file

    enhanced_ct = get_testdata_file("eCT_Supplemental.dcm")  # pydicom-data, offline
    assert enhanced_ct is not None
    (archive / "enhanced").mkdir()
    (archive / "enhanced" / "ect.dcm").write_bytes(Path(enhanced_ct).read_bytes())
    ct_files = sorted((archive / "ct").iterdir())
    _as_jpeg2000_part2(ct_files[0], archive / "part2" / "0.dcm")
    ct_files[0].unlink()  # the Part 2 copy replaces it in the CT series

    assert main(["index", str(archive), "--format", "json"]) == 0
    series = {
        s["description"]: s
        for p in json.loads(capsys.readouterr().out)["patients"]
        for st in p["studies"]
        for s in st["series"]
    }
    ct = series["CT abdomen"]
    assert ct["pixels_decodable"] is False and ct["multi_frame"] is False
    assert set(ct["transfer_syntax_uids"]) == {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.92"}
    pet = next(s for s in series.values() if s["modality"] == "PT")
    assert pet["pixels_decodable"] is True and pet["frame_count"] == 3
    enhanced = next(s for s in series.values() if s["sop_class_uid"].endswith(".2.1"))
    assert enhanced["multi_frame"] is True and enhanced["frame_count"] == 2
    assert enhanced["slice_count"] == 1 and enhanced["pixels_decodable"] is True

    assert main(["index", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "no decoder: JPEG 2000 Part 2 Multi-component" in out
    assert "2 multi-frame" in out


def test_verify_loads_every_series_and_refuses_in_one_line(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--verify decodes and checks every CT/PET series; a refusal is one line naming the file,
    the tag and the file's own series, exit 2, and nothing is recorded in the store."""
    import pydicom

    assert main(["index", str(archive), "--verify"]) == 0
    assert "verified: 2 CT/PET series load" in capsys.readouterr().err

    victim = sorted((archive / "ct").iterdir())[1]
    ds = pydicom.dcmread(victim)
    del ds.FrameOfReferenceUID
    ds.save_as(victim)
    store = archive.parent / "trial.db"
    status = main(["index", str(archive), "--verify", "--store", str(store)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{victim}, tag FrameOfReferenceUID (0020,0052)" in err
    assert "series 'CT abdomen'" in err
    assert not store.exists()
