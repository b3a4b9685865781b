"""A store is opened only if it is a recistry store; reading takes no write lock; history tables
are append-only; a no-op import records nothing (docs/store.md, docs/security.md)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from recistry.errors import StoreError
from recistry.store import Store, in_force_measurements, save_measurements
from recistry.store import database as database_module
from recistry.store._schema import MIGRATIONS, SCHEMA_VERSION
from recistry.store.database import APPLICATION_ID, MARKER_TABLE
from recistry.tables import read_measurements
from tests.store._data import cohort_rows, write_csv


def _sqlite_dump(db: Path) -> str:
    """What the sqlite3 shell's ``.dump`` prints (the real tool, not Python's iterdump)."""
    sqlite3_cli = shutil.which("sqlite3")
    if sqlite3_cli is None:  # pragma: no cover - scripts/install-system-deps.sh installs it
        pytest.skip("the sqlite3 shell is not installed")
    return subprocess.run(
        [sqlite3_cli, "-readonly", str(db), ".dump"], capture_output=True, text=True, check=True
    ).stdout


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "accounts.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        conn.execute("INSERT INTO invoices (amount) VALUES (99.5)")
    conn.close()
    dump, digest = _sqlite_dump(db), _digest(db)
    for kwargs in ({}, {"create": False}, {"readonly": True}):
        with pytest.raises(StoreError, match="not a recistry store"):
            Store(db, **kwargs)  # type: ignore[arg-type]
    assert _sqlite_dump(db) == dump and _digest(db) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.db"]


def test_an_empty_sqlite_database_is_not_a_store_either(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 7")  # writes the header: a valid, empty database
    conn.close()
    digest = _digest(db)
    with pytest.raises(StoreError, match="not a recistry store"):
        Store(db)
    assert _digest(db) == digest


def test_a_new_store_carries_the_application_id_and_marker(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        conn = store.conn
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute(f"SELECT value FROM {MARKER_TABLE}").fetchall() == [
            ("recistry study store",)
        ]


def test_a_store_written_before_the_application_id_is_recognised_and_migrated(
    tmp_path: Path,
) -> None:
    """A version-2 store (no application id, no marker) as recistry wrote it until now."""
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for number in range(2):
        conn.executescript(MIGRATIONS[number])
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO readers (name) VALUES ('dr_old')")
    conn.close()
    with Store(db, readonly=False) as store:
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("SELECT name FROM readers").fetchall() == [("dr_old",)]


def test_readers_and_patients_are_append_only(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "a.csv", cohort_rows(1, reader="dr_a"))
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, read_measurements(table), source=str(table))
        for sql in (
            "UPDATE readers SET name = 'someone else'",
            "DELETE FROM readers",
            "UPDATE patients SET patient_id = 'P2'",
            "DELETE FROM patients",
            f"DELETE FROM {MARKER_TABLE}",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.conn.execute(sql)


def test_reimporting_an_unchanged_table_records_no_import(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "a.csv", cohort_rows(2, reader="dr_a"))
    with Store(tmp_path / "s.db") as store:
        first = save_measurements(store, read_measurements(table), source=str(table), accept=True)
        again = save_measurements(store, read_measurements(table), source=str(table), accept=True)
        imports = store.conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
        acceptances = store.conn.execute("SELECT COUNT(*) FROM acceptances").fetchone()[0]
    assert first.import_id == 1 and again.import_id is None
    assert again.new_revisions == 0 and again.unchanged == first.readings
    assert imports == 1 and acceptances == 2


def test_reading_takes_no_write_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While another connection holds the write lock mid-transaction, a store opens and reads
    (the committed state) at once: opening an up-to-date store no longer begins a write."""
    table = write_csv(tmp_path / "a.csv", cohort_rows(2, reader="dr_a"))
    db = tmp_path / "s.db"
    with Store(db) as store:
        save_measurements(store, read_measurements(table), source=str(table))
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_S", 0.2)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO readers (name) VALUES ('dr_uncommitted')")
    try:
        with Store(db, readonly=True) as store, store.snapshot():
            assert len(in_force_measurements(store)) == 24
            names = store.conn.execute("SELECT name FROM readers").fetchall()
        assert names == [("dr_a",)]
        with Store(db) as store:  # a writable open of an up-to-date store does not wait either
            assert store.integrity_check() == "ok"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "a.csv", cohort_rows(1, reader="dr_a"))
    db = tmp_path / "s.db"
    with Store(db) as store:
        save_measurements(store, read_measurements(table), source=str(table))
    with Store(db, readonly=True) as store:
        with pytest.raises(StoreError, match="read-only"), store.transaction():
            pass
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("INSERT INTO readers (name) VALUES ('x')")


def test_a_store_on_read_only_media_is_read_as_immutable(tmp_path: Path) -> None:
    """No -shm can be created beside the file (as on a DVD): simulated by a WAL store whose
    folder is read-only for a non-root user; root ignores permissions, so it is skipped then."""
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write in read-only folders")
    table = write_csv(tmp_path / "a.csv", cohort_rows(1, reader="dr_a"))
    folder = tmp_path / "media"
    folder.mkdir()
    db = folder / "s.db"
    with Store(db) as store:
        save_measurements(store, read_measurements(table), source=str(table))
    for sidecar in folder.glob("s.db-*"):
        sidecar.unlink()
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        with Store(db, readonly=True) as store:
            assert len(in_force_measurements(store)) == 12
    finally:
        folder.chmod(0o755)
