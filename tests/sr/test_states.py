"""Every RECIST lesion state and role survives the TID 1500 round trip and passes the validators.

Reference: PS3.16 TID 1500/1501, CID 6145 (baseline category DCM 112074/112075/112076); the
lesion states are recistry's private scheme 99RECISTRY (docs/store.md).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from recistry.recist.model import LesionState, Measurement, Role
from recistry.sr import ScanReading, build_report, read_sr
from tests.imaging._series_files import CT_STORAGE, image_header

UID = "1.2.826.0.1.3680043.8.498.4242"


def _ct(sop: str) -> Dataset:
    """A CT image header (no pixels needed: it is only referenced as evidence)."""
    ds = image_header(CT_STORAGE, "CT", f"{UID}.1", f"{UID}.2", f"{UID}.3")
    ds.SOPInstanceUID = sop
    ds.PatientID = "STATES-1"
    ds.PatientName = "States^Test"
    ds.StudyDate = "20240401"
    ds.Rows = ds.Columns = 64
    return ds


CASES = [
    ("T1", Role.TARGET, LesionState.MEASURED, "liver", False, "12.0", None),
    ("T2", Role.TARGET, LesionState.TOO_SMALL, "lung", False, None, None),
    ("T3", Role.TARGET, LesionState.ABSENT, "right adrenal", False, None, None),
    ("T4", Role.TARGET, LesionState.MERGED, "liver segment VII", False, None, None),
    ("T5", Role.TARGET, LesionState.NOT_EVALUABLE, "peritoneum", False, None, None),
    ("N1", Role.TARGET, LesionState.MEASURED, "mesenteric node", True, "14.5", "8.0"),
    ("NT1", Role.NON_TARGET, LesionState.PRESENT, "bone", False, None, None),
    ("NT2", Role.NON_TARGET, LesionState.PROGRESSION, "pleura", False, None, None),
    ("NT3", Role.NON_TARGET, LesionState.ABSENT, "lymph node", True, None, None),
    ("NT4", Role.NON_TARGET, LesionState.NOT_EVALUABLE, "brain", False, None, None),
    ("NEW1", Role.NEW, LesionState.PRESENT, "liver", False, None, None),
    ("NEW2", Role.NEW, LesionState.EQUIVOCAL, "spleen", False, None, None),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Measurement]]:
    images = {}
    rows = []
    for i, (lesion, role, state, site, nodal, long_mm, short_mm) in enumerate(CASES):
        sop = str(generate_uid(entropy_srcs=["states", lesion]))
        images[sop] = _ct(sop)
        rows.append(
            Measurement(
                patient_id="STATES-1",
                date=dt.date(2024, 4, 1),
                lesion_id=lesion,
                role=role,
                site=site,
                nodal=nodal,
                state=state,
                long_axis_mm=None if long_mm is None else Decimal(long_mm),
                short_axis_mm=None if short_mm is None else Decimal(short_mm),
                extra={
                    "sop_instance_uid": sop,
                    "series_uid": f"{UID}.2",
                    "reader": "Smith^Jane",
                    "krenning": str(i % 5),
                },
            )
        )
    sr = build_report(ScanReading(tuple(rows), "Smith^Jane", 3), images)
    path = tmp_path_factory.mktemp("states") / "states.dcm"
    sr.save_as(path, enforce_file_format=True)
    return path, rows


def test_every_state_and_role_reads_back(report: tuple[Path, list[Measurement]]) -> None:
    path, rows = report
    back = {m.lesion_id: m for m in read_sr(path)}
    assert set(back) == {r.lesion_id for r in rows}
    for row in rows:
        m = back[row.lesion_id]
        assert (m.role, m.state, m.site, m.nodal) == (row.role, row.state, row.site, row.nodal)
        assert (m.long_axis_mm, m.short_axis_mm) == (row.long_axis_mm, row.short_axis_mm)
        assert m.extra["krenning"] == row.extra["krenning"]
        assert m.extra["reader"] == "Smith^Jane"  # a full person name is kept as written
        assert m.date == dt.date(2024, 4, 1)


def test_report_with_every_state_passes_the_validators(
    report: tuple[Path, list[Measurement]],
) -> None:
    path, _ = report
    for tool in ("dciodvfy", "dsrdump"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not installed: run scripts/install-system-deps.sh (make test)")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0
    problems = [
        line
        for line in run.stderr.splitlines()
        if line.startswith(("Error", "Warning")) and "<99RECISTRY>" not in line
    ]
    assert problems == []
    dump = subprocess.run(["dsrdump", str(path)], capture_output=True, text=True, check=False)
    assert dump.returncode == 0
    assert not [ln for ln in dump.stdout.splitlines() if ln.startswith(("E:", "W:", "F:"))]
    assert pydicom.dcmread(path).PatientID == "STATES-1"


def test_a_lesion_without_a_size_may_have_no_image_but_a_size_must(tmp_path: Path) -> None:
    from recistry.errors import InputError

    sop = f"{UID}.99"
    base = dict(patient_id="STATES-1", date=dt.date(2024, 4, 1), site="liver", nodal=False)
    measured = Measurement(
        lesion_id="T1",
        role=Role.TARGET,
        state=LesionState.MEASURED,
        long_axis_mm=Decimal("21.0"),
        extra={"sop_instance_uid": sop},
        **base,
    )
    present = Measurement(lesion_id="NT1", role=Role.NON_TARGET, state=LesionState.PRESENT, **base)
    sr = build_report(ScanReading((measured, present), "dr", 2), {sop: _ct(sop)})
    sr.save_as(tmp_path / "r.dcm", enforce_file_format=True)
    back = {m.lesion_id: m for m in read_sr(tmp_path / "r.dcm")}
    assert back["T1"].extra["sop_instance_uid"] == sop
    assert "sop_instance_uid" not in back["NT1"].extra
    unreferenced = Measurement(
        lesion_id="T2",
        role=Role.TARGET,
        state=LesionState.MEASURED,
        long_axis_mm=Decimal(15),
        **base,
    )
    with pytest.raises(InputError, match="lesion T2 has a size but no sop_instance_uid"):
        build_report(ScanReading((measured, unreferenced), "dr", 2), {sop: _ct(sop)})


def test_evidence_missing_type2_patient_attributes_still_gives_a_valid_report(
    tmp_path: Path,
) -> None:
    """PS3.3 C.7.1.1: PatientBirthDate is Type 2; an image that omits it must not break export,
    and the caller's header is left as it was."""
    sop = generate_uid()
    image = _ct(sop)
    del image.PatientBirthDate
    del image.PatientSex
    base = {
        "patient_id": "STATES-1",
        "date": dt.date(2024, 4, 1),
        "site": "liver",
        "nodal": False,
        "extra": {"sop_instance_uid": sop},
    }
    row = Measurement(
        lesion_id="T1",
        role=Role.TARGET,
        state=LesionState.MEASURED,
        long_axis_mm=Decimal(20),
        **base,
    )
    sr = build_report(ScanReading((row,), "dr", 1), {sop: image})
    assert sr.PatientBirthDate == "" and sr.PatientSex == ""
    assert "PatientBirthDate" not in image
    sr.save_as(tmp_path / "r.dcm", enforce_file_format=True)
    assert [m.lesion_id for m in read_sr(tmp_path / "r.dcm")] == ["T1"]


def test_the_named_fragments_of_a_split_target_read_back_and_validate(tmp_path: Path) -> None:
    """A split target [EJC09 §4.3.2] is one group per fragment, with the lesion's Tracking
    Unique Identifier and the fragment's name (99RECISTRY FRAGMENT); dciodvfy accepts it."""
    sop = str(generate_uid(entropy_srcs=["states", "split"]))
    rows = [
        Measurement(
            patient_id="STATES-1",
            date=dt.date(2024, 4, 1),
            lesion_id="T1",
            role=Role.TARGET,
            site="liver",
            nodal=False,
            state=LesionState.MEASURED,
            long_axis_mm=Decimal(mm),
            extra={"sop_instance_uid": sop, "reader": "Smith^Jane", "fragment": name},
        )
        for name, mm in (("a", "15.0"), ("b", "12.5"))
    ]
    path = tmp_path / "split.dcm"
    build_report(ScanReading(tuple(rows), "Smith^Jane", 1), {sop: _ct(sop)}).save_as(
        path, enforce_file_format=True
    )
    back = read_sr(path)
    assert [(m.lesion_id, m.extra.get("fragment"), m.long_axis_mm) for m in back] == [
        ("T1", "a", Decimal("15.0")),
        ("T1", "b", Decimal("12.5")),
    ]
    assert back[0].extra["tracking_uid"] == back[1].extra["tracking_uid"]
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0
    assert [
        line
        for line in run.stderr.splitlines()
        if line.startswith(("Error", "Warning")) and "<99RECISTRY>" not in line
    ] == []
