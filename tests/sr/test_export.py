"""TID 1500 export: validators (dciodvfy, dsrdump), content, determinism and pseudonymisation.

Reference: DICOM PS3.16 TID 1500/1501/1502/4108; PS3.3 A.35.13 (Comprehensive 3D SR IOD).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from recistry.sr import export_store, read_sr
from recistry.store import Store
from tests.sr.conftest import Archive

# Warnings dciodvfy (dicom3tools 1.00~20220618) prints for a correct report with a private
# coding scheme (PS3.3 C.12.1.1.2.1 allows local '99' designators).
DCIODVFY_ALLOWED = (re.compile(r"^Warning - Unrecognized defined term <99RECISTRY>"),)


@pytest.fixture(autouse=True, scope="module")
def _validators_installed() -> None:
    """The validators are part of the test: missing ones fail (never skip) the suite."""
    for tool in ("dciodvfy", "dsrdump"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not installed: run scripts/install-system-deps.sh (make test)")


@pytest.fixture(scope="module")
def exported(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("sr")
    with Store(archive.store) as store:
        reports = export_store(store, out)
    return [r.path for r in reports]


def test_one_report_per_reader_and_scan(exported: list[Path]) -> None:
    # 2 patients x 3 scans, one reader.
    assert len(exported) == 6
    assert all(p.suffix == ".dcm" and p.stat().st_size > 0 for p in exported)


def test_every_report_passes_dciodvfy_without_errors(exported: list[Path]) -> None:
    """dciodvfy: exit 0, IOD Comprehensive3DSR, only allow-listed warnings (PS3.3 A.35.13)."""
    for path in exported:
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert run.returncode == 0, run.stderr
        assert "Comprehensive3DSR" in lines
        assert not [line for line in lines if line.startswith("Error")], run.stderr
        unexpected = [
            line
            for line in lines
            if line.startswith("Warning") and not any(p.match(line) for p in DCIODVFY_ALLOWED)
        ]
        assert unexpected == [], f"{path}: {unexpected}"


def test_every_report_parses_cleanly_in_dsrdump(exported: list[Path]) -> None:
    """dcmtk dsrdump checks SR content-tree relationships (PS3.3 C.17.3) beyond dciodvfy."""
    run = subprocess.run(
        ["dsrdump", "+Pc", *map(str, exported)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    bad = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.startswith(("E:", "W:", "F:"))]
    assert bad == []
    assert run.stdout.count('"Imaging Measurement Report"') == len(exported)


def test_content_follows_tid1500_and_recist_codes(exported: list[Path]) -> None:
    dump = subprocess.run(
        ["dsrdump", "+Pc", str(exported[1])], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "(103339001,SCT,",  # long axis
        "(103340004,SCT,",  # short axis
        "(126081,DCM,",  # RECIST 1.1 method
        "(112074,DCM,",  # target lesion at baseline
        "(112039,DCM,",  # tracking identifier
        "(112040,DCM,",  # tracking UID
        "(126074,DCM,",  # posttreatment time point (TID 1502)
        "(121008,DCM,",  # person observer name
        '="dr_a^"',  # the reader
        "SCOORD3D",  # axis endpoints in patient mm
        "(KRENNING,99RECISTRY,",
        "(112048,DCM,",  # current response (follow-up scan)
        "(56851009,SCT,",  # SUVbw maximum
    ):
        assert expected in dump, expected
    ds = pydicom.dcmread(exported[1])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99RECISTRY"
    assert ds.CurrentRequestedProcedureEvidenceSequence  # the CT images measured on


def test_tracking_uid_is_the_same_in_every_scan(exported: list[Path]) -> None:
    uids: dict[tuple[str, str], set[str]] = {}
    for path in exported:
        ds = pydicom.dcmread(path)
        dump = subprocess.run(
            ["dsrdump", "+Pc", str(path)], capture_output=True, text=True, check=True
        ).stdout
        pairs = re.findall(
            r'"Tracking Identifier"\)="([^"]+)">\s*\n.*?"Tracking Unique Identifier"\)="([^"]+)"',
            dump,
        )
        for lesion, uid in pairs:
            uids.setdefault((ds.PatientID, lesion), set()).add(uid)
    lesions = {k: v for k, v in uids.items() if not k[1].startswith(("REF-", "RECIST"))}
    assert lesions and all(len(v) == 1 for v in lesions.values())


def test_export_is_deterministic(archive: Archive, exported: list[Path], tmp_path: Path) -> None:
    with Store(archive.store) as store:
        again = export_store(store, tmp_path)
    first = {p.relative_to(p.parents[2]): p.read_bytes() for p in exported}
    second = {r.path.relative_to(tmp_path): r.path.read_bytes() for r in again}
    assert first == second


def test_pseudonymised_export_hides_name_and_id_and_never_the_key(
    archive: Archive, tmp_path: Path
) -> None:
    key = b"a-long-secret-key-for-the-trial-0001"
    with Store(archive.store) as store:
        reports = export_store(store, tmp_path, key=key)
    original = pydicom.dcmread(next(archive.root.rglob("CT*.dcm")), stop_before_pixels=True)
    name = str(original.PatientName).encode()
    for report in reports:
        data = report.path.read_bytes()
        assert key not in data and name not in data
        assert original.PatientID.encode() not in data
        ds = pydicom.dcmread(report.path)
        assert ds.PatientID.startswith("PSN-") and str(ds.PatientName) == f"{ds.PatientID}^"
        assert original.PatientID not in str(report.path)


def test_export_needs_the_images_in_the_index_and_writes_nothing_otherwise(
    archive: Archive, tmp_path: Path
) -> None:
    from recistry.errors import InputError
    from recistry.store import save_measurements

    db = tmp_path / "no_index.db"
    with Store(db) as store:
        save_measurements(store, archive.measurements, source="table", reader="dr_a")
        with pytest.raises(
            InputError, match="is not in the store's DICOM index; run 'recistry index"
        ):
            export_store(store, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_private_codes_only_where_dicom_and_snomed_have_none(exported: list[Path]) -> None:
    """Standard codes for the response criteria, RECIST response categories, tracking items and
    finding sites; the private scheme only for the concepts docs/store.md lists."""
    from recistry.sr import codes as rc

    allowed_names = {rc.LESION_STATE.value, rc.KRENNING.value, rc.OVERALL_RESPONSE.value}
    allowed_names.add(rc.RECORDED_SITE.value)
    allowed_values = {c.value for c in rc.LESION_STATE_VALUES.values()}
    allowed_values |= {c.value for c in rc.OVERALL_RESPONSE_VALUES.values()}
    allowed_values |= {rc.TARGET_NOT_EVALUABLE.value, rc.NON_TARGET_NOT_EVALUABLE.value}
    names: set[str] = set()
    values: list[str] = []

    def walk(item: pydicom.Dataset) -> None:
        for child in item.get("ContentSequence", []):
            for code in child.get("ConceptNameCodeSequence", []):
                if code.CodingSchemeDesignator == rc.SCHEME:
                    names.add(code.CodeValue)
            for code in child.get("ConceptCodeSequence", []):
                if code.CodingSchemeDesignator == rc.SCHEME:
                    values.append(code.CodeValue)
            walk(child)

    unexact_sites = 0
    for path in exported:
        walk(pydicom.dcmread(path))
        unexact_sites += sum(
            1
            for m in read_sr(path)
            if not (m.site == "lymph node" if m.nodal else m.site in rc.SITE_CODES)
        )
    assert names <= allowed_names and names
    site_texts = [v for v in values if v.startswith("S")]
    assert set(values) - set(site_texts) <= allowed_values
    # A site SNOMED CT says exactly is not repeated as private text.
    assert len(site_texts) == unexact_sites


def test_target_and_non_target_not_evaluable_are_distinct_items(
    archive: Archive, tmp_path: Path
) -> None:
    """RECIST 1.1 §4.3: a follow-up whose targets and non-targets are all not evaluable is NE
    for both; the report says so in two distinct items (CID 6143/6144 have no NE code), beside
    the response evaluation method RECIST 1.1 (DCM 112021 = DCM 126081)."""
    import dataclasses

    from recistry.recist.model import AssessmentOptions, LesionState, Role
    from recistry.sr import build_report
    from recistry.sr import codes as rc
    from recistry.sr.export import scan_readings

    patient = archive.measurements[0].patient_id
    rows = [m for m in archive.measurements if m.patient_id == patient]
    baseline = min(m.date for m in rows)
    follow_up = min(m.date for m in rows if m.date != baseline)
    rows = [
        m
        if m.date == baseline
        else dataclasses.replace(
            m, state=LesionState.NOT_EVALUABLE, long_axis_mm=None, short_axis_mm=None
        )
        for m in rows
        if m.date in (baseline, follow_up) and m.role is not Role.NEW
    ]
    readings = scan_readings(rows, "dr_a", AssessmentOptions())
    (reading,) = [r for r in readings if r.date == follow_up]
    assert reading.assessment is not None
    assert reading.assessment.target_response.value == "NE"
    assert reading.assessment.non_target_response.value == "NE"
    images = {
        ds.SOPInstanceUID: ds
        for ds in (
            pydicom.dcmread(p, stop_before_pixels=True) for p in archive.root.rglob("CT*.dcm")
        )
    }
    sr = build_report(reading, images)
    (response,) = [
        g
        for g in sr.ContentSequence[-1].ContentSequence
        if g.ContentSequence[0].TextValue == "RECIST 1.1 time point response"
    ]
    coded = [
        (i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeValue)
        for i in response.ContentSequence
        if i.ValueType == "CODE"
    ]
    assert ("112021", "126081") in coded
    currents = [value for name, value in coded if name == "112048"]
    assert currents == [rc.TARGET_NOT_EVALUABLE.value, rc.NON_TARGET_NOT_EVALUABLE.value]
