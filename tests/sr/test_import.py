"""TID 1500 import: round trip, SR written by other tools, bad files, batch and Dask runs.

Reference: DICOM PS3.16 TID 1500 (Measurement Report), TID 300 (Measurement), CID 7470/7469
(long/short axis, SCT 103339001/103340004; retired SRT G-A185/G-A186 still written by dcmjs).
"""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from recistry.errors import DicomError
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions, LesionState
from recistry.results import assessment_to_dict
from recistry.sr import export_store, read_sr, read_sr_tree
from recistry.sr.archive import import_sr_archive
from recistry.sr.codes import LEGACY_LONG_AXIS, LEGACY_SHORT_AXIS
from recistry.store import Store, in_force_measurements, load_records
from recistry.store.readings import ROLE_UNASSIGNED_KEY
from recistry.tables import build_records
from tests.sr.conftest import Archive


@pytest.fixture(scope="module")
def sr_folder(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stored")
    with Store(archive.store) as store:
        export_store(store, out)
    return out


def _counts(store: Store) -> tuple[int, ...]:
    return tuple(
        store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("imports", "patients", "lesions", "measurements", "axis_endpoints")
    )


def _scores(records: list) -> list[dict]:
    return [
        assessment_to_dict(a) for a in assess_patients(records, AssessmentOptions(confirm=True))
    ]


def test_export_import_rescore_gives_identical_results(
    archive: Archive, sr_folder: Path, tmp_path: Path
) -> None:
    """Round trip of TID 1500: table -> store -> SR -> new store -> RECIST scores unchanged."""
    with Store(tmp_path / "copy.db") as store:
        result = import_sr_archive(store, sr_folder)
    assert result.failures == () and result.files == 6
    expected = _scores(build_records(archive.measurements))
    assert _scores(load_records(tmp_path / "copy.db")) == expected
    assert _scores(build_records(read_sr_tree(sr_folder))) == expected


def test_round_trip_keeps_every_stored_value(
    archive: Archive, sr_folder: Path, tmp_path: Path
) -> None:
    with Store(tmp_path / "copy.db") as store:
        import_sr_archive(store, sr_folder)
        back = {(m.patient_id, m.date, m.lesion_id): m for m in in_force_measurements(store)}
    with Store(archive.store) as store:
        original = {(m.patient_id, m.date, m.lesion_id): m for m in in_force_measurements(store)}
    assert back.keys() == original.keys()
    for key, m in original.items():
        b = back[key]
        assert (b.role, b.site, b.nodal, b.state) == (m.role, m.site, m.nodal, m.state)
        # Exact decimal text, not only the value (e.g. "38.40" stays "38.40").
        assert str(b.long_axis_mm) == str(m.long_axis_mm)
        assert str(b.short_axis_mm) == str(m.short_axis_mm)
        assert b.slice_thickness_mm == m.slice_thickness_mm
        for k in (
            "reader",
            "tracking_uid",
            "study_uid",
            "series_uid",
            "sop_instance_uid",
            "frame_of_reference_uid",
            "long_axis_start_mm",
            "long_axis_end_mm",
            "short_axis_start_mm",
            "short_axis_end_mm",
            "krenning",
            "suv_max",
        ):
            assert b.extra.get(k) == m.extra.get(k), (key, k)
    assert any("long_axis_start_mm" in m.extra for m in back.values())


def _legacy_report(ct_path: Path, out: Path) -> Path:
    """A report as dcmjs/OHIF write it: SRT G-A185/G-A186, 2D SCOORD on the image, no
    baseline category or recistry private codes, a device observer."""
    ct = pydicom.dcmread(ct_path, stop_before_pixels=True)
    region = hd.sr.SourceImageForRegion.from_source_image(ct)

    def axis(code, value, points):
        return hd.sr.Measurement(
            name=code,
            value=value,
            unit=codes.UCUM.Millimeter,
            referenced_coordinates=[
                hd.sr.CoordinatesForMeasurement(
                    graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                    graphic_data=np.array(points, dtype=float),
                    source_image=region,
                )
            ],
        )

    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(identifier="Lesion 1"),
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(codes.SCT.Liver)],
        measurements=[
            axis(LEGACY_LONG_AXIS, 31.5, [[10.0, 10.0], [20.0, 15.0]]),
            axis(LEGACY_SHORT_AXIS, 12.25, [[14.0, 9.0], [16.0, 16.0]]),
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Device,
                observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                    uid=hd.UID(), name="OHIF"
                ),
            )
        ),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[ct],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=7,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="other tool",
    )
    sr.save_as(out, enforce_file_format=True)
    return out


def test_reports_with_retired_srt_axis_codes_are_read(archive: Archive, tmp_path: Path) -> None:
    """dcmjs writes SRT G-A185/G-A186 (retired): read as SCT 103339001/103340004."""
    ct_path = next(archive.root.rglob("CT*.dcm"))
    ct = pydicom.dcmread(ct_path, stop_before_pixels=True)
    (m,) = read_sr(_legacy_report(ct_path, tmp_path / "ohif.dcm"))
    assert m.long_axis_mm == Decimal("31.5") and m.short_axis_mm == Decimal("12.25")
    # No baseline category: the role is not guessed, the lesion is unassigned.
    assert m.extra[ROLE_UNASSIGNED_KEY] == "1"
    assert (m.state, m.site, m.nodal) == (LesionState.MEASURED, "liver", False)
    assert m.lesion_id == "Lesion 1" and m.patient_id == ct.PatientID
    assert m.extra["sop_instance_uid"] == ct.SOPInstanceUID
    assert m.extra["series_uid"] == ct.SeriesInstanceUID
    assert m.date.strftime("%Y%m%d") == ct.StudyDate  # no TID 1502 time point: the study date
    assert m.extra["reader"] == "OHIF"


def _tamper(src: Path, dst: Path, how: str) -> Path:
    ds = pydicom.dcmread(src)
    groups = ds.ContentSequence[-1].ContentSequence  # Imaging Measurements container
    lesion = next(
        g
        for g in groups
        if any(
            i.ConceptNameCodeSequence[0].CodeValue == "103339001"
            for i in g.ContentSequence
            if i.ValueType == "NUM"
        )
    )
    if how == "not_tid1500":
        ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
        ds.ConceptNameCodeSequence[0].CodeValue = "18748-4"
        ds.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
    elif how == "no_reference":
        # the source image and the axes' image-space lines (SCOORD, selected from the image)
        lesion.ContentSequence = [i for i in lesion.ContentSequence if i.ValueType != "IMAGE"]
        for item in lesion.ContentSequence:
            if item.ValueType == "NUM" and "ContentSequence" in item:
                item.ContentSequence = [c for c in item.ContentSequence if c.ValueType != "SCOORD"]
    elif how == "unknown_unit":
        num = next(
            i
            for i in lesion.ContentSequence
            if i.ValueType == "NUM" and i.ConceptNameCodeSequence[0].CodeValue == "103339001"
        )
        unit = num.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0]
        unit.CodeValue, unit.CodeMeaning = "[in_i]", "inch"
    ds.save_as(dst, enforce_file_format=True)
    return dst


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("not_tid1500", "tag ContentTemplateSequence (0040,A504): not a TID 1500"),
        (
            "no_reference",
            "content item Imaging Measurement Report > Imaging Measurements [6] > "
            "Measurement Group [2]: lesion L1 has a size but references no image",
        ),
        (
            "unknown_unit",
            "content item Imaging Measurement Report > Imaging Measurements [6] > "
            "Measurement Group [2] > Long Axis [*]: long axis has unit [in_i] (UCUM)",
        ),
    ],
)
def test_bad_sr_is_named_skipped_in_batch_and_refused_in_strict(
    archive: Archive, sr_folder: Path, tmp_path: Path, how: str, message: str
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(sr_folder, folder)
    victim = sorted(folder.rglob("*.dcm"))[0]
    _tamper(victim, victim, how)
    with pytest.raises(DicomError, match=r"not a TID 1500|references no image|has unit"):
        read_sr(victim)
    db = tmp_path / "s.db"
    with Store(db) as store:
        before = _counts(store)
        with pytest.raises(DicomError) as refused:
            import_sr_archive(store, folder, strict=True)
        assert _counts(store) == before
        assert str(victim) in str(refused.value)
        assert all(part in str(refused.value) for part in message.split("*"))
        result = import_sr_archive(store, folder)
        assert [f.path for f in result.failures] == [str(victim)]
        assert all(part in result.failures[0].reason for part in message.split("*"))
        assert result.summary is not None and result.summary.readings > 0
        imported = {m.source.path for m in in_force_measurements(store)}
    assert str(victim) not in imported and len(imported) == 5


def test_parallel_and_dask_runs_give_identical_stores(sr_folder: Path, tmp_path: Path) -> None:
    """Workers and a Dask cluster read the same studies into the same measurements."""
    from distributed import LocalCluster

    def imported(**how: object) -> list:
        db = tmp_path / f"{len(list(tmp_path.iterdir()))}.db"
        with Store(db) as store:
            import_sr_archive(store, sr_folder, **how)  # type: ignore[arg-type]
            return [dataclasses.astuple(m) for m in in_force_measurements(store)]

    serial = imported()
    assert imported(workers=2) == serial
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert imported(dask_address=cluster.scheduler_address) == serial


def test_an_amended_report_becomes_the_later_revision_whatever_the_file_names(
    archive: Archive, tmp_path: Path
) -> None:
    """Two reports of one reading: the one with the later Content Date/Time (PS3.3 C.17.2) wins."""
    from recistry.store import save_measurements

    first = [m for m in archive.measurements if m.patient_id == "SYN11-001"]
    stamp = {"measured_at": "2024-02-01T10:00:00"}
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)
    folder = tmp_path / "both"
    with Store(db) as store:
        original = [dataclasses.replace(m, extra={**m.extra, **stamp}) for m in first]
        save_measurements(store, original, source="v1", reader="dr_a")
        old = export_store(store, tmp_path / "v1", reader="dr_a")
        target = next(m for m in original if m.long_axis_mm is not None)
        amended = dataclasses.replace(
            target,
            long_axis_mm=target.long_axis_mm + 1,
            extra={**target.extra, "measured_at": "2024-02-02T09:00:00"},
        )
        save_measurements(store, [amended], source="v2", reader="dr_a")
        new = export_store(store, tmp_path / "v2", reader="dr_a")
    pick = lambda reports: next(  # noqa: E731
        r.path for r in reports if r.patient == "SYN11-001" and r.date == target.date.isoformat()
    )
    folder.mkdir()
    shutil.copy(pick(new), folder / "a_amended.dcm")  # sorts first by name
    shutil.copy(pick(old), folder / "z_original.dcm")
    with Store(tmp_path / "copy.db") as store:
        result = import_sr_archive(store, folder)
        assert result.failures == ()
        (in_force,) = [m for m in in_force_measurements(store) if m.lesion_id == target.lesion_id]
        revisions = store.conn.execute(
            "SELECT COUNT(*) FROM measurements JOIN lesions USING (lesion_pk) WHERE lesion_id = ?",
            (target.lesion_id,),
        ).fetchone()[0]
    assert in_force.long_axis_mm == target.long_axis_mm + 1
    assert revisions == 2


def test_image_coordinates_of_other_tools_become_patient_mm_when_the_image_is_indexed(
    archive: Archive, tmp_path: Path
) -> None:
    """2D SCOORD (column, row), origin at the top left corner of the top left pixel (PS3.3
    C.18.6.1.2), placed in LPS mm with the image's position, orientation and pixel spacing."""
    ct_path = next(archive.root.rglob("CT*.dcm"))
    ct = pydicom.dcmread(ct_path, stop_before_pixels=True)
    folder = tmp_path / "ohif"
    folder.mkdir()
    _legacy_report(ct_path, folder / "ohif.dcm")
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)  # holds the DICOM index of the archive
    with Store(db) as store:
        result = import_sr_archive(store, folder)
        assert result.failures == ()
        (m,) = [x for x in in_force_measurements(store, "OHIF")]
    ipp = np.array([float(v) for v in ct.ImagePositionPatient])
    row_dir = np.array([float(v) for v in ct.ImageOrientationPatient[:3]])
    col_dir = np.array([float(v) for v in ct.ImageOrientationPatient[3:]])
    dr, dc = (float(v) for v in ct.PixelSpacing)

    def lps(x: float, y: float) -> np.ndarray:
        return ipp + (x - 0.5) * dc * row_dir + (y - 0.5) * dr * col_dir

    start = np.array([float(v) for v in m.extra["long_axis_start_mm"].split()])
    end = np.array([float(v) for v in m.extra["long_axis_end_mm"].split()])
    np.testing.assert_allclose(start, lps(10.0, 10.0), atol=1e-3)
    np.testing.assert_allclose(end, lps(20.0, 15.0), atol=1e-3)
    assert m.extra["frame_of_reference_uid"] == ct.FrameOfReferenceUID
    assert m.extra["long_axis_image_points"] == "10.0 10.0 20.0 15.0"
    assert "short_axis_start_mm" in m.extra


def test_accept_refuses_a_folder_with_two_readers_of_one_patient(
    archive: Archive, tmp_path: Path
) -> None:
    from recistry.errors import InputError
    from recistry.store import save_measurements

    db = tmp_path / "two.db"
    shutil.copy(archive.store, db)
    second = [
        dataclasses.replace(m, extra={**m.extra, "reader": "dr_b"}) for m in archive.measurements
    ]
    with Store(db) as store:
        save_measurements(store, second, source="second read")
        export_store(store, tmp_path / "sr")
    with Store(tmp_path / "copy.db") as store:
        before = _counts(store)
        with pytest.raises(InputError, match="was read by dr_a, dr_b"):
            import_sr_archive(store, tmp_path / "sr", accept=True)
        assert _counts(store) == before
        assert import_sr_archive(store, tmp_path / "sr").summary.readings == 2 * len(second)
