"""Reports that OHIF (dcmjs) and highdicom write, read by recistry's one SR reader.

Every case of issue 12 ("DICOM SR and SEG that OHIF, 3D Slicer and highdicom exchange with
recistry") is a test here or in test_slicer.py. References: DICOM PS3.16 TID 1500/1501/1410/1411,
TID 4108 (tracking identifier and UID), TID 300 (measurement); PS3.16 Annex O (SNOMED RT to
SNOMED CT); dcmjs ``adapters/Cornerstone`` (Length, Bidirectional, MeasurementReport).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from recistry.cli import main
from recistry.errors import DicomError, InputError
from recistry.recist.engine import assess_patient
from recistry.recist.model import PatientRecord, Role
from recistry.scoring import load_records
from recistry.sr import export_store, extra_values, read_report, read_sr, read_sr_tree
from recistry.sr.archive import import_sr_archive
from recistry.sr.codes import LEGACY_SNOMED_RT
from recistry.store import Store, in_force_measurements
from recistry.store.readings import ROLE_UNASSIGNED_KEY
from tests.sr._tools import headers, ohif_report
from tests.sr.conftest import Archive

BIDIRECTIONAL_LABEL = "cornerstoneTools@^4.0.0:Bidirectional"


@pytest.fixture(scope="module")
def ct(archive: Archive) -> list[pydicom.Dataset]:
    """Headers of one CT series of the synthetic archive, in slice order."""
    paths = sorted(next(archive.root.rglob("CT*.dcm")).parent.glob("CT*.dcm"))
    images = headers(paths)
    return sorted(images, key=lambda ds: float(ds.ImagePositionPatient[2]))


@pytest.fixture(scope="module")
def sr_folder(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stored")
    with Store(archive.store) as store:
        export_store(store, out)
    return out


def _bidirectional(x: float, y: float, long_mm: str, short_mm: str, **more: object) -> dict:
    return {
        "handles": {
            "start": {"x": x, "y": y},
            "end": {"x": x + 10, "y": y},
            "perpendicularStart": {"x": x + 5, "y": y - 2},
            "perpendicularEnd": {"x": x + 5, "y": y + 2},
        },
        "longestDiameter": long_mm,
        "shortestDiameter": short_mm,
        "unit": "mm",
        **more,
    }


def test_ohif_bidirectional_lesions_sharing_a_label_are_distinct_lesions(
    ct: list[pydicom.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dcmjs labels every Bidirectional 'cornerstoneTools@^4.0.0:Bidirectional' (TID 4108): the
    Tracking Unique Identifier is the identity, so two lesions stay two, in import and rescore."""
    folder = tmp_path / "ohif"
    folder.mkdir()
    image = ct[len(ct) // 2]
    ohif_report(
        [image],
        {
            image.SOPInstanceUID: {
                "Bidirectional": [
                    _bidirectional(5, 5, "50", "30"),
                    _bidirectional(15, 20, "35", "20"),
                ]
            }
        },
        folder / "ohif.dcm",
    )
    measurements = read_sr_tree(folder)
    assert sorted(m.lesion_id for m in measurements) == [
        f"{BIDIRECTIONAL_LABEL} #1",
        f"{BIDIRECTIONAL_LABEL} #2",
    ]
    assert len({m.extra["tracking_uid"] for m in measurements}) == 2
    assert sorted(m.long_axis_mm for m in measurements) == [Decimal("35"), Decimal("50")]
    assert all(m.extra[ROLE_UNASSIGNED_KEY] == "1" for m in measurements)
    # import lists both lesions and their ids; nothing is summed under one id
    db = tmp_path / "s.db"
    assert main(["import", str(folder), "--store", str(db), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"2 lesions share the label '{BIDIRECTIONAL_LABEL}'" in out
    assert f"'{BIDIRECTIONAL_LABEL} #1', '{BIDIRECTIONAL_LABEL} #2'" in out
    assert "2 lesions without a RECIST role" in out
    with Store(db) as store:
        assert len(in_force_measurements(store)) == 2
    # rescore refuses, naming the lesions that need a role (never guessed)
    for source in (folder, db):
        with pytest.raises(InputError, match=r"2 lesions have no RECIST role .*#1, .*#2"):
            load_records(source)
        assert main(["rescore", str(source)]) == 2
        assert f"{BIDIRECTIONAL_LABEL} #1" in capsys.readouterr().err


def test_ohif_length_is_read_as_the_long_axis(ct: list[pydicom.Dataset], tmp_path: Path) -> None:
    """OHIF's Length tool writes SCT 410668003 'Length' (dcmjs TID300/Length): a diameter."""
    image = ct[0]
    tool = {"handles": {"start": {"x": 1, "y": 2}, "end": {"x": 13, "y": 2}}, "length": "23.4"}
    report = ohif_report([image], {image.SOPInstanceUID: {"Length": [tool]}}, tmp_path / "l.dcm")
    (m,) = read_sr(report)
    assert m.long_axis_mm == Decimal("23.4") and m.short_axis_mm is None
    assert m.extra["sop_instance_uid"] == image.SOPInstanceUID
    assert m.extra["long_axis_image_points"] == "1.0 2.0 13.0 2.0"
    assert m.extra[ROLE_UNASSIGNED_KEY] == "1"


def test_ohif_bidirectional_in_pixels_is_refused_naming_the_unit(
    ct: list[pydicom.Dataset], tmp_path: Path
) -> None:
    """dcmjs's legacy Bidirectional adapter drops the tool's unit and writes UCUM '1' (px):
    a length in pixels is not mm, so the report is refused, with the content item named."""
    image = ct[0]
    tool = _bidirectional(5, 5, "50", "30")
    del tool["unit"]
    report = ohif_report(
        [image], {image.SOPInstanceUID: {"Bidirectional": [tool]}}, tmp_path / "p.dcm"
    )
    with pytest.raises(DicomError) as refused:
        read_sr(report)
    assert str(refused.value) == (
        f"{report}: content item Imaging Measurement Report > Imaging Measurements [5] > "
        "Measurement Group [1] > Long Axis [3]: long axis has unit 1 (UCUM); expected mm or cm"
    )


def _first_lesion_group(ds: pydicom.Dataset, *, nodal: bool | None = None) -> pydicom.Dataset:
    groups = ds.ContentSequence[-1].ContentSequence
    for group in groups:
        keys = [i.ConceptNameCodeSequence[0].CodeValue for i in group.ContentSequence]
        if "103339001" not in keys:
            continue
        is_nodal = any(
            i.ConceptNameCodeSequence[0].CodeValue == "363698007"
            and i.ConceptCodeSequence[0].CodeValue == "59441001"
            for i in group.ContentSequence
        )
        if nodal is None or nodal == is_nodal:
            return group
    raise AssertionError("no such lesion group")


def _num(group: pydicom.Dataset, code: str) -> pydicom.Dataset:
    return next(
        i
        for i in group.ContentSequence
        if i.ValueType == "NUM" and i.ConceptNameCodeSequence[0].CodeValue == code
    )


def _copy_folder(sr_folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "sr"
    shutil.copytree(sr_folder, folder)
    victim = sorted(folder.rglob("*.dcm"))[0]
    return folder, victim


def test_a_lesion_twice_in_one_report_is_refused_by_import_and_rescore(
    sr_folder: Path, tmp_path: Path
) -> None:
    """A duplicated group (same Tracking Unique Identifier) is one lesion written twice: the
    report is refused whole by both commands (it used to be counted twice by rescore)."""
    folder, victim = _copy_folder(sr_folder, tmp_path)
    ds = pydicom.dcmread(victim)
    groups = ds.ContentSequence[-1].ContentSequence
    groups.append(_first_lesion_group(ds))
    ds.save_as(victim, enforce_file_format=True)
    with pytest.raises(DicomError, match=r"appears twice in the report"):
        read_sr_tree(folder)
    with Store(tmp_path / "s.db") as store:
        result = import_sr_archive(store, folder)
    assert [f.path for f in result.failures] == [str(victim)]
    assert "appears twice in the report" in result.failures[0].reason


def test_a_report_cut_short_is_refused_whole(
    sr_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half of a report's bytes: pydicom reads it without a word; recistry refuses it."""
    folder, victim = _copy_folder(sr_folder, tmp_path)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(DicomError, match=r"the file is cut short"):
        read_sr(victim)
    with pytest.raises(DicomError, match=str(victim)):
        read_sr_tree(folder)
    db = tmp_path / "s.db"
    assert main(["import", str(folder), "--store", str(db), "--strict", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(victim) in err and "cut short" in err and "Traceback" not in err
    assert main(["import", str(folder), "--store", str(db), "--no-progress"]) == 1
    with Store(db) as store:
        sources = {m.source.path for m in in_force_measurements(store)}
    assert str(victim) not in sources


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("negative", "long axis -12.5 is negative; a length is at least 0"),
        ("no_concept", "NUM content item has no concept name"),
        ("no_value_type", "unknown or missing Value Type None"),
        ("no_units", "NUM content item has no unit"),
        ("not_finite", "'NaN' is not a finite number"),
    ],
)
def test_a_malformed_content_item_refuses_the_report_with_one_line(
    sr_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, reason: str
) -> None:
    folder, victim = _copy_folder(sr_folder, tmp_path)
    ds = pydicom.dcmread(victim)
    num = _num(_first_lesion_group(ds), "103339001")
    if how == "negative":
        num.MeasuredValueSequence[0].NumericValue = "-12.5"
    elif how == "no_concept":
        del num.ConceptNameCodeSequence
    elif how == "no_value_type":
        del num.ValueType
    elif how == "no_units":
        del num.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
    elif how == "not_finite":
        num.MeasuredValueSequence[0].NumericValue = "NaN"
    with pydicom.config.disable_value_validation():
        ds.save_as(victim, enforce_file_format=True)
    with pytest.raises(DicomError) as refused:
        read_sr_tree(folder)
    message = str(refused.value)
    assert message.startswith(f"{victim}: content item Imaging Measurement Report > ")
    assert "> Measurement Group [" in message and message.endswith(reason)
    db = tmp_path / "s.db"
    assert main(["import", str(folder), "--store", str(db), "--strict", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _legacy_sites(ds: pydicom.Dataset) -> None:
    """Rewrite every finding site as older writers do: concept SRT G-C0E3, SNOMED RT values."""
    to_rt = {code.value: rt for rt, code in LEGACY_SNOMED_RT.items()}
    for group in ds.ContentSequence[-1].ContentSequence:
        for item in group.ContentSequence:
            concept = item.ConceptNameCodeSequence[0]
            if concept.CodeValue == "363698007":
                concept.CodeValue, concept.CodingSchemeDesignator = "G-C0E3", "SRT"
                value = item.ConceptCodeSequence[0]
                value.CodeValue = to_rt[value.CodeValue]
                value.CodingSchemeDesignator = "SRT"


def test_legacy_snomed_rt_sites_keep_a_lymph_node_nodal(sr_folder: Path, tmp_path: Path) -> None:
    """SRT G-C0E3 'Finding Site' with T-C4000 'Lymph node' (highdicom's and dcmjs's samples)
    is SCT 363698007 / 59441001: the node counts by its short axis (RECIST 1.1 §4.2.2), and the
    sum of diameters is the same as with SNOMED CT codes."""
    folder, _ = _copy_folder(sr_folder, tmp_path)
    expected = {
        (m.patient_id, m.lesion_id, m.date): (m.nodal, m.site) for m in read_sr_tree(sr_folder)
    }
    assert any(nodal for nodal, _ in expected.values())
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        _legacy_sites(ds)
        ds.save_as(path, enforce_file_format=True)
    legacy = read_sr_tree(folder)
    assert {(m.patient_id, m.lesion_id, m.date): (m.nodal, m.site) for m in legacy} == expected

    def sums(measurements: list) -> list:
        by_patient: dict[str, list] = {}
        for m in measurements:
            by_patient.setdefault(m.patient_id, []).append(m)
        return [
            [tp.target_sum_mm for tp in assess_patient(PatientRecord(p, tuple(r))).timepoints]
            for p, r in sorted(by_patient.items())
        ]

    assert sums(legacy) == sums(read_sr_tree(sr_folder))
    # The check can fail: read as non-nodal (the old reader), the sums differ.
    as_if_unknown = [dataclasses.replace(m, nodal=False) for m in legacy]
    assert sums(as_if_unknown) != sums(legacy)


def test_every_legacy_code_maps_as_dicom_part_16_annex_o_says() -> None:
    """The legacy table agrees with pydicom's copy of PS3.16 Annex O (SNOMED RT -> SNOMED CT)."""
    from pydicom.sr._snomed_dict import mapping

    for rt, sct in LEGACY_SNOMED_RT.items():
        assert mapping["SRT"][rt] == sct.value, rt
        assert sct.scheme_designator == "SCT"


def _highdicom_report(ct: list[pydicom.Dataset], out: Path) -> Path:
    """Planar (TID 1410) and volumetric (TID 1411) groups as highdicom writes them: a lesion
    outlined on one slice with its long axis and area, a lesion with only a volume, a SUVbw."""
    image = ct[len(ct) // 2]
    source = hd.sr.SourceImageForRegion.from_source_image(image)
    outline = np.array([[5.0, 5.0], [15.0, 5.0], [15.0, 12.0], [5.0, 12.0], [5.0, 5.0]])
    planar = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(identifier="liver lesion", uid=hd.UID()),
        referenced_region=hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=outline,
            source_image=source,
        ),
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(Code("T-62000", "SRT", "Liver"))],
        measurements=[
            hd.sr.Measurement(name=codes.SCT.LongAxis, value=21.5, unit=codes.UCUM.Millimeter),
            hd.sr.Measurement(name=codes.SCT.Area, value=140.0, unit=codes.UCUM.SquareMillimeter),
            hd.sr.Measurement(
                name=codes.DCM.Suvbw,
                value=7.25,
                unit=codes.UCUM.StandardizedUptakeValueBodyWeight,
                derivation=codes.SCT.Maximum,
            ),
        ],
    )
    volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(identifier="node", uid=hd.UID()),
        referenced_regions=[
            hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=outline,
                source_image=hd.sr.SourceImageForRegion.from_source_image(ds),
            )
            for ds in ct[len(ct) // 2 - 1 : len(ct) // 2 + 1]
        ],
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(codes.SCT.LymphNode)],
        measurements=[
            hd.sr.Measurement(name=codes.SCT.Volume, value=1500.0, unit=codes.UCUM.CubicMillimeter),
            hd.sr.Measurement(
                name=codes.DCM.AttenuationCoefficient,
                value=41.0,
                unit=codes.UCUM.HounsfieldUnit,
                derivation=codes.SCT.Mean,
            ),
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Person,
                observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                    name="Reader^Hd"
                ),
            )
        ),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[planar, volumetric],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=ct[len(ct) // 2 - 1 : len(ct) // 2 + 1],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=5,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="highdicom",
    )
    sr.save_as(out, enforce_file_format=True)
    return out


def test_highdicom_planar_and_volumetric_groups(
    ct: list[pydicom.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TID 1410 and 1411 groups: the long axis is a diameter; area, volume and mean HU are kept
    as extra values and counted, never turned into a lesion state."""
    folder = tmp_path / "hd"
    folder.mkdir()
    report = read_report(_highdicom_report(ct, folder / "hd.dcm"))
    planar, volumetric = report.measurements
    assert planar.lesion_id == "liver lesion" and planar.site == "liver" and not planar.nodal
    assert planar.long_axis_mm == Decimal("21.5") and planar.extra["suv_max"] == "7.25"
    assert planar.extra["sop_instance_uid"] == ct[len(ct) // 2].SOPInstanceUID
    assert [(v.name.meaning, v.value) for v in extra_values(planar)] == [("Area", Decimal("140.0"))]
    assert volumetric.nodal and volumetric.long_axis_mm is None
    assert [(v.name.value, v.value, v.unit and v.unit.value) for v in extra_values(volumetric)] == [
        ("118565006", Decimal("1500.0"), "mm3"),
        ("112031", Decimal("41.0"), "[hnsf'U]"),
    ]
    assert all(m.extra[ROLE_UNASSIGNED_KEY] == "1" for m in report.measurements)
    assert (report.extra_values, report.volume_only) == (3, 1)
    assert main(["import", str(folder), "--store", str(tmp_path / "s.db"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert (
        "2 lesions read; 3 measurements without RECIST meaning (area, volume, mean …) kept as "
        "extra values, not diameters (1 lesion reading with only such values)"
    ) in out
    with Store(tmp_path / "s.db") as store:
        stored = {m.lesion_id: m for m in in_force_measurements(store)}
    assert extra_values(stored["node"]) == extra_values(volumetric)
    assert stored["node"].role is Role.NON_TARGET and stored["node"].extra[ROLE_UNASSIGNED_KEY]


def _pixel(ds: pydicom.Dataset, point_mm: str) -> tuple[float, float]:
    """(column, row) of a patient point (LPS mm) on an axial image, the top left corner of the
    top left pixel at (0, 0) (PS3.3 C.18.6.1.2), computed here independently of recistry."""
    x, y, _ = (float(v) for v in point_mm.split())
    ipp = [float(v) for v in ds.ImagePositionPatient]
    row_mm, column_mm = (float(v) for v in ds.PixelSpacing)
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    return (x - ipp[0]) / column_mm + 0.5, (y - ipp[1]) / row_mm + 0.5


def test_ohif_reads_recistry_reports_into_tool_states_with_the_right_points(
    archive: Archive, sr_folder: Path
) -> None:
    """dcmjs's Cornerstone adapter turns each lesion into a Bidirectional (long and short axis)
    or a Length (long axis only) on the image it was measured on, handles in image pixels."""
    from tests.sr._tools import ohif_tool_states

    images = {ds.SOPInstanceUID: ds for ds in headers(sorted(archive.root.rglob("CT*.dcm")))}
    checked = 0
    for path in sorted(sr_folder.rglob("*.dcm")):
        lesions = [m for m in read_sr(path) if m.long_axis_mm is not None]
        states = ohif_tool_states(path)
        both = [m for m in lesions if m.short_axis_mm is not None]
        long_only = [m for m in lesions if m.short_axis_mm is None]
        assert len(states["Bidirectional"]) == len(both)
        assert len(states["Length"]) == len(long_only)
        for m, tool in zip(both, states["Bidirectional"], strict=True):
            image = images[m.extra["sop_instance_uid"]]
            assert tool["sopInstanceUid"] == image.SOPInstanceUID
            handles = tool["handles"]
            for handle, key in (
                ("start", "long_axis_start_mm"),
                ("end", "long_axis_end_mm"),
                ("perpendicularStart", "short_axis_start_mm"),
                ("perpendicularEnd", "short_axis_end_mm"),
            ):
                expected = _pixel(image, m.extra[key])
                got = (handles[handle]["x"], handles[handle]["y"])
                np.testing.assert_allclose(got, expected, atol=1e-3)
            assert Decimal(str(tool["longestDiameter"])) == m.long_axis_mm
            assert Decimal(str(tool["shortestDiameter"])) == m.short_axis_mm
            checked += 1
        for m, tool in zip(long_only, states["Length"], strict=True):
            image = images[m.extra["sop_instance_uid"]]
            start = _pixel(image, m.extra["long_axis_start_mm"])
            got = (tool["handles"]["start"]["x"], tool["handles"]["start"]["y"])
            np.testing.assert_allclose(got, start, atol=1e-3)
            assert Decimal(str(tool["length"])) == m.long_axis_mm
    assert checked > 0


def test_dcmqi_reads_every_value_of_recistry_reports(sr_folder: Path, tmp_path: Path) -> None:
    """dcmqi's tid1500reader (3D Slicer) recovers each lesion's tracking identifier and UID,
    finding site, time point, sizes and SUVs, and the baseline category."""
    from tests.sr._tools import dcmqi

    for number, path in enumerate(sorted(sr_folder.rglob("*.dcm"))):
        out = tmp_path / f"{number}.json"
        dcmqi("tid1500reader", "--inputDICOM", str(path), "--outputMetadata", str(out))
        groups = {
            g["TrackingUniqueIdentifier"]: g for g in json.loads(out.read_text())["Measurements"]
        }
        for m in read_sr(path):
            g = groups[m.extra["tracking_uid"]]
            assert g["TrackingIdentifier"] == m.lesion_id
            assert g["timePoint"] == m.date.isoformat()
            items = {
                (i["quantity"]["CodeValue"], i.get("derivationModifier", {}).get("CodeValue")): i
                for i in g["measurementItems"]
            }
            for value, key in (
                (m.long_axis_mm, ("103339001", None)),
                (m.short_axis_mm, ("103340004", None)),
                (m.extra.get("suv_max"), ("126401", "56851009")),
            ):
                if value is not None:
                    assert Decimal(items[key]["value"]) == Decimal(str(value))
            if m.nodal or m.site in ("liver", "bone", "pancreas"):
                assert g["FindingSite"]["CodeMeaning"].lower() == m.site
            categories = [
                q["conceptValue"]["CodeValue"]
                for q in g.get("qualitativeEvaluations", [])
                if q["conceptCode"]["CodeValue"] == "112016"
            ]
            assert categories == [
                {"target": "112074", "non_target": "112075", "new": "112076"}[m.role.value]
            ]


def test_a_lesion_location_travels_as_a_scoord3d_point(archive: Archive, tmp_path: Path) -> None:
    """A non-target or new lesion's location (napari: extra location_mm, LPS mm) is written as
    a TID 1410 Image Region SCOORD3D POINT with the image it was placed on, and read back into
    the same keys."""
    from recistry.store import save_measurements
    from recistry.store.readings import format_point_mm, lesion_tracking_uid

    located = {}
    for i, m in enumerate(archive.measurements):
        if m.role is Role.NON_TARGET and m.extra.get("sop_instance_uid"):
            point = format_point_mm([12.5, -30.25, 40.0 + i])
            located[(m.patient_id, m.lesion_id, m.date)] = dataclasses.replace(
                m, extra={**m.extra, "location_mm": point}
            )
    assert located
    db = tmp_path / "s.db"
    shutil.copy(archive.store, db)
    with Store(db) as store:
        save_measurements(store, list(located.values()), source="napari", reader="dr_a")
        reports = export_store(store, tmp_path / "sr", reader="dr_a")
    points = 0
    for report in reports:
        ds = pydicom.dcmread(report.path)
        for group in ds.ContentSequence[-1].ContentSequence:
            for item in group.ContentSequence:
                if item.ValueType == "SCOORD3D" and item.GraphicType == "POINT":
                    assert group.ContentTemplateSequence[0].TemplateIdentifier == "1410"
                    points += 1
    assert points == len(located)
    # highdicom parses the planar groups and gives the point back (patient mm)
    by_uid = {
        (m.extra.get("tracking_uid") or lesion_tracking_uid(m.patient_id, m.lesion_id), m.date): m
        for m in located.values()
    }
    parsed = 0
    for report in reports:
        for g in hd.sr.srread(report.path).content.get_planar_roi_measurement_groups():
            m = by_uid[(str(g.tracking_uid), dt.date.fromisoformat(report.date))]
            expected = [float(v) for v in m.extra["location_mm"].split()]
            np.testing.assert_allclose(g.roi.value[0], expected, atol=1e-4)
            parsed += 1
    assert parsed == len(located)
    for report in reports:
        run = subprocess.run(["dciodvfy", str(report.path)], capture_output=True, text=True)
        assert run.returncode == 0 and "Error" not in run.stderr, run.stderr
    back = {(m.patient_id, m.lesion_id, m.date): m for m in read_sr_tree(tmp_path / "sr")}
    for key, m in located.items():
        for extra_key in ("location_mm", "sop_instance_uid", "series_uid"):
            assert back[key].extra[extra_key] == m.extra[extra_key], (key, extra_key)
        assert (back[key].role, back[key].state) == (m.role, m.state)


def test_a_second_ohif_report_adds_lesions_not_revisions_of_the_first(
    ct: list[pydicom.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Identity is the Tracking Unique Identifier across imports too: the next report's
    'Bidirectional' lesions (new UIDs) are new lesions with the next free ids, while re-importing
    the first report changes nothing."""
    image = ct[len(ct) // 2]
    db = tmp_path / "s.db"
    first = tmp_path / "first"
    second = tmp_path / "second"
    for folder, sizes in ((first, ("50", "35")), (second, ("44", "31"))):
        folder.mkdir()
        tools = [_bidirectional(5 + 10 * i, 5, size, "20") for i, size in enumerate(sizes)]
        ohif_report([image], {image.SOPInstanceUID: {"Bidirectional": tools}}, folder / "r.dcm")
    for folder in (first, second, first):
        assert main(["import", str(folder), "--store", str(db), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"their ids are '{BIDIRECTIONAL_LABEL} #1', '{BIDIRECTIONAL_LABEL} #3'" in out
    with Store(db) as store:
        stored = {m.lesion_id: m for m in in_force_measurements(store)}
        lesions = store.conn.execute("SELECT COUNT(*) FROM lesions").fetchone()[0]
    assert lesions == 4
    assert {k: str(m.long_axis_mm) for k, m in stored.items()} == {
        f"{BIDIRECTIONAL_LABEL} #1": "50",
        f"{BIDIRECTIONAL_LABEL} #2": "35",
        f"{BIDIRECTIONAL_LABEL} #3": "44",
        f"{BIDIRECTIONAL_LABEL} #4": "31",
    }


def test_no_missing_attribute_of_any_content_item_gives_a_traceback(
    sr_folder: Path, tmp_path: Path
) -> None:
    """Delete, one at a time, each attribute of each content item of a report: the reader
    either reads the report or refuses it with a DicomError naming the file, never another
    exception."""
    source = sorted(sr_folder.rglob("*.dcm"))[-1]
    original = pydicom.dcmread(source)
    keywords = (
        "ValueType",
        "RelationshipType",
        "ConceptNameCodeSequence",
        "ConceptCodeSequence",
        "MeasuredValueSequence",
        "ContentSequence",
        "ReferencedSOPSequence",
        "GraphicData",
        "GraphicType",
        "TextValue",
        "UID",
        "ReferencedFrameOfReferenceUID",
    )

    def items(ds: pydicom.Dataset, trail: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
        found = []
        for index, child in enumerate(ds.get("ContentSequence", [])):
            found.append((*trail, index))
            found.extend(items(child, (*trail, index)))
        return found

    # The root's items and the first two measurement groups (every kind of item is there).
    trails = [t for t in items(original) if len(t) == 1 or t[:2] in {(5, 0), (5, 1)}]
    refused = read = 0
    for trail in trails:
        item = original
        for index in trail:
            item = item.ContentSequence[index]
        for keyword in keywords:
            if keyword not in item:
                continue
            element = item.data_element(keyword)
            assert element is not None
            delattr(item, keyword)  # put back below: one missing attribute at a time
            try:
                read_report(source, original)
                read += 1
            except DicomError as exc:
                assert str(exc).startswith(str(source))
                refused += 1
            finally:
                item[element.tag] = element
    assert refused > 50 and read > 0
