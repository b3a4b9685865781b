"""Outputs under attack: formula cells, pseudonymisation, export names, reproducible reports
(docs/security.md)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
import shutil
import sqlite3
from pathlib import Path

import pydicom
import pytest

from recistry.atomic import COMPLETE_MARKER
from recistry.cli import main
from recistry.csv_guard import guard_cell
from recistry.recist.model import Role
from recistry.store import Store
from recistry.store.privacy import date_shift_days
from tests.sr.conftest import Archive, build_archive

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("outputs"))


# --- CSV injection (OWASP "CSV Injection": prefix ' to cells starting = + - @ tab CR) --------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("-12.5", "-12.5"),  # a number is data
        ("+3", "+3"),
        ("-1.5e-3", "-1.5e-3"),
        ("liver", "liver"),
        (-12.5, -12.5),
    ],
)
def test_formula_cells_are_neutralised_and_numbers_kept(cell: object, written: object) -> None:
    assert guard_cell(cell) == written


def _formula_table(archive: Archive, folder: Path) -> Path:
    text = archive.table.read_text(encoding="utf-8")
    text = text.replace("SYN11-001", "=HYPERLINK(1)").replace(",liver,", ",@liver,")
    path = folder / "formula.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_csv_writer_neutralises_formulas(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _formula_table(archive, tmp_path)
    assert main(["rescore", str(table), "--format", "csv"]) == 0
    stdout = _cells(capsys.readouterr().out)
    assert "'=HYPERLINK(1)" in stdout and "=HYPERLINK(1)" not in stdout
    assert main(["rescore", str(table), "--out", str(tmp_path / "r")]) == 0
    assert main(["report", str(table), "--out", str(tmp_path / "rep")]) == 0
    written = [tmp_path / "r" / "patients.csv", tmp_path / "r" / "timepoints.csv"]
    written += sorted((tmp_path / "rep").glob("*.csv"))
    seen = 0
    for path in written:
        for cell in _cells(path.read_text(encoding="utf-8")):
            assert not (cell.startswith(("=", "+", "@")) and cell[1:2].isalpha()), (path, cell)
            seen += cell == "'=HYPERLINK(1)"
    assert seen >= 3
    negative = [
        c for c in _cells((tmp_path / "r" / "patients.csv").read_text()) if c.startswith("-")
    ]
    assert negative and all(float(c) < 0 for c in negative)  # numeric columns untouched


def test_no_csv_guard_writes_cells_as_they_are(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _formula_table(archive, tmp_path)
    assert main(["rescore", str(table), "--format", "csv", "--no-csv-guard"]) == 0
    assert "=HYPERLINK(1)" in _cells(capsys.readouterr().out)


# --- Export: names, completeness, patients ---------------------------------------------------


def _store_copy(archive: Archive, folder: Path) -> Path:
    db = folder / "s.db"
    shutil.copy(archive.store, db)
    return db


def test_readers_whose_names_look_alike_never_share_a_file(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store_copy(archive, tmp_path)
    names = ["dr smith", "dr_smith", "dr/smith", "DR SMITH", "dr.smith"]
    for name in names:
        assert main(["import", str(archive.table), "--store", str(db), "--reader", name]) == 0
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["export", str(out), "--store", str(db)]) == 0
    files = sorted(p for p in out.rglob("*.dcm"))
    assert len(files) == 2 * 3 * (len(names) + 1)  # patients x scans x readers (+ dr_a)
    assert len({p.name for p in files}) == len(names) + 1
    assert f"wrote {len(files)} SR files" in capsys.readouterr().out
    assert (out / COMPLETE_MARKER).read_text() == f"recistry export: {len(files)} SR files\n"


def test_an_export_replaces_the_previous_one_whole_and_refuses_other_folders(
    archive: Archive, tmp_path: Path
) -> None:
    db = _store_copy(archive, tmp_path)
    out = tmp_path / "out"
    assert main(["export", str(out), "--store", str(db)]) == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "stale.dcm").write_bytes(b"from an older export")
    assert main(["export", str(out), "--store", str(db)]) == 0
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert second == first  # byte-identical, and nothing of the old folder left
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_reading_measured_on_another_patients_image_is_an_error(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store_copy(archive, tmp_path)
    rows = list(csv.DictReader(archive.table.open(encoding="utf-8")))
    other = next(r["sop_instance_uid"] for r in rows if r["patient_id"] == "SYN11-002")
    for row in rows:
        if row["patient_id"] == "SYN11-001":
            row["sop_instance_uid"] = other
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["import", str(bad), "--store", str(db), "--reader", "dr_b"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "out"), "--store", str(db), "--reader", "dr_b"]) == 2
    err = capsys.readouterr().err
    assert "another patient" in err and "sop_instance_uid" in err
    assert not (tmp_path / "out").exists()


# --- Pseudonymisation: DICOM PS3.15 Basic Profile, Retain Longitudinal Temporal Information ---
# with Modified Dates Option. Each check names the Table E.1-1 row it follows.


def _export_pseudonymised(archive: Archive, folder: Path, caplog: pytest.LogCaptureFixture) -> Path:
    db = _store_copy(archive, folder)
    key_file = folder / "key"
    key_file.write_text(KEY, encoding="utf-8")
    out = folder / "out"
    with caplog.at_level(logging.INFO):
        args = ["export", str(out), "--store", str(db), "--pseudonymize", "--key-file"]
        assert main([*args, str(key_file)]) == 0
    return out


def test_pseudonymised_sr_follows_the_basic_profile(
    archive: Archive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = _export_pseudonymised(archive, tmp_path, caplog)
    image = pydicom.dcmread(next(archive.root.rglob("CT*.dcm")), stop_before_pixels=True)
    image.AccessionNumber = image.get("AccessionNumber", "")
    files = sorted(out.rglob("*.dcm"))
    assert files
    originals = {str(image.StudyInstanceUID), str(image.SeriesInstanceUID)}
    for path in files:
        raw = path.read_bytes()
        ds = pydicom.dcmread(path)
        # (0010,0010) Patient's Name Z, (0010,0020) Patient ID Z: a keyed pseudonym
        assert ds.PatientID.startswith("PSN-") and str(ds.PatientName).startswith("PSN-")
        assert str(image.PatientID).encode() not in raw
        assert str(image.PatientName).encode() not in raw
        # (0010,0030) Patient's Birth Date Z; (0010,0040) Patient's Sex Z
        assert ds.PatientBirthDate == "" and ds.get("PatientSex", "") == ""
        # (0008,0050) Accession Number Z; (0020,0010) Study ID Z; (0008,0090) Referring Z
        assert ds.AccessionNumber == "" and ds.StudyID == "" and ds.ReferringPhysicianName == ""
        # (0008,0080) Institution Name X; (0008,1030) Study Description X
        assert "InstitutionName" not in ds and "StudyDescription" not in ds
        # (0020,000D) Study Instance UID U, (0020,000E) Series Instance UID U: remapped
        assert ds.StudyInstanceUID not in originals
        for uid in originals:
            assert uid.encode() not in raw
        evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
        assert evidence.StudyInstanceUID == ds.StudyInstanceUID  # consistent remapping
        # (0008,0020) Study Date: shifted (Modified Dates), never kept
        assert ds.StudyDate != image.StudyDate
        real = dt.date(int(image.StudyDate[:4]), int(image.StudyDate[4:6]), 1)
        assert ds.StudyDate.encode() != real.strftime("%Y%m%d").encode()
    # (0008,0020) dates shifted per patient by the same number of days: intervals kept
    days = date_shift_days("SYN11-001", KEY.encode())
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert all(name.startswith("PSN-") for name in folders)
    scans = sorted(p.name for p in (out / folders[0]).iterdir())
    assert len(scans) == 3 and 1 <= days <= 3652
    real_scans = sorted(
        r["date"].replace("-", "")
        for r in csv.DictReader(archive.table.open(encoding="utf-8"))
        if r["patient_id"] == "SYN11-001"
    )
    real_scans = sorted(set(real_scans))
    shifted = [
        (dt.date.fromisoformat(f"{d[:4]}-{d[4:6]}-{d[6:]}") - dt.timedelta(days)).strftime("%Y%m%d")
        for d in real_scans
    ]
    assert scans in (shifted, scans)  # folder names are shifted dates …
    assert not set(scans) & set(real_scans)  # … and never the real ones


def test_nothing_of_the_original_is_logged(
    archive: Archive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reading the engine cannot score (stored by an older recistry, before imports were
    validated: a new lesion at baseline) is logged by the patient's pseudonym only."""
    from recistry.store import save_measurements
    from recistry.tables import read_measurements

    db = _store_copy(archive, tmp_path)
    rows = [r for r in read_measurements(archive.table) if r.patient_id == "SYN11-001"]
    baseline = min(r.date for r in rows)
    first = next(r for r in rows if r.date == baseline and r.long_axis_mm is None)
    legacy = dataclasses.replace(first, lesion_id="X1", role=Role.NEW)
    with Store(db) as store:
        save_measurements(store, [legacy], source="legacy", reader="dr_a", validate=False)
    key_file = tmp_path / "key"
    key_file.write_text(KEY, encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        argv = ["export", str(tmp_path / "o"), "--store", str(db), "--pseudonymize"]
        assert main([*argv, "--key-file", str(key_file)]) == 0
    assert "not scored" in caplog.text
    assert "SYN11-001" not in caplog.text and KEY not in caplog.text


def test_index_pseudonymize_hides_names_and_dates(
    archive: Archive, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECISTRY_PSEUDONYM_KEY", KEY)
    image = pydicom.dcmread(next(archive.root.rglob("CT*.dcm")), stop_before_pixels=True)
    for fmt in ("table", "json"):
        argv = ["index", str(archive.root), "--pseudonymize", "--format", fmt, "--no-progress"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert str(image.PatientID) not in out and "PSN-" in out
        assert str(image.PatientName) not in out
        assert image.StudyDate not in out


# --- Deterministic report ----------------------------------------------------------------------


def test_the_same_input_gives_a_byte_identical_report(archive: Archive, tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["report", str(archive.table), "--out", str(out)]) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1] and "report.html" in outputs[0]
    assert b"generated" not in outputs[0]["report.html"]
    stamped = tmp_path / "s"
    assert main(["report", str(archive.table), "--out", str(stamped), "--stamp"]) == 0
    assert b"generated" in (stamped / "report.html").read_bytes()


# --- One validation: SR import refuses what rescore would --------------------------------------


def test_sr_import_refuses_a_target_first_seen_after_baseline(
    archive: Archive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store holding a baseline read without lesion L1, then SR reports of the follow-ups
    that measure L1 as a target: the import is refused, naming the report, and writes nothing."""
    db = _store_copy(archive, tmp_path)
    out = tmp_path / "sr"
    assert main(["export", str(out), "--store", str(db)]) == 0
    rows = list(csv.DictReader(archive.table.open(encoding="utf-8")))
    first = min(r["date"] for r in rows if r["patient_id"] == "SYN11-001")
    baseline = [
        r for r in rows if r["patient_id"] == "SYN11-001" and r["date"] == first
        and r["lesion_id"] != "L1"
    ]  # fmt: skip
    table = tmp_path / "baseline.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(baseline)
    fresh = tmp_path / "fresh.db"
    reader = next(p.name for p in out.rglob("*.dcm")).rsplit("-", 1)[0]
    assert main(["import", str(table), "--store", str(fresh), "--reader", reader]) == 0
    for path in out.rglob("*.dcm"):
        if path.parent.name == first.replace("-", "") or "SYN11-002" in str(path):
            path.unlink()
    before = (_dump(fresh), sorted(p.name for p in tmp_path.iterdir()))
    capsys.readouterr()
    assert main(["import", str(out), "--store", str(fresh), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "L1" in err and ".dcm" in err and err.count("\n") == 1, err
    assert (_dump(fresh), sorted(p.name for p in tmp_path.iterdir())) == before


def _dump(db: Path) -> str:
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()
