"""Baseline (Table 1) and adverse-event (Table 2) tables, and the adverse-event reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from recistry.cohort.survival import kaplan_meier
from recistry.cohort.tables import (
    adverse_event_table,
    baseline_characteristics,
    read_adverse_events,
)
from recistry.errors import InputError
from recistry.recist.model import Response

from ._assessments import assessment


def test_baseline_table_kinds_of_columns_and_missing_row() -> None:
    """Categorical n (%), continuous median (range), yes/no groups, and a missing row."""
    cohort = [
        assessment(
            f"P{i}",
            Response.SD,
            covariates={
                "age": str(40 + 3 * i),
                "who_grade": "" if i == 0 else str(1 + i % 2),
                "met_liver": "yes" if i < 6 else "no",
                "met_bone": "yes" if i < 2 else "no",
            },
        )
        for i in range(8)
    ]
    rows = {(r.section, r.label): r.value for r in baseline_characteristics(cohort)}
    assert rows[("Age (years)", "Median (range)")] == "50.5 (40–61)"
    assert rows[("WHO grade", "Grade 1")] == "3 (38%)"
    assert rows[("WHO grade", "Grade 2")] == "4 (50%)"
    assert rows[("WHO grade", "missing")] == "1 (13%)"  # 12.5% rounded half up, as journals do
    assert rows[("Sites of metastasis", "liver")] == "6 (75%)"
    assert rows[("Sites of metastasis", "bone")] == "2 (25%)"


def test_adverse_events_count_each_patient_once_at_worst_grade(tmp_path: Path) -> None:
    """CTCAE v5.0 safety tables count a patient once per event, at the worst grade."""
    path = tmp_path / "ae.csv"
    path.write_text(
        "patient_id,event,category,grade\n"
        "P1,Fatigue,Other,1\nP1,Fatigue,Other,3\nP2,Fatigue,Other,1\nP2,Anemia,Blood,2\n"
    )
    rows = adverse_event_table(read_adverse_events(path), total_patients=4)
    table = {r.event: (r.cell(1), r.cell(2), r.cell(3)) for r in rows}
    assert table == {"Fatigue": ("1 (25%)", "0", "1 (25%)"), "Anemia": ("0", "1 (25%)", "0")}
    assert [r.category for r in rows] == ["Other", "Blood"]


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        ("patient_id,event,grade\nP1,Fatigue,1\n", None, None),
        ("patient_id,event,category,grade\nP1,Fatigue,Other,0\n", 1, "grade"),
        ("patient_id,event,category,grade\nP1,Fatigue,Other,2\nP2,,Other,2\n", 2, "event"),
    ],
)
def test_adverse_event_reader_names_file_row_and_column(
    tmp_path: Path, text: str, row: int | None, column: str | None
) -> None:
    path = tmp_path / "ae.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_adverse_events(path)
    assert info.value.path == str(path)
    assert (info.value.row, info.value.column) == (row, column)


def test_kaplan_meier_rejects_bad_input_and_handles_empty() -> None:
    with pytest.raises(ValueError, match="finite"):
        kaplan_meier([1.0, -2.0], [True, False])
    with pytest.raises(ValueError, match="one length"):
        kaplan_meier([1.0, 2.0], [True])
    empty = kaplan_meier([], [])
    assert empty.n == 0 and empty.median is None and empty.median_ci95 == (None, None)
