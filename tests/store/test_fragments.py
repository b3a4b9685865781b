"""Split-lesion fragments in the store: named in a ``fragment`` column, summed like the table
[EJC09 §4.3.2], one revision per reading, refused alike by ``import`` and ``rescore`` when a
repeated row is not a named fragment (issue 16: what one command refuses, no other accepts)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from recistry.cli import main
from recistry.errors import InputError
from recistry.store import Store, in_force_measurements, load_records, save_measurements
from recistry.store._schema import MIGRATIONS, SCHEMA_VERSION
from recistry.store.database import _split_sql
from recistry.tables import read_measurements

HEADER = "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state,fragment\n"
BASELINE = "P1,2024-01-01,T1,target,liver,false,40,,measured,\n"


def _table(tmp_path: Path, *follow_up: str, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + BASELINE + "".join(follow_up), encoding="utf-8")
    return path


def _fragments(*sizes_and_names: tuple[str, str]) -> list[str]:
    return [
        f"P1,2024-02-26,T1,target,liver,false,{mm},,measured,{n}\n" for mm, n in sizes_and_names
    ]


def _rescore(table: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["rescore", str(table), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_named_fragments_import_and_score_as_the_table_does(tmp_path, capsys):
    table = _table(tmp_path, *_fragments(("15", "a"), ("12", "b")))
    store = tmp_path / "s.db"
    assert main(["import", str(table), "--store", str(store)]) == 0
    capsys.readouterr()
    from_table = _rescore(table, capsys)
    from_store = _rescore(store, capsys)
    follow_up = from_store["patients"][0]["timepoints"][0]
    assert Decimal(follow_up["target_sum_mm"]) == 27  # 15 + 12: the split lesion item 27
    assert from_store["patients"] == from_table["patients"]
    with Store(store) as s:
        rows = in_force_measurements(s)
    assert [(m.extra.get("fragment", ""), m.long_axis_mm) for m in rows] == [
        ("", Decimal(40)),
        ("a", Decimal(15)),
        ("b", Decimal(12)),
    ]


@pytest.mark.parametrize("command", ["import", "rescore"])
def test_a_repeated_row_without_a_fragment_name_is_refused_by_every_command(
    tmp_path, capsys, command
):
    """The issue's case: a duplicated measured-target row was summed (59 -> 118 mm) by rescore
    but refused by import. Now both refuse it at the same row and column."""
    copy = "P1,2024-02-26,T1,target,liver,false,59,,measured,\n"
    table = _table(tmp_path, copy, copy)
    store = tmp_path / "s.db"
    argv = [command, str(table)] + (["--store", str(store)] if command == "import" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "m.csv, row 3, column 'fragment'" in err and "is given twice (first at row 2)" in err
    assert not store.exists()


def test_a_fragment_of_a_non_target_is_refused_on_import_as_on_rescore(tmp_path, capsys):
    rows = HEADER + BASELINE + "P1,2024-01-01,NT1,non_target,bone,false,,,present,a\n"
    table = tmp_path / "m.csv"
    table.write_text(rows + "P1,2024-02-26,T1,target,liver,false,30,,measured,\n")
    outcomes = []
    for argv in (["rescore", str(table)], ["import", str(table), "--store", str(tmp_path / "s")]):
        assert main(argv) == 2
        outcomes.append(capsys.readouterr().err.split("error: ", 1)[1])
    assert outcomes[0] == outcomes[1]
    assert "row 2, column 'fragment'" in outcomes[0]


def test_fragments_are_one_revision_of_their_reading(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:
        first = save_measurements(
            store, read_measurements(_table(tmp_path, *_fragments(("15", "a"), ("12", "b")))),
            source="one",
        )  # fmt: skip
        again = save_measurements(
            store, read_measurements(_table(tmp_path, *_fragments(("15", "a"), ("12", "b")))),
            source="again",
        )  # fmt: skip
        assert (first.new_revisions, again.new_revisions, again.import_id) == (3, 0, None)
        # One fragment re-measured: the reading's next revision holds both fragments.
        save_measurements(
            store, read_measurements(_table(tmp_path, *_fragments(("15", "a"), ("13", "b")))),
            source="edit",
        )  # fmt: skip
        # The lesion re-read as one whole lesion: the fragments are no longer in force.
        whole = _table(tmp_path, "P1,2024-02-26,T1,target,liver,false,26,,measured,\n")
        save_measurements(store, read_measurements(whole), source="whole")
        history = store.conn.execute(
            "SELECT revision, fragment, long_axis_mm, supersedes IS NOT NULL FROM measurements "
            "WHERE scan_date = '2024-02-26' ORDER BY measurement_pk"
        ).fetchall()
        in_force = [
            (m.extra.get("fragment", ""), m.long_axis_mm) for m in in_force_measurements(store)
        ]
        (record,) = load_records(db)
    assert history == [
        (1, "a", "15", 0),
        (1, "b", "12", 0),
        (2, "a", "15", 1),
        (2, "b", "13", 1),
        (3, "", "26", 1),
    ]
    assert in_force == [("", Decimal(40)), ("", Decimal(26))]
    assert len(record.measurements) == 2


def test_repeated_fragment_names_are_refused_before_anything_is_written(tmp_path):
    db = tmp_path / "s.db"
    table = _table(tmp_path, *_fragments(("15", "a"), ("12", "a")))
    with Store(db) as store:
        with pytest.raises(InputError, match=r"given twice \(first at row 2\)") as err:
            save_measurements(store, read_measurements(table), source="x")
        assert (err.value.row, err.value.column) == (3, "fragment")
        assert store.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0


def test_a_store_of_the_previous_schema_gains_fragments_keeping_rows_and_endpoints(tmp_path):
    """The migration rebuilds measurements (SQLite cannot change a UNIQUE constraint in place):
    every row, revision link and axis endpoint survives, and the append-only triggers return."""
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    for number in range(SCHEMA_VERSION - 1):
        for statement in _split_sql(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.executescript(
        """
        INSERT INTO imports VALUES (1, 'table', 'm.csv', 'me', '2026-01-01T00:00:00+00:00', 'x');
        INSERT INTO patients (patient_pk, patient_id) VALUES (1, 'P1');
        INSERT INTO readers (reader_pk, name) VALUES (1, 'dr.a');
        INSERT INTO lesions VALUES (1, 1, 'T1', '1.2.3');
        INSERT INTO measurements (measurement_pk, lesion_pk, reader_pk, scan_date, revision,
            import_id, role, site, nodal, state, long_axis_mm, frame_of_reference_uid)
            VALUES (1, 1, 1, '2024-01-01', 1, 1, 'target', 'liver', 0, 'measured', '40', '1.2');
        INSERT INTO measurements (measurement_pk, lesion_pk, reader_pk, scan_date, revision,
            supersedes, import_id, role, site, nodal, state, long_axis_mm)
            VALUES (2, 1, 1, '2024-01-01', 2, 1, 1, 'target', 'liver', 0, 'measured', '41');
        INSERT INTO axis_endpoints VALUES (1, 'long', 0, 0, 0, 40, 0, 0);
        """
    )
    conn.commit()
    conn.close()
    with Store(db) as store:
        conn = store.conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute(
            "SELECT measurement_pk, revision, supersedes, long_axis_mm, fragment "
            "FROM measurements ORDER BY 1"
        ).fetchall() == [(1, 1, None, "40", ""), (2, 2, 1, "41", "")]
        assert conn.execute("SELECT * FROM axis_endpoints").fetchall() == [
            (1, "long", 0.0, 0.0, 0.0, 40.0, 0.0, 0.0)
        ]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert [r[1] for r in conn.execute("SELECT * FROM measurements_in_force")] == [1]
        for statement in ("DELETE FROM measurements", "UPDATE axis_endpoints SET x1 = 1"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
