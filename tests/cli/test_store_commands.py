"""``recistry import``, ``export`` and ``audit`` run in-process on real files."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pydicom
import pytest

from recistry.cli import main
from recistry.store import Store
from tests.sr.conftest import Archive, build_archive
from tests.store._data import cohort_rows, write_csv


@pytest.fixture(scope="module")
def sr_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("archive"))


def _counts(db: Path) -> tuple[int, ...]:
    with Store(db) as store:
        return tuple(
            store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("imports", "patients", "measurements", "clinical")
        )


def test_import_table_then_audit_shows_the_edit_history(tmp_path: Path, capsys) -> None:
    rows = cohort_rows(2, reader="dr_a")
    db = tmp_path / "s.db"
    assert main(["import", str(write_csv(tmp_path / "a.csv", rows)), "--store", str(db)]) == 0
    rows[3]["long_axis_mm"] = "17.5"
    edited = write_csv(tmp_path / "b.csv", rows)
    assert main(["import", str(edited), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "1 new revision, 23 unchanged" in out
    assert main(["audit", "P00001", "--store", str(db), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    scan = next(s for s in document["scans"] if s["date"] == rows[3]["date"])
    t1 = next(m for m in scan["measurements"] if m["lesion_id"] == "T1")
    assert t1["long_axis_mm"] == "17.5" and [r["revision"] for r in t1["history"]] == [1, 2]
    change = t1["history"][1]["changes"]
    assert change == [{"field": "long_axis_mm", "old": rows_value(tmp_path), "new": "17.5"}]
    assert t1["history"][1]["source_path"] == str(edited)
    assert scan["assessment"]["reasons"]  # the call comes with its reasons
    assert main(["audit", "P00001", "--store", str(db)]) == 0
    text = capsys.readouterr().out
    assert f"long_axis_mm: {rows_value(tmp_path)} → 17.5" in text


def rows_value(tmp_path: Path) -> str:
    return cohort_rows(2, reader="dr_a")[3]["long_axis_mm"]


def test_audit_html_is_one_self_contained_file(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    main(["import", str(write_csv(tmp_path / "a.csv", cohort_rows(1))), "--store", str(db)])
    out = tmp_path / "audit.html"
    assert main(["audit", "P00001", "--store", str(db), "--format", "html", "--out", str(out)]) == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "P00001" in html
    assert not re.search(r"<script|<link|src=|https?://", html)
    assert "Best overall response" in html and "RECIST 1.1" in html


def test_bad_table_is_one_line_exit_2_and_store_unchanged(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    main(["import", str(write_csv(tmp_path / "a.csv", cohort_rows(2))), "--store", str(db)])
    before = _counts(db)
    rows = cohort_rows(2, seed=5)
    rows[4]["suv_max"] = "high"
    bad = write_csv(tmp_path / "bad.csv", rows)
    capsys.readouterr()
    assert main(["import", str(bad), "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"recistry import: error: {bad}, row 5, column 'suv_max': 'high' is not a number\n"
    )
    assert _counts(db) == before


def test_audit_of_unknown_patient_and_missing_store(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    main(["import", str(write_csv(tmp_path / "a.csv", cohort_rows(1))), "--store", str(db)])
    assert main(["audit", "NOPE", "--store", str(db)]) == 2
    assert "no patient 'NOPE'" in capsys.readouterr().err
    assert main(["audit", "P00001", "--store", str(tmp_path / "typo.db")]) == 2
    assert "no such store" in capsys.readouterr().err


def test_audit_pseudonymised_hides_the_patient_id_and_key(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    key = "k" * 32
    monkeypatch.setenv("RECISTRY_PSEUDONYM_KEY", key)
    db = tmp_path / "s.db"
    table = write_csv(tmp_path / "P00001-readings.csv", cohort_rows(1))
    main(["import", str(table), "--store", str(db)])
    capsys.readouterr()
    for fmt in ("table", "json", "html"):
        assert main(["audit", "P00001", "--store", str(db), "--format", fmt, "--pseudonymize"]) == 0
        out = capsys.readouterr().out
        assert "P00001" not in out and key not in out and "PSN-" in out


def test_pseudonymize_without_key_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("RECISTRY_PSEUDONYM_KEY", raising=False)
    db = tmp_path / "s.db"
    main(["import", str(write_csv(tmp_path / "a.csv", cohort_rows(1))), "--store", str(db)])
    assert main(["audit", "P00001", "--store", str(db), "--pseudonymize"]) == 2
    assert "needs a key" in capsys.readouterr().err


def test_sr_round_trip_through_the_cli_and_logs_without_patient_names(
    sr_archive: Archive, tmp_path: Path, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "s.db"
    shutil.copy(sr_archive.store, db)
    out = tmp_path / "sr"
    assert main(["-v", "export", str(out), "--store", str(db)]) == 0
    copy = tmp_path / "copy.db"
    assert main(["-v", "import", str(out), "--store", str(copy), "--no-progress"]) == 0
    assert main(["audit", "SYN11-001", "--store", str(copy)]) == 0
    captured = capsys.readouterr()
    names = {
        str(pydicom.dcmread(p, stop_before_pixels=True).PatientName)
        for p in sr_archive.root.rglob("CT0001.dcm")
    }
    logs = caplog.text + captured.err
    assert names and not any(name in logs or name in captured.out for name in names)
    assert "wrote 6 SR files for 2 patients" in captured.out


def test_bad_sr_in_a_folder_exit_1_names_it_strict_exit_2(
    sr_archive: Archive, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "s.db"
    shutil.copy(sr_archive.store, db)
    out = tmp_path / "sr"
    main(["export", str(out), "--store", str(db)])
    victim = sorted(out.rglob("*.dcm"))[0]
    ds = pydicom.dcmread(victim)
    ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    ds.ConceptNameCodeSequence[0].CodeValue = "18748-4"
    ds.save_as(victim)
    copy = tmp_path / "copy.db"
    capsys.readouterr()
    assert main(["import", str(out), "--store", str(copy), "--strict", "--no-progress"]) == 2
    assert str(victim) in capsys.readouterr().err
    assert main(["import", str(out), "--store", str(copy), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert f"skipped {victim}" in captured.err and "1 skipped" in captured.out


def test_index_into_the_store_lets_the_audit_name_each_image_file(
    sr_archive: Archive, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "s.db"
    assert main(["index", str(sr_archive.root), "--store", str(db), "--format", "json"]) == 0
    files = sum(1 for p in sr_archive.root.rglob("*.dcm"))
    assert f"recorded {files} instances in {db}" in capsys.readouterr().err
    assert main(["import", str(sr_archive.table), "--store", str(db)]) == 0
    capsys.readouterr()
    assert main(["audit", "SYN11-001", "--store", str(db), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    images = [m["image"] for s in document["scans"] for m in s["measurements"]]
    assert images and all(Path(i["file"]).is_file() for i in images)
    for image in images:
        ds = pydicom.dcmread(image["file"], stop_before_pixels=True)
        assert ds.SOPInstanceUID == image["sop_instance_uid"]


def test_one_command_is_one_transaction_table_and_bad_clinical(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    main(["import", str(write_csv(tmp_path / "a.csv", cohort_rows(2))), "--store", str(db)])
    before = _counts(db)
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient_id,treatment_start,death_date\nP00001,2024-01-01,2023-01-01\n")
    table = write_csv(tmp_path / "b.csv", cohort_rows(3, seed=9))
    capsys.readouterr()
    assert main(["import", str(table), "--clinical", str(clinical), "--store", str(db)]) == 2
    assert "death_date 2023-01-01 is before treatment_start" in capsys.readouterr().err
    assert _counts(db) == before
    # An unknown reader to accept also rolls the table back.
    args = ["import", str(table), "--accept-reader", "nobody", "--store", str(db)]
    assert main(args) == 2
    assert "no reader named 'nobody'" in capsys.readouterr().err
    assert _counts(db) == before


def test_accept_reader_from_the_command_line(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    for reader, seed in (("dr_a", 1), ("dr_b", 2)):
        table = write_csv(tmp_path / f"{reader}.csv", cohort_rows(2, reader=reader, seed=seed))
        assert main(["import", str(table), "--store", str(db)]) == 0
    assert main(["rescore", str(db)]) == 2
    assert "several reads and none accepted" in capsys.readouterr().err
    args = ["import", "--accept-reader", "dr_b", "--patient", "P00001", "--store", str(db)]
    assert main(args) == 0
    assert (
        main(["import", "--accept-reader", "dr_a", "--patient", "P00002", "--store", str(db)]) == 0
    )
    capsys.readouterr()
    assert main(["audit", "P00001", "--store", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["reader"] == "dr_b"
    assert main(["rescore", str(db), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [p["patient_id"] for p in document["patients"]] == ["P00001", "P00002"]


def test_audit_of_one_patient_is_not_blocked_by_another_patients_open_choice(
    tmp_path: Path, capsys
) -> None:
    db = tmp_path / "s.db"
    a = cohort_rows(2, reader="dr_a")
    b = [r for r in cohort_rows(2, reader="dr_b", seed=4) if r["patient_id"] == "P00002"]
    main(["import", str(write_csv(tmp_path / "a.csv", a)), "--store", str(db)])
    main(["import", str(write_csv(tmp_path / "b.csv", b)), "--store", str(db)])
    capsys.readouterr()
    assert main(["audit", "P00001", "--store", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["reader"] == "dr_a"
    assert main(["audit", "P00002", "--store", str(db)]) == 2
    assert "P00002 (dr_a, dr_b)" in capsys.readouterr().err
