"""3D Slicer's side of the exchange, with dcmqi's own tools (PyPI ``dcmqi``).

- recistry's lesion masks (:func:`recistry.sr.seg.write_seg`) are read back by dcmqi's
  ``segimage2itkimage`` voxel for voxel;
- a Slicer report written by dcmqi's ``tid1500writer`` from its JSON (TID 1411 groups that
  reference SEG segments, SUVbw in ``{SUVbw}g/ml``, SNOMED RT finding sites, a volume-only
  lesion) is imported: SEG references resolve to the CT images, non-RECIST values are kept and
  counted, lesions are unassigned, and ``recistry export`` works afterwards.

References: dcmqi ``doc/schemas/sr-tid1500-schema.json`` and ``doc/examples``; DICOM PS3.16
TID 1411 (Referenced Segment, Source series for segmentation); PS3.3 C.8.20 (Segmentation).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from recistry.cli import main
from recistry.sr import export_store, extra_values, read_report
from recistry.sr.seg import WrittenSegmentation, write_seg
from recistry.store import Store, in_force_measurements
from recistry.store.readings import ROLE_UNASSIGNED_KEY
from tests.sr._tools import dcmqi
from tests.sr.conftest import Archive


@pytest.fixture(scope="module")
def ct_paths(archive: Archive) -> list[Path]:
    paths = sorted(next(archive.root.rglob("CT*.dcm")).parent.glob("CT*.dcm"))
    return sorted(paths, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))


def _masks(shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    liver = np.zeros(shape, dtype=bool)
    liver[2:5, 10:16, 8:20] = True
    node = np.zeros(shape, dtype=bool)
    node[4:6, 20:24, 20:25] = True
    return {"liver lesion": liver, "node": node}


@pytest.fixture(scope="module")
def seg(ct_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> WrittenSegmentation:
    series = [pydicom.dcmread(p) for p in ct_paths]
    shape = (len(series), int(series[0].Rows), int(series[0].Columns))
    out = tmp_path_factory.mktemp("seg") / "lesions.dcm"
    return write_seg(_masks(shape), series, out, tracking_uids={"node": "1.2.826.0.1.3680043.10.1"})


def test_write_seg_is_read_back_by_dcmqi_voxel_for_voxel(
    seg: WrittenSegmentation, ct_paths: list[Path], tmp_path: Path
) -> None:
    series = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_paths]
    shape = (len(series), int(series[0].Rows), int(series[0].Columns))
    dcmqi("segimage2itkimage", "--inputDICOM", str(seg.path), "--outputDirectory", str(tmp_path))
    meta = json.loads((tmp_path / "meta.json").read_text())
    slice_z = np.array([float(ds.ImagePositionPatient[2]) for ds in series])
    origin = [float(v) for v in series[0].ImagePositionPatient]
    row_mm, column_mm = (float(v) for v in series[0].PixelSpacing)
    labels = {s[0]["SegmentLabel"]: s[0]["labelID"] for s in meta["segmentAttributes"]}
    assert labels == {"liver lesion": 1, "node": 2}
    for lesion, mask in _masks(shape).items():
        image = sitk.ReadImage(str(tmp_path / f"{seg.segment_numbers[lesion]}.nrrd"))
        # Each voxel dcmqi set, placed in patient mm (LPS) and back on recistry's CT grid.
        got = np.zeros(shape, dtype=bool)
        for z, y, x in np.argwhere(sitk.GetArrayFromImage(image) != 0):
            px, py, pz = image.TransformIndexToPhysicalPoint((int(x), int(y), int(z)))
            k = int(np.argmin(np.abs(slice_z - pz)))
            got[k, round((py - origin[1]) / row_mm), round((px - origin[0]) / column_mm)] = True
        assert got.sum() == mask.sum()
        np.testing.assert_array_equal(got, mask)


def _slicer_report(
    seg: WrittenSegmentation, ct_paths: list[Path], folder: Path, *, unit: str = "{SUVbw}g/ml"
) -> Path:
    """A report as Slicer's Quantitative Reporting writes it: dcmqi's tid1500writer from JSON."""
    library = folder / "library"
    context = folder / "context"
    library.mkdir(parents=True)
    context.mkdir()
    for path in ct_paths:
        shutil.copy(path, library / path.name)
    shutil.copy(seg.path, context / "seg.dcm")

    def code(value: str, scheme: str, meaning: str) -> dict[str, str]:
        return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}

    def group(lesion: str, site: dict[str, str], items: list[dict]) -> dict:
        return {
            "TrackingIdentifier": lesion,
            "ReferencedSegment": seg.segment_numbers[lesion],
            "SourceSeriesForImageSegmentation": seg.source_series_uid,
            "segmentationSOPInstanceUID": seg.sop_instance_uid,
            "Finding": code("52988006", "SCT", "Lesion"),
            "FindingSite": site,
            "measurementItems": items,
        }

    metadata = {
        "SeriesDescription": "Slicer measurements",
        "SeriesNumber": "1001",
        "InstanceNumber": "1",
        "compositeContext": ["seg.dcm"],
        "imageLibrary": [p.name for p in ct_paths],
        "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Slicer^Reader"},
        "VerificationFlag": "UNVERIFIED",
        "CompletionFlag": "COMPLETE",
        "activitySession": "1",
        "timePoint": "1",
        "Measurements": [
            group(
                "liver lesion",
                code("T-62000", "SRT", "Liver"),
                [
                    {
                        "value": "21.5",
                        "quantity": code("103339001", "SCT", "Long axis"),
                        "units": code("mm", "UCUM", "millimeter"),
                    },
                    {
                        "value": "7.25",
                        "quantity": code("126401", "DCM", "SUVbw"),
                        "units": code(unit, "UCUM", "Standardized Uptake Value body weight"),
                        "derivationModifier": code("56851009", "SCT", "Maximum"),
                    },
                    {
                        "value": "1270.5",
                        "quantity": code("118565006", "SCT", "Volume"),
                        "units": code("mm3", "UCUM", "cubic millimeter"),
                    },
                ],
            ),
            group(
                "node",
                code("T-C4000", "SRT", "Lymph node"),
                [
                    {
                        "value": "640",
                        "quantity": code("118565006", "SCT", "Volume"),
                        "units": code("mm3", "UCUM", "cubic millimeter"),
                    },
                    {
                        "value": "41.2",
                        "quantity": code("112031", "DCM", "Attenuation Coefficient"),
                        "units": code("[hnsf'U]", "UCUM", "Hounsfield unit"),
                        "derivationModifier": code("373098007", "SCT", "Mean"),
                    },
                ],
            ),
        ],
    }
    (folder / "report.json").write_text(json.dumps(metadata))
    out = folder / "sr" / "slicer.dcm"
    out.parent.mkdir()
    dcmqi(
        "tid1500writer",
        "--inputMetadata",
        str(folder / "report.json"),
        "--inputImageLibraryDirectory",
        str(library),
        "--inputCompositeContextDirectory",
        str(context),
        "--outputDICOM",
        str(out),
    )
    shutil.copy(seg.path, out.parent / "seg.dcm")  # the SEG travels with the report
    return out


def test_a_slicer_report_referencing_a_seg_is_read_with_its_ct_images(
    seg: WrittenSegmentation,
    ct_paths: list[Path],
    archive: Archive,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """dcmqi's SUV unit {SUVbw}g/ml is SUVbw; SNOMED RT sites are read (a node is nodal); the
    SEG reference resolves to the segment's middle source CT image and the CT series, so
    ``export`` names the CT image (it used to fail with a traceback)."""
    report_path = _slicer_report(seg, ct_paths, tmp_path)
    sources = {pydicom.dcmread(p).SOPInstanceUID: p for p in ct_paths}
    folder = report_path.parent
    from recistry.sr.reader import find_segmentations

    report = read_report(report_path, segmentations=find_segmentations(folder))
    liver, node = report.measurements
    assert liver.long_axis_mm == Decimal("21.5") and liver.extra["suv_max"] == "7.25"
    assert liver.site == "liver" and not liver.nodal and node.nodal
    assert liver.extra["segmentation_uid"] == seg.sop_instance_uid
    assert node.extra["segment_number"] == "2"
    ct_index = list(sources)
    # the liver mask covers slices 2-4: the middle one is slice 3
    assert liver.extra["sop_instance_uid"] == ct_index[3]
    assert liver.extra["series_uid"] == seg.source_series_uid
    assert node.extra["sop_instance_uid"] in ct_index[4:6]
    assert [(v.name.meaning, v.value) for v in extra_values(node)] == [
        ("Volume", Decimal("640")),
        ("Attenuation Coefficient", Decimal("41.2")),
    ]
    assert (report.extra_values, report.volume_only) == (3, 1)
    assert all(m.extra[ROLE_UNASSIGNED_KEY] == "1" for m in report.measurements)
    # import (the store holds the CT index) then export: the CT image is the evidence
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)
    assert main(["import", str(folder), "--store", str(db), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 lesions read; 3 measurements without RECIST meaning" in out
    assert "(1 lesion reading with only such values)" in out
    assert "2 lesions without a RECIST role" in out
    with Store(db) as store:
        written = export_store(store, tmp_path / "export", reader="Slicer^Reader")
    (exported,) = written
    back = {m.lesion_id: m for m in read_report(exported.path).measurements}
    assert back["liver lesion"].extra["sop_instance_uid"] == ct_index[3]
    assert back["node"].extra[ROLE_UNASSIGNED_KEY] == "1"
    assert extra_values(back["node"]) == extra_values(node)


def test_the_suv_unit_is_read_in_both_ucum_spellings(
    seg: WrittenSegmentation, ct_paths: list[Path], tmp_path: Path
) -> None:
    """UCUM annotations in braces are units of 1 wherever they stand: ``g/ml{SUVbw}`` (DICOM
    CID 85) and ``{SUVbw}g/ml`` (dcmqi) are the same unit."""
    from recistry.sr.reader import find_segmentations

    for unit in ("{SUVbw}g/ml", "g/ml{SUVbw}"):
        path = _slicer_report(seg, ct_paths, tmp_path / unit.replace("/", "_"), unit=unit)
        report = read_report(path, segmentations=find_segmentations(path.parent))
        assert report.measurements[0].extra["suv_max"] == "7.25"
    with Store(tmp_path / "s.db") as store:
        assert in_force_measurements(store) == []


def test_round_trip_recistry_dcmqi_json_tid1500writer_recistry_keeps_every_value(
    seg: WrittenSegmentation,
    ct_paths: list[Path],
    archive: Archive,
    tmp_path: Path,
) -> None:
    """Lesions with masks are written as TID 1411 groups referencing their SEG segment, which is
    what dcmqi needs: its reader's JSON, re-saved by its writer, reads back to the same values."""
    from recistry.sr.reader import find_segmentations

    slicer = _slicer_report(seg, ct_paths, tmp_path / "slicer")
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)
    assert main(["index", str(slicer.parent), "--store", str(db)]) == 0  # the SEG
    assert main(["import", str(slicer.parent), "--store", str(db), "--no-progress"]) == 0
    with Store(db) as store:
        (exported,) = export_store(store, tmp_path / "export", reader="Slicer^Reader")
    ours = read_report(exported.path, segmentations=find_segmentations(slicer.parent))
    ds = pydicom.dcmread(exported.path)
    groups = ds.ContentSequence[-1].ContentSequence
    assert all(g.ContentTemplateSequence[0].TemplateIdentifier == "1411" for g in groups)
    volumetric = hd.sr.srread(exported.path).content.get_volumetric_roi_measurement_groups()
    assert [
        (
            g.referenced_segment.referenced_sop_instance_uid,
            g.referenced_segment.referenced_segment_numbers,
        )
        for g in volumetric
    ] == [(seg.sop_instance_uid, [1]), (seg.sop_instance_uid, [2])]
    run = subprocess.run(["dciodvfy", str(exported.path)], capture_output=True, text=True)
    assert run.returncode == 0 and "Error" not in run.stderr, run.stderr
    # recistry -> dcmqi JSON
    read_json = tmp_path / "read.json"
    dcmqi("tid1500reader", "--inputDICOM", str(exported.path), "--outputMetadata", str(read_json))
    metadata = json.loads(read_json.read_text())
    assert {g["segmentationSOPInstanceUID"] for g in metadata["Measurements"]} == {
        seg.sop_instance_uid
    }
    # -> tid1500writer (it takes the time point once, for the report, and the files by name)
    metadata["timePoint"] = metadata["Measurements"][0].pop("timePoint")
    for group in metadata["Measurements"][1:]:
        assert group.pop("timePoint") == metadata["timePoint"]
    metadata["compositeContext"] = ["seg.dcm"]
    metadata["imageLibrary"] = [p.name for p in ct_paths]
    write_json = tmp_path / "write.json"
    write_json.write_text(json.dumps(metadata))
    again = tmp_path / "again" / "sr.dcm"
    again.parent.mkdir()
    dcmqi(
        "tid1500writer",
        "--inputMetadata",
        str(write_json),
        "--inputImageLibraryDirectory",
        str(tmp_path / "slicer" / "library"),
        "--inputCompositeContextDirectory",
        str(tmp_path / "slicer" / "context"),
        "--outputDICOM",
        str(again),
    )
    # -> recistry
    theirs = read_report(again, segmentations=find_segmentations(slicer.parent))
    assert len(theirs.measurements) == len(ours.measurements) == 2
    for a, b in zip(ours.measurements, theirs.measurements, strict=True):
        assert (a.patient_id, a.date, a.lesion_id, a.site, a.nodal) == (
            b.patient_id,
            b.date,
            b.lesion_id,
            b.site,
            b.nodal,
        )
        assert (a.long_axis_mm, a.short_axis_mm) == (b.long_axis_mm, b.short_axis_mm)
        assert extra_values(a) == extra_values(b)
        for key in (
            "tracking_uid",
            "sop_instance_uid",
            "series_uid",
            "segmentation_uid",
            "segment_number",
            "suv_max",
            ROLE_UNASSIGNED_KEY,
        ):
            assert a.extra.get(key) == b.extra.get(key), key


def test_a_seg_in_the_store_index_resolves_a_report_that_travels_without_it(
    seg: WrittenSegmentation,
    ct_paths: list[Path],
    archive: Archive,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the SEG, a sized lesion of a Slicer report names only the CT series: refused
    (a size must name its image). With the SEG indexed in the store, import resolves it."""
    report = _slicer_report(seg, ct_paths, tmp_path / "slicer")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(report, alone / "slicer.dcm")
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)
    assert main(["import", str(alone), "--store", str(db), "--strict", "--no-progress"]) == 2
    assert "lesion liver lesion has a size but references no image" in capsys.readouterr().err
    assert main(["index", str(seg.path.parent), "--store", str(db)]) == 0
    assert main(["import", str(alone), "--store", str(db), "--strict", "--no-progress"]) == 0
    with Store(db) as store:
        liver = next(
            m
            for m in in_force_measurements(store, "Slicer^Reader")
            if m.lesion_id == "liver lesion"
        )
    assert liver.extra["sop_instance_uid"] == pydicom.dcmread(ct_paths[3]).SOPInstanceUID


def test_a_lesion_with_a_seg_keeps_its_axis_lines_through_the_report(
    seg: WrittenSegmentation, ct_paths: list[Path], tmp_path: Path
) -> None:
    """A lesion whose mask is a SEG segment is a volumetric group (TID 1411); its long and short
    axes still carry their lines in patient mm (SCOORD3D under each NUM, as in the other groups),
    so a report exported and imported again keeps the measured lines; dciodvfy accepts it."""
    import datetime as dt
    from decimal import Decimal

    from recistry.recist.model import LesionState, Measurement, Role
    from recistry.sr import ScanReading, build_report
    from recistry.sr.reader import SEGMENT_NUMBER_KEY, SEGMENTATION_KEY, read_sr_tree

    ct = pydicom.dcmread(ct_paths[4])
    long_line = ("10.5 -20.25 30.0", "40.5 -20.25 30.0")
    short_line = ("25.5 -30.0 30.0", "25.5 -10.0 30.0")
    node = Measurement(
        patient_id=str(ct.PatientID),
        date=dt.date(2024, 1, 15),
        lesion_id="node",
        role=Role.TARGET,
        site="lymph node",
        nodal=True,
        state=LesionState.MEASURED,
        long_axis_mm=Decimal("30.0"),
        short_axis_mm=Decimal("20.0"),
        extra={
            "sop_instance_uid": str(ct.SOPInstanceUID),
            "series_uid": str(ct.SeriesInstanceUID),
            "frame_of_reference_uid": str(ct.FrameOfReferenceUID),
            "long_axis_start_mm": long_line[0],
            "long_axis_end_mm": long_line[1],
            "short_axis_start_mm": short_line[0],
            "short_axis_end_mm": short_line[1],
            SEGMENTATION_KEY: seg.sop_instance_uid,
            SEGMENT_NUMBER_KEY: str(seg.segment_numbers["node"]),
        },
    )
    images = {str(ct.SOPInstanceUID): ct, seg.sop_instance_uid: pydicom.dcmread(seg.path)}
    path = tmp_path / "seg-report.dcm"
    build_report(ScanReading((node,), "Smith^Jane", 1), images).save_as(
        path, enforce_file_format=True
    )
    shutil.copy(seg.path, tmp_path / "seg.dcm")  # the SEG travels with the report
    (back,) = read_sr_tree(tmp_path)
    assert back.extra[SEGMENTATION_KEY] == seg.sop_instance_uid
    assert (back.extra["long_axis_start_mm"], back.extra["long_axis_end_mm"]) == long_line
    assert (back.extra["short_axis_start_mm"], back.extra["short_axis_end_mm"]) == short_line
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0
    assert [
        line
        for line in run.stderr.splitlines()
        if line.startswith("Error") and "<99RECISTRY>" not in line
    ] == []
    # 3D Slicer's reader still finds the segment and both diameters.
    metadata = tmp_path / "dcmqi.json"
    dcmqi("tid1500reader", "--inputDICOM", str(path), "--outputMetadata", str(metadata))
    (group,) = json.loads(metadata.read_text())["Measurements"]
    assert group["ReferencedSegment"] == seg.segment_numbers["node"]
    diameters = {
        item["quantity"]["CodeMeaning"]: float(item["value"]) for item in group["measurementItems"]
    }
    assert (diameters["Long Axis"], diameters["Short Axis"]) == (30.0, 20.0)
