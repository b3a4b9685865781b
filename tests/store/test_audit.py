"""The audit follows a call back to its pixels: LPS endpoints land on the image measured on."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recistry.store import Store, save_measurements
from recistry.store.audit import patient_audit, render_html, render_text
from tests.sr.conftest import Archive, build_archive


@pytest.fixture(scope="module")
def store_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("audit"))


def test_endpoints_are_shown_as_pixels_of_the_referenced_slice(
    store_archive: Archive, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    shutil.copy(store_archive.store, db)
    m = next(
        x
        for x in store_archive.measurements
        if x.patient_id == "SYN11-001" and x.long_axis_mm is not None
    )
    with Store(db) as store:
        (path,) = store.conn.execute(
            "SELECT path FROM instances WHERE sop_instance_uid = ?", (m.extra["sop_instance_uid"],)
        ).fetchone()
    ct = pydicom.dcmread(path, stop_before_pixels=True)
    ipp = np.array([float(v) for v in ct.ImagePositionPatient])
    row_dir = np.array([float(v) for v in ct.ImageOrientationPatient[:3]])
    col_dir = np.array([float(v) for v in ct.ImageOrientationPatient[3:]])
    dr, dc = (float(v) for v in ct.PixelSpacing)

    def centre(row: int, column: int) -> str:
        # PS3.3 C.7.6.2.1.1: IPP is the centre of pixel [0, 0]; IOP gives row then column axis.
        p = ipp + column * dc * row_dir + row * dr * col_dir
        return " ".join(repr(round(float(v), 4)) for v in p)

    edited = dataclasses.replace(
        m,
        extra={
            **m.extra,
            "long_axis_start_mm": centre(5, 7),
            "long_axis_end_mm": centre(9, 20),
            "frame_of_reference_uid": ct.FrameOfReferenceUID,
        },
    )
    with Store(db) as store:
        save_measurements(store, [edited], source="edit.csv", reader="dr_a")
        document = patient_audit(store, "SYN11-001")
    scan = next(s for s in document["scans"] if s["date"] == m.date.isoformat())
    row = next(r for r in scan["measurements"] if r["lesion_id"] == m.lesion_id)
    assert row["image"]["file"] == path
    assert row["image"]["long_axis_pixels_row_column"] == [[5.0, 7.0], [9.0, 20.0]]
    assert row["image"]["long_axis_off_plane_mm"] == 0.0
    fields = {c["field"] for c in row["history"][-1]["changes"]}
    assert "long_axis_endpoints_mm" in fields and row["history"][-1]["import_source"] == "edit.csv"
    assert "pixels (row, column) [5.0, 7.0] → [9.0, 20.0], 0.0 mm off the slice" in render_text(
        document
    )
    assert "0.0 mm off the slice" in render_html(document)


def test_pseudonymised_audit_replaces_the_id_as_a_token_never_inside_uids(tmp_path: Path) -> None:
    from recistry.store.privacy import pseudonym
    from recistry.tables import read_measurements
    from tests.store._data import cohort_rows, write_csv

    rows = [dict(r, patient_id="1") for r in cohort_rows(1)]
    for r in rows:
        r["study_uid"] = "1.2.840.1.1"
    table = write_csv(tmp_path / "patient-1.csv", rows, (*rows[0].keys(),))
    key = b"0123456789abcdef-key"
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, read_measurements(table), source=str(table))
        document = patient_audit(store, "1", key=key)
    alias = pseudonym("1", key)
    assert document["patient_id"] == alias
    row = document["scans"][0]["measurements"][0]
    assert row["image"]["study_uid"] == "1.2.840.1.1"  # UIDs untouched
    assert row["history"][0]["source_path"].endswith(f"patient-{alias}.csv")
    assert document["scans"][0]["date"].startswith("20")
