"""Krenning grades and SSTR-PET uptake in the cohort: per patient, the inclusion rule, Table 1,
``--by krenning`` and the exploratory SUVmax waterfall."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from recistry.cli import main
from recistry.cohort.krenning import krenning_eligibility, patient_uptake, select_by_krenning
from recistry.errors import InputError
from recistry.imaging.krenning import suggest_grade
from recistry.recist.engine import assess_patients
from recistry.recist.model import (
    AssessmentOptions,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    Source,
)
from recistry.tables import build_records, read_clinical, read_measurements

COHORT = Path(__file__).resolve().parents[2] / "sample_dicom" / "cohort"
DAY0, DAY1, DAY2 = dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 7, 1)


def row(day, lesion, role=Role.TARGET, size="30", **extra):
    state = LesionState.MEASURED if role is Role.TARGET else LesionState.PRESENT
    return Measurement(
        "P1", day, lesion, role, "liver", False, state,
        Decimal(size) if role is Role.TARGET else None,
        extra={k: str(v) for k, v in extra.items()}, source=Source("m.csv", 7),
    )  # fmt: skip


def test_uptake_of_one_patient_by_hand():
    record = PatientRecord(
        "P1",
        (
            row(DAY0, "T1", krenning=4, suv_max=30, liver_suv_mean=6),
            row(DAY0, "T2", krenning=2, suv_max=10, liver_suv_mean=6),
            row(DAY0, "NT1", Role.NON_TARGET, krenning=3, suv_max=12),
            row(DAY1, "T1", suv_max=15, liver_suv_mean=5),
            row(DAY1, "T2", suv_max=10, liver_suv_mean=5),
            row(DAY2, "T1", suv_max=24, liver_suv_mean=6),
            row(DAY2, "T2", suv_max=12, liver_suv_mean=6),
        ),
    )
    u = patient_uptake(record, DAY0)
    assert u.highest_krenning == 4 and u.lesions_grade_3_plus == 2  # T1 (4) and NT1 (3)
    t1 = u.targets[0]
    assert t1.lesion_id == "T1" and t1.krenning == 4
    assert [s.suv_max for s in t1.scans] == [30, 15, 24]
    assert [s.liver_ratio for s in t1.scans] == [5.0, 3.0, 4.0]
    assert [s.change_pct for s in t1.scans] == [None, -50.0, -20.0]
    # summed target SUVmax: 40 at baseline, 25 (-37.5%) and 36 (-10%): best -37.5%
    assert u.best_suv_change_pct == pytest.approx(-37.5)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("krenning", "5", "Krenning grade 0-4"), ("suv_max", "-1", "SUV"), ("suv_max", "x", "SUV")],
)
def test_invalid_values_name_file_row_and_column(column, value, message):
    record = PatientRecord("P1", (row(DAY0, "T1", **{column: value}),))
    with pytest.raises(InputError, match=message) as info:
        patient_uptake(record, DAY0)
    assert (info.value.path, info.value.row, info.value.column) == ("m.csv", 7, column)


def _cohort():
    records = build_records(
        read_measurements(COHORT / "measurements.csv"), read_clinical(COHORT / "clinical.csv")
    )
    return records, assess_patients(records, AssessmentOptions())


def test_sample_cohort_grades_follow_recistrys_krenning_rule():
    """Every grade in sample_dicom/cohort is what recistry.imaging.krenning suggests for its SUVmax
    and the scan's liver and spleen SUVmean (no hand-made, inconsistent grades)."""
    with (COHORT / "measurements.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["krenning"] for r in rows)
    for r in rows:
        suggested = suggest_grade(
            float(r["suv_max"]), float(r["liver_suv_mean"]), float(r["spleen_suv_mean"])
        )
        assert suggested.grade == int(r["krenning"]), r


def test_every_seed_patient_is_eligible():
    """Seed §2.1: all patients had a lesion with Krenning score 3 or greater."""
    records, assessments = _cohort()
    selection = select_by_krenning(records, assessments, required=3)
    assert selection.excluded == () and len(selection.assessments) == 25
    assert all(u.highest_krenning >= 3 for u in selection.uptakes)
    assert all(u.best_suv_change_pct is not None for u in selection.uptakes)


def test_require_krenning_excludes_and_without_it_flags():
    records, assessments = _cohort()
    strict = select_by_krenning(records, assessments, required=4)
    grade_3 = [u.patient_id for u in select_by_krenning(records, assessments).uptakes
               if u.highest_krenning == 3]  # fmt: skip
    assert grade_3 and list(strict.excluded) == grade_3
    assert {a.patient_id for a in strict.assessments}.isdisjoint(grade_3)
    assert krenning_eligibility(strict.uptakes, 4) == ([u.patient_id for u in strict.uptakes], [])
    lenient = select_by_krenning(records, assessments)
    assert lenient.below_inclusion == () and lenient.excluded == ()
    assert {a.covariates["krenning"] for a in lenient.assessments} == {"3", "4"}


def test_report_shows_krenning_and_the_rule(tmp_path, capsys):
    base = [str(COHORT / "measurements.csv"), "--clinical", str(COHORT / "clinical.csv")]
    out = tmp_path / "report"
    assert main(["report", *base, "--by", "krenning", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ORR 9/25 = 36.0%" in printed and "highest baseline Krenning grade" in printed
    summary = json.loads((out / "report.json").read_text())["cohort"]
    groups = summary["subgroups"]["krenning"]
    assert sum(g["n"] for g in groups.values()) == 25 and set(groups) == {"3", "4"}
    table1 = (out / "baseline_characteristics.csv").read_text()
    assert "Highest baseline Krenning grade (SSTR-PET),Grade 3" in table1
    assert (out / "suv_waterfall.png").stat().st_size > 0
    uptake = list(csv.DictReader((out / "krenning_uptake.csv").open()))
    assert {r["patient_id"] for r in uptake} == {f"P{i:02d}" for i in range(1, 26)}
    page = (out / "report.html").read_text()
    assert "Every patient has a baseline lesion of Krenning grade 3 or more" in page

    strict = tmp_path / "strict"
    assert main(["report", *base, "--require-krenning", "4", "--out", str(strict)]) == 0
    printed = capsys.readouterr().out
    excluded = groups["3"]["n"]
    assert f"excluded (no baseline lesion of Krenning grade >= 4): {excluded}" in printed
    assert json.loads((strict / "report.json").read_text())["cohort"]["patients"] == 25 - excluded


def test_report_flags_patients_below_the_inclusion_rule(tmp_path, capsys):
    table = tmp_path / "m.csv"
    text = (COHORT / "measurements.csv").read_text().splitlines()
    header = text[0].split(",")
    k = header.index("krenning")
    rows = []
    for line in text[1:]:
        cells = line.split(",")
        if cells[0] == "P07":
            cells[k] = "2"
        rows.append(",".join(cells))
    table.write_text("\n".join([text[0], *rows]) + "\n")
    out = tmp_path / "report"
    args = [str(table), "--clinical", str(COHORT / "clinical.csv"), "--out", str(out)]
    assert main(["report", *args]) == 0
    assert "flagged (no baseline lesion of Krenning grade >= 3): P07" in capsys.readouterr().out
    assert "Flagged: 1 patient(s)" in (out / "report.html").read_text()
    rescore = [str(table), "--clinical", str(COHORT / "clinical.csv"), "--require-krenning", "3"]
    assert main(["rescore", *rescore, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "excluded (no baseline lesion of Krenning grade >= 3): 1 (P07)" in captured.err
    assert len(json.loads(captured.out)["patients"]) == 24


def test_a_bad_grade_is_one_line_and_status_2(tmp_path, capsys):
    table = tmp_path / "m.csv"
    lines = (COHORT / "measurements.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("krenning")] = "7"
    lines[3] = ",".join(cells)
    table.write_text("\n".join(lines) + "\n")
    assert main(["report", str(table), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 3" in err and "krenning" in err
    assert not (tmp_path / "r").exists()


def test_make_cohort_regenerates_the_shipped_tables(tmp_path, monkeypatch):
    """sample_dicom/cohort/*.csv are exactly what make_cohort.py writes (seeded, no hand edits)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cohort", COHORT / "make_cohort.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(__import__("sys").modules, "make_cohort", module)  # for its dataclass
    spec.loader.exec_module(module)
    module.main(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in COHORT.glob("*.csv"))
    for name in names:
        assert (tmp_path / name).read_bytes() == (COHORT / name).read_bytes(), name
