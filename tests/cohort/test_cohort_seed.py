"""The synthetic cohort in sample_dicom/cohort reproduces the seed study's published figures.

Seed: Iqbal et al., "Long-term clinical outcomes of [177Lu]Lu-DOTATATE in patients with
metastatic neuroendocrine tumors", Front Oncol 2024;14:1393317 — §2.5 results, Table 1 and
Table 2. The 2nd-line count is 16 (not the printed 15), the only count giving 37.5%
(cohort-stats.md §1.9; sample_dicom/cohort/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recistry.cohort.summary import cohort_summary
from recistry.cohort.tables import (
    adverse_event_table,
    baseline_characteristics,
    read_adverse_events,
)
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions, PatientAssessment
from recistry.tables import build_records, read_clinical, read_measurements

COHORT = Path(__file__).resolve().parents[2] / "sample_dicom" / "cohort"
BY = ["ileal=primary_site==ileum", "who_grade", "line_of_therapy"]


def _assess(confirm: bool) -> list[PatientAssessment]:
    records = build_records(
        read_measurements(COHORT / "measurements.csv"), read_clinical(COHORT / "clinical.csv")
    )
    return assess_patients(records, AssessmentOptions(confirm=confirm))


@pytest.fixture(scope="module", params=[False, True], ids=["unconfirmed", "confirmed"])
def summary(request: pytest.FixtureRequest) -> dict:
    return cohort_summary(_assess(request.param), by=BY)


def _pct(group: dict) -> float:
    return round(100 * group["orr"]["rate"], 1)


def test_best_response_orr_dcr_match_seed_section_2_5(summary: dict) -> None:
    """§2.5: 9 PR, 14 SD, 2 PD; ORR 36%, DCR 92% (with and without RECIST confirmation)."""
    counts = summary["best_overall_response_counts"]
    assert (counts["CR"], counts["PR"], counts["SD"], counts["PD"], counts["NE"]) == (
        0,
        9,
        14,
        2,
        0,
    )
    assert summary["orr"]["rate"] == 0.36 and summary["orr"]["n"] == 25
    assert summary["dcr"]["rate"] == 0.92


def test_subgroup_orr_match_seed_section_2_5(summary: dict) -> None:
    """§2.5: non-ileal 33.3%, ileal 50%; grade 1/2/3 60%/35%/0%; line 2/3/4 37.5%/40%/25%."""
    sub = summary["subgroups"]
    assert (_pct(sub["ileal"]["no"]), _pct(sub["ileal"]["yes"])) == (33.3, 50.0)
    grades = sub["who_grade"]
    assert [round(_pct(grades[g])) for g in ("1", "2", "3")] == [60, 35, 0]
    lines = sub["line_of_therapy"]
    assert [_pct(lines[x]) for x in ("2", "3", "4")] == [37.5, 40.0, 25.0]
    assert [lines[x]["n"] for x in ("2", "3", "4")] == [16, 5, 4]


def test_pfs_median_28_5_months_and_os_not_reached(summary: dict) -> None:
    """§2.5: median PFS 28.5 months; median OS not reached."""
    assert round(summary["pfs_median_months"], 1) == 28.5
    assert summary["os_median_months"] is None
    assert summary["os_patients"] == 25


def test_baseline_characteristics_match_seed_table_1() -> None:
    """Table 1 (sex as in the table), median age 63 (range 45–79) from §2.5."""
    rows = {(r.section, r.label): r.value for r in baseline_characteristics(_assess(False))}
    expected = {
        ("Sex", "female"): "13 (52%)",
        ("Sex", "male"): "12 (48%)",
        ("Age (years)", "Median (range)"): "63 (45–79)",
        ("Primary site", "pancreas"): "10 (40%)",
        ("Primary site", "small intestine NOS"): "4 (16%)",
        ("Primary site", "ileum"): "4 (16%)",
        ("Primary site", "jejunum"): "1 (4%)",
        ("Primary site", "duodenum"): "1 (4%)",
        ("Primary site", "colorectal"): "3 (12%)",
        ("Primary site", "adrenal"): "1 (4%)",
        ("Primary site", "thymus"): "1 (4%)",
        ("Sites of metastasis", "liver"): "23 (92%)",
        ("Sites of metastasis", "bone"): "8 (32%)",
        ("Sites of metastasis", "mesentery"): "8 (32%)",
        ("Sites of metastasis", "spleen"): "2 (8%)",
        ("Sites of metastasis", "lung"): "2 (8%)",
        ("Sites of metastasis", "mediastinum"): "1 (4%)",
        ("Sites of metastasis", "peritoneum"): "1 (4%)",
        ("WHO grade", "Grade 1"): "5 (20%)",
        ("WHO grade", "Grade 2"): "17 (68%)",
        ("WHO grade", "Grade 3"): "3 (12%)",
    }
    assert {k: rows.get(k) for k in expected} == expected


def test_adverse_events_match_seed_table_2() -> None:
    """Table 2: patients per CTCAE grade 1/2/3 as n (%) of 25."""
    rows = adverse_event_table(read_adverse_events(COHORT / "adverse_events.csv"), 25)
    table = {(r.category, r.event): tuple(r.cell(g) for g in (1, 2, 3)) for r in rows}
    gi, heme, msk, other = (
        "Gastrointestinal disorders",
        "Hematologic disorders",
        "Musculoskeletal",
        "Other",
    )
    assert table == {
        (gi, "Nausea/vomiting"): ("5 (20%)", "0", "1 (4%)"),
        (gi, "Diarrhea"): ("5 (20%)", "1 (4%)", "0"),
        (gi, "Constipation"): ("1 (4%)", "0", "0"),
        (gi, "Hepatotoxicity"): ("1 (4%)", "0", "0"),
        (heme, "Anemia"): ("5 (20%)", "0", "0"),
        (heme, "Thrombocytopenia"): ("3 (12%)", "0", "0"),
        (heme, "Pancytopenia"): ("0", "0", "1 (4%)"),
        (heme, "Neutropenia"): ("0", "1 (4%)", "0"),
        (msk, "Mucositis"): ("1 (4%)", "0", "0"),
        (msk, "Nail changes"): ("2 (8%)", "0", "0"),
        (msk, "Neuropathy"): ("2 (8%)", "0", "0"),
        (other, "Fatigue"): ("14 (56%)", "1 (4%)", "1 (4%)"),
        (other, "Dehydration"): ("0", "0", "1 (4%)"),
        (other, "Anorexia"): ("3 (12%)", "1 (4%)", "1 (4%)"),
        (other, "Hypertension"): ("2 (8%)", "1 (4%)", "0"),
        (other, "Acute kidney injury"): ("1 (4%)", "0", "0"),
        (other, "Insomnia"): ("2 (8%)", "0", "0"),
    }


def test_seed_figures_are_the_same_when_reported_from_the_study_store(tmp_path: Path) -> None:
    """The demo path: readings imported into the SQLite study store, then reported from it,
    give the same cohort summary as the measurement table."""
    from recistry.cli import main

    store = tmp_path / "cohort.db"
    assert (
        main(
            [
                "import",
                str(COHORT / "measurements.csv"),
                "--store",
                str(store),
                "--reader",
                "synthetic",
                "--accept",
            ]
        )
        == 0
    )
    assert main(["import", "--clinical", str(COHORT / "clinical.csv"), "--store", str(store)]) == 0
    by = [arg for spec in BY for arg in ("--by", spec)]
    assert main(["report", str(store), *by, "--out", str(tmp_path / "report")]) == 0
    stored = json.loads((tmp_path / "report" / "report.json").read_text())["cohort"]
    assert stored == cohort_summary(_assess(False), by=BY)
    assert round(stored["pfs_median_months"], 1) == 28.5


def test_seed_pfs_and_os_medians_equal_r_survfit(summary: dict) -> None:
    """The seed cohort's PFS median 28.5 (95% CI 17.7–48.0) and OS "not reached" are what R
    survival 3.5-3 ``quantile(survfit(..., conf.type = "log-log"), 0.5)`` gives on the same
    times (golden/make_golden.R, cases seed_pfs_months and seed_os_months)."""
    golden = {
        c["name"]: c
        for c in json.loads((Path(__file__).parent / "golden" / "km_golden.json").read_text())[
            "cases"
        ]
    }
    pfs, os_ = golden["seed_pfs_months"], golden["seed_os_months"]
    assert summary["pfs_median_months"] == pytest.approx(pfs["median"], rel=1e-12)
    assert summary["pfs_median_ci95"] == pytest.approx(
        [pfs["median_lower"], pfs["median_upper"]], rel=1e-12
    )
    assert os_["median"] is None and summary["os_median_months"] is None
    assert summary["os_median_ci95"] == [os_["median_lower"], os_["median_upper"]]
