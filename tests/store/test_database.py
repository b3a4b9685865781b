"""Opening, migrating and protecting the store file (real SQLite files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from recistry.errors import StoreError
from recistry.store import Store
from recistry.store._schema import SCHEMA_VERSION


def test_new_store_is_wal_with_foreign_keys_and_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.integrity_check() == "ok"
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), store.transaction():
            store.conn.execute(
                "INSERT INTO lesions (patient_pk, lesion_id, tracking_uid) "
                "VALUES (999, 'T1', '1.2')"
            )


def test_reopening_does_not_migrate_twice(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").close()
    with Store(tmp_path / "s.db") as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_from_a_newer_recistry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this recistry"):
        Store(path)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("patient_id,date\nP1,2024-01-01\n")
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store(path)
    assert path.read_text() == "patient_id,date\nP1,2024-01-01\n"


def test_reading_commands_refuse_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE measurements SET long_axis_mm = '1'",
        "DELETE FROM measurements",
        "DELETE FROM lesions",
        "UPDATE imports SET author = 'someone else'",
    ],
)
def test_history_tables_refuse_update_and_delete(tmp_path: Path, statement: str) -> None:
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.transaction():
            store.conn.execute(
                "INSERT INTO imports (kind, source, author, recorded_at, software) "
                "VALUES ('table', 'x', 'me', '2024-01-01T00:00:00+00:00', 'test')"
            )
            store.conn.execute("INSERT INTO patients (patient_id) VALUES ('P1')")
            store.conn.execute(
                "INSERT INTO lesions (patient_pk, lesion_id, tracking_uid) VALUES (1, 'T1', '1.2')"
            )
            store.conn.execute("INSERT INTO readers (name) VALUES ('r')")
            store.conn.execute(
                "INSERT INTO measurements (lesion_pk, reader_pk, scan_date, revision, import_id, "
                "role, site, nodal, state, long_axis_mm) "
                "VALUES (1, 1, '2024-01-01', 1, 1, 'target', 'liver', 0, 'measured', '12')"
            )
            store.conn.execute(statement)
        # The failed transaction rolled back as a whole.
        assert store.conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == 0


def test_a_version_1_store_upgrades_in_place_keeping_its_rows(tmp_path: Path) -> None:
    """Migrations append: a store written before new_therapy_date gains the column."""
    from recistry.store._schema import MIGRATIONS
    from recistry.store.database import _split_sql

    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    for statement in _split_sql(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO imports (kind, source, author, recorded_at, software) "
        "VALUES ('clinical', 'x.csv', 'me', '2026-01-01T00:00:00+00:00', 'recistry 0.0')"
    )
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(clinical)")]
        assert "new_therapy_date" in columns
        assert store.conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == 1
