"""Measurement and clinical table readers: the public column contract and bad-input messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from recistry.errors import InputError
from recistry.tables import build_records, read_clinical, read_measurements

HEADER = "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state"
GOOD = [
    "P1,2024-01-01,T1,target,liver,false,23.0,,measured",
    "P1,2024-01-01,N1,target,lymph node,yes,25,16.0,measured",
    "P1,2024-03-01,T1,target,liver,no,16.1,,measured",
    "P1,2024-03-01,N1,target,lymph node,1,20,9.5,measured",
]


def write(tmp_path: Path, lines: list[str], header: str = HEADER, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_reads_decimal_mm_exactly_and_booleans(tmp_path):
    rows = read_measurements(write(tmp_path, GOOD))
    assert [m.long_axis_mm for m in rows] == [
        Decimal("23.0"),
        Decimal(25),
        Decimal("16.1"),
        Decimal(20),
    ]
    assert [m.nodal for m in rows] == [False, True, False, True]
    assert rows[1].counted_axis_mm == Decimal("16.0")
    assert rows[0].date == dt.date(2024, 1, 1)
    assert rows[2].source.row == 3 and rows[2].source.path.endswith("m.csv")


def test_optional_columns_pass_through(tmp_path):
    header = HEADER + ",reader,sop_instance_uid,slice_thickness_mm"
    lines = [line + ",dr.a,1.2.3,5" for line in GOOD]
    rows = read_measurements(write(tmp_path, lines, header))
    assert rows[0].extra == {
        "reader": "dr.a",
        "sop_instance_uid": "1.2.3",
        "slice_thickness_mm": "5",
    }
    assert rows[0].slice_thickness_mm == Decimal(5)


def test_parquet_gives_the_same_rows_as_csv(tmp_path):
    csv_path = write(tmp_path, GOOD)
    parquet_path = tmp_path / "m.parquet"
    pd.read_csv(csv_path, dtype=str, keep_default_na=False).to_parquet(parquet_path)
    from_csv = read_measurements(csv_path)
    from_parquet = read_measurements(parquet_path)
    assert [(m.lesion_id, m.counted_axis_mm, m.date) for m in from_csv] == [
        (m.lesion_id, m.counted_axis_mm, m.date) for m in from_parquet
    ]


@pytest.mark.parametrize(
    ("bad_line", "column", "fragment"),
    [
        ("P1,2024-03-01,T1,tumour,liver,false,20,,measured", "role", "unknown role 'tumour'"),
        ("P1,2024-03-01,T1,target,liver,false,20,,shrunk", "state", "unknown state 'shrunk'"),
        ("P1,01/03/2024,T1,target,liver,false,20,,measured", "date", "not a date"),
        ("P1,2024-02-30,T1,target,liver,false,20,,measured", "date", "not a date"),
        ("P1,2024-03-01,T1,target,liver,false,-3,,measured", "long_axis_mm", "negative"),
        ("P1,2024-03-01,T1,target,liver,false,2cm,,measured", "long_axis_mm", "not a number"),
        ("P1,2024-03-01,T1,target,liver,false,nan,,measured", "long_axis_mm", "not a number"),
        ("P1,2024-03-01,T1,target,liver,maybe,20,,measured", "nodal", "not true/false"),
        (",2024-03-01,T1,target,liver,false,20,,measured", "patient_id", "empty"),
    ],
)
def test_bad_values_name_file_row_and_column(tmp_path, bad_line, column, fragment):
    path = write(tmp_path, [*GOOD, bad_line])
    with pytest.raises(InputError) as err:
        read_measurements(path)
    assert err.value.row == 5
    assert err.value.column == column
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"{path}, row 5, column '{column}': ")


def test_missing_column_is_reported(tmp_path):
    path = write(
        tmp_path,
        ["P1,2024-01-01,T1,target,liver,false,20"],
        header="patient_id,date,lesion_id,role,site,nodal,long_axis_mm",
    )
    with pytest.raises(InputError, match="missing column"):
        read_measurements(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_measurements(tmp_path / "nope.csv")


def test_clinical_table_and_covariates(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "patient_id,treatment_start,last_followup,death_date,who_grade\n"
        "P1,2024-01-05,2025-01-01,,2\n"
    )
    clinical = read_clinical(path)
    assert clinical["P1"].treatment_start == dt.date(2024, 1, 5)
    assert clinical["P1"].death_date is None
    assert clinical["P1"].covariates == {"who_grade": "2"}


@pytest.mark.parametrize(
    ("line", "column", "fragment"),
    [
        ("P1,2024-01-05,2023-01-01,,2", "last_followup", "before treatment_start"),
        ("P1,2024-01-05,,2023-12-01,2", "death_date", "before treatment_start"),
        ("P1,2024-01-05,2024-06-01,2024-05-01,2", "last_followup", "after death_date"),
        ("P1,soon,,,2", "treatment_start", "not a date"),
    ],
)
def test_clinical_impossible_values(tmp_path, line, column, fragment):
    path = tmp_path / "c.csv"
    path.write_text("patient_id,treatment_start,last_followup,death_date,who_grade\n" + line)
    with pytest.raises(InputError) as err:
        read_clinical(path)
    assert (err.value.row, err.value.column) == (1, column)
    assert fragment in str(err.value)


def test_clinical_duplicate_and_unknown_patient(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("patient_id,treatment_start\nP1,2024-01-01\nP1,2024-01-02\n")
    with pytest.raises(InputError, match="appears twice"):
        read_clinical(path)
    path.write_text("patient_id,treatment_start\nP1,2024-01-01\nP9,2024-01-02\n")
    measurements = read_measurements(write(tmp_path, GOOD))
    with pytest.raises(InputError) as err:
        build_records(measurements, read_clinical(path))
    assert err.value.row == 2 and "P9 has no rows in the measurement table" in str(err.value)


def test_cells_are_stripped_of_blanks(tmp_path):
    lines = ["P1 , 2024-01-01,T1 ,target,liver ,false, 23.0 ,,measured "]
    (m,) = read_measurements(write(tmp_path, lines))
    assert (m.patient_id, m.lesion_id, m.site, m.long_axis_mm) == (
        "P1",
        "T1",
        "liver",
        Decimal("23.0"),
    )


def test_error_names_an_option_as_an_option():
    err = InputError("'x' is not a column name", column="--by")
    assert str(err) == "option --by: 'x' is not a column name"
    assert str(InputError("bad", path="t.csv", row=2, column="date")) == (
        "t.csv, row 2, column 'date': bad"
    )


@pytest.mark.parametrize(
    "lines",
    [
        ["P1, 2024-01-01,T1,target,liver,false,23.0,,measured"],  # a leading blank only
        ["P1,2024-01-01,T1,target,liver,false,23.0,,measured\t"],  # a trailing tab
    ],
)
def test_a_single_blank_anywhere_is_stripped(tmp_path, lines):
    (m,) = read_measurements(write(tmp_path, lines))
    assert (m.date, m.state.value) == (dt.date(2024, 1, 1), "measured")


def test_quoted_cells_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "\ufeff"
        + HEADER
        + '\n"P,1",2024-01-01,T1,target,"liver, left lobe",false,23.0,,measured\n',
        encoding="utf-8",
    )
    (m,) = read_measurements(path)
    assert (m.patient_id, m.site) == ("P,1", "liver, left lobe")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (HEADER + "\nP1,2024-01-01,T1,target,liver,false,23.0,,measured,x\n", "row 1: 10 cells"),
        (HEADER + "\n\nP1,2024-01-01,T1\n", "row 1: 3 cells"),
        (b"\xff\xfe" + HEADER.encode() + b"\n", "utf-8"),
        ("", "No columns"),
    ],
)
def test_malformed_csv_is_reported_with_its_line(tmp_path, content, fragment):
    path = tmp_path / "m.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        read_measurements(path)
    assert fragment in str(err.value) and "m.csv" in str(err.value)


ROW = "P1,2024-01-01,T1,target,liver,false,23.0,,measured"


@pytest.mark.parametrize(
    "body",
    [
        ROW.replace("P1,", "P1 ,") + "\n",  # " ,"
        ROW.replace("liver,", "liver, ") + "\n",  # ", "
        ROW + " \n" + ROW.replace("P1", "P2") + "\n",  # " \n"
        ROW + " \r\n" + ROW.replace("P1", "P2") + "\r\n",  # " \r"
        " " + ROW + "\n",  # "\n " (after the header's line break)
        ROW.replace("T1", "T1\t") + "\n",  # a tab
    ],
)
@pytest.mark.parametrize("block_bytes", [2, 3, 5, 1 << 24])
def test_a_blank_beside_a_separator_is_found_across_read_blocks(
    tmp_path, monkeypatch, body, block_bytes
):
    """The file is scanned for blanks a block at a time: a blank beside a comma or a line
    break is found wherever the blocks split it, and the cells are stripped."""
    from recistry import tables

    monkeypatch.setattr(tables, "_BLOCK_BYTES", block_bytes)
    path = tmp_path / "m.csv"
    path.write_bytes(f"{HEADER}\n{body}".encode())
    m = read_measurements(path)[0]
    assert (m.patient_id, m.lesion_id, m.site, m.state.value) == ("P1", "T1", "liver", "measured")
    assert tables._has_padding(path)
    path.write_bytes(f"{HEADER}\n{ROW}\n{ROW.replace('P1', 'P 2')}\n".encode())  # inner blank
    assert not tables._has_padding(path)
