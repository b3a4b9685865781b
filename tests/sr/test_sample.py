"""The demo patient's SR files in sample_dicom/ match what recistry exports from its table."""

from __future__ import annotations

from pathlib import Path

from recistry.imaging.discovery import index_tree
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions
from recistry.results import assessment_to_dict
from recistry.sr import export_store, read_sr_tree
from recistry.store import Store, save_measurements
from recistry.store.dicom_index import save_dicom_index
from recistry.tables import build_records, read_measurements

DEMO = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient"


def test_sample_reports_are_what_export_writes_today(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        save_dicom_index(store, index_tree(DEMO / "SYN1-001"))
        table = DEMO / "measurements.csv"
        save_measurements(store, read_measurements(table), source=str(table), reader="demo_reader")
        written = export_store(store, tmp_path / "sr")
    shipped = sorted((DEMO / "sr").rglob("*.dcm"))
    assert [r.path.relative_to(tmp_path / "sr") for r in written] == [
        p.relative_to(DEMO / "sr") for p in shipped
    ]
    for report, path in zip(written, shipped, strict=True):
        assert report.path.read_bytes() == path.read_bytes(), path


def test_sample_reports_rescore_like_the_table() -> None:
    options = AssessmentOptions()
    from_table = assess_patients(
        build_records(read_measurements(DEMO / "measurements.csv")), options
    )
    from_sr = assess_patients(build_records(read_sr_tree(DEMO / "sr")), options)
    assert [assessment_to_dict(a) for a in from_sr] == [assessment_to_dict(a) for a in from_table]
