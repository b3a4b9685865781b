"""Durability and concurrency with real processes and a real SQLite file.

SQLite guarantees atomic commits in WAL mode (https://sqlite.org/atomiccommit.html,
https://sqlite.org/wal.html); these tests check that recistry uses it so that a killed import
and concurrent writers behave as documented in docs/store.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

from recistry.store import Store, in_force_measurements
from tests.store._data import cohort_rows, write_csv

WRITER = textwrap.dedent(
    """
    import sys
    from recistry.store import Store, save_measurements
    from recistry.tables import read_measurements

    table, db, start_flag = sys.argv[1], sys.argv[2], sys.argv[3]
    measurements = read_measurements(table)
    import os, time
    while not os.path.exists(start_flag):  # start both writers together
        time.sleep(0.001)
    with Store(db) as store:
        # One transaction per patient, like a radiologist saving reads one after another.
        by_patient = {}
        for m in measurements:
            by_patient.setdefault(m.patient_id, []).append(m)
        for patient, rows in by_patient.items():
            save_measurements(store, rows, source=f"{table}:{patient}")
    """
)


def _write_concurrently(tables: list[Path], db: Path, flag: Path) -> None:
    """Run one WRITER process per table against ``db``, started together; all must succeed."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(root / "src"), str(root)))}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(t), str(db), str(flag)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t in tables
    ]
    flag.touch()
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err


def test_two_processes_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    flag = tmp_path / "go"
    tables = [
        write_csv(tmp_path / f"{reader}.csv", cohort_rows(40, reader=reader, seed=i))
        for i, reader in enumerate(("dr_a", "dr_b"))
    ]
    _write_concurrently(tables, db, flag)
    with Store(db) as store:
        assert store.integrity_check() == "ok"
        imports = store.conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
        assert imports == 80  # 40 patients x 2 readers, one transaction each
        for reader in ("dr_a", "dr_b"):
            assert len(in_force_measurements(store, reader)) == 40 * 4 * 3


def test_sigkill_during_a_bulk_import_leaves_all_or_none(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()  # schema in place and checkpointed: the WAL is empty now
    rows = cohort_rows(3000, seed=3)
    table = write_csv(tmp_path / "big.csv", rows)
    wal = Path(f"{db}-wal")
    process = subprocess.Popen(
        [sys.executable, "-m", "recistry.cli", "import", str(table), "--store", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Kill once the import's transaction has spilled pages into the WAL: mid-write.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > 512 * 1024:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the import ended before it could be killed"
    assert wal.stat().st_size > 0  # uncommitted pages were on disk when it died
    with Store(db) as store:
        assert store.integrity_check() == "ok"
        count = store.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        imports = store.conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
    assert (count, imports) in {(0, 0), (len(rows), 1)}
    # A re-run after the crash completes normally.
    done = subprocess.run(
        [sys.executable, "-m", "recistry.cli", "import", str(table), "--store", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == len(rows)


def test_two_processes_editing_the_same_readings_keep_both_revisions(tmp_path: Path) -> None:
    """Concurrent edits of one reading are serialised: revision numbers never collide and no
    edit is lost (the loser of the race writes the next revision)."""
    db = tmp_path / "s.db"
    Store(db).close()
    flag = tmp_path / "go"
    # Same patients, lesions, dates and reader; different values (different seeds).
    tables = [
        write_csv(tmp_path / f"edit{i}.csv", cohort_rows(20, reader="dr_a", seed=1)) for i in (1, 2)
    ]
    rows2 = cohort_rows(20, reader="dr_a", seed=1)
    for row in rows2:
        if row["long_axis_mm"]:
            row["long_axis_mm"] = str(Decimal(row["long_axis_mm"]) + 1)
    write_csv(tables[1], rows2)
    _write_concurrently(tables, db, flag)
    changed = sum(1 for row in rows2 if row["long_axis_mm"])
    with Store(db) as store:
        assert store.integrity_check() == "ok"
        revisions = dict(
            store.conn.execute("SELECT revision, COUNT(*) FROM measurements GROUP BY revision")
        )
    # Every reading has revision 1; each one whose value differs has revision 2 as well.
    assert revisions == {1: len(rows2), 2: changed}
