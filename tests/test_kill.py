"""SIGKILL at random moments of import, export and report, and concurrent writers with a reader
(docs/security.md). Marked ``slow``; ``bench/bench_kill.py`` runs the same loop 100 times.

After every kill: the store passes ``PRAGMA integrity_check`` and holds the interrupted import
wholly or not at all; an output folder is either absent, the previous complete one or the new
complete one (its completion marker present and every file it names there), never a mixture;
the next run removes what the killed one left beside its target.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from recistry.atomic import COMPLETE_MARKER
from recistry.store import Store
from tests.sr.conftest import build_archive
from tests.store._data import cohort_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT)))}


def _start(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "recistry.cli", *argv],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run(*argv: str) -> float:
    """Run to the end; returns how long it took (s), the span kills are drawn from."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "recistry.cli", *argv], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start


def _kill_at_random(process: subprocess.Popen[bytes], rng: random.Random, span: float) -> bool:
    """SIGKILL after a random delay of 0.2 s to 1.2 ``span`` (how long one whole run took): some
    kills land after the end, most mid-run. True if the process was still running."""
    time.sleep(rng.uniform(0.2, 1.2 * span))
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=120)
    return alive and process.returncode == -signal.SIGKILL


def _leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.glob(f".{target.name}.*"))


def _folder_is_whole(out: Path, expected: set[str] | None = None) -> None:
    if not out.exists():
        return
    names = {p.name for p in out.iterdir()}
    assert COMPLETE_MARKER in names, f"{out} has no completion marker: {sorted(names)}"
    if expected is not None:
        assert names == expected, sorted(names ^ expected)


@dataclass
class KillTally:
    """How many kills landed mid-run, per command."""

    killed: dict[str, int]
    runs: dict[str, int]


def kill_loop(folder: Path, kills: int, seed: int = 7) -> KillTally:
    """Kill ``kills`` runs of each of import, report and export at random moments, checking the
    promises after each; returns how many kills landed while the command was running."""
    rng = random.Random(seed)
    tally = KillTally(
        {"import": 0, "report": 0, "export": 0}, {"import": 0, "report": 0, "export": 0}
    )
    archive = build_archive(folder / "archive")
    # import: every round writes one new revision of every reading (sizes + round/10).
    db = folder / "kill.db"
    Store(db).close()
    base = cohort_rows(300, seed=5)
    span = _run(
        "import", str(write_csv(folder / "timing.csv", base)), "--store", str(folder / "t.db")
    )
    expected = 0
    for round_ in range(kills):
        rows = [dict(r) for r in base]
        for row in rows:
            if row["long_axis_mm"]:
                row["long_axis_mm"] = f"{float(row['long_axis_mm']) + (round_ + 1) / 10:.2f}"
            row["reader"] = "dr_k"
        table = write_csv(folder / f"t{round_}.csv", rows)
        changed = len(rows) if expected == 0 else sum(1 for r in rows if r["long_axis_mm"])
        tally.runs["import"] += 1
        tally.killed["import"] += _kill_at_random(
            _start("import", str(table), "--store", str(db)), rng, span
        )
        with Store(db, readonly=True) as store:
            assert store.integrity_check() == "ok"
            count = store.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        assert count in (expected, expected + changed), (count, expected, changed)
        expected = count
    # report: titles differ per round, so a mixed folder would show two titles.
    out = folder / "report"
    span = _run("report", str(archive.table), "--out", str(out), "--title", "round -1")
    full = {p.name for p in out.iterdir()}
    for round_ in range(kills):
        tally.runs["report"] += 1
        process = _start(
            "report", str(archive.table), "--out", str(out), "--title", f"round {round_}"
        )
        tally.killed["report"] += _kill_at_random(process, rng, span)
        _folder_is_whole(out, full)
        titles = [f"round {r}" for r in range(-1, round_ + 1)]
        html = (out / "report.html").read_text(encoding="utf-8")
        assert sum(f"<title>{t}</title>" in html for t in titles) == 1
    _run("report", str(archive.table), "--out", str(out))
    assert _leftovers(out) == []
    # export: the folder is absent or whole (marker and every file).
    out = folder / "sr"
    span = _run("export", str(out), "--store", str(archive.store))
    for _ in range(kills):
        tally.runs["export"] += 1
        tally.killed["export"] += _kill_at_random(
            _start("export", str(out), "--store", str(archive.store)), rng, span
        )
        if out.exists():
            _folder_is_whole(out)
            count = int((out / COMPLETE_MARKER).read_text().split()[2])
            assert len(list(out.rglob("*.dcm"))) == count
    _run("export", str(out), "--store", str(archive.store))
    assert _leftovers(out) == []
    return tally


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_whole_outputs(tmp_path: Path) -> None:
    tally = kill_loop(tmp_path, kills=5)
    # Most kills must land mid-run, or the test shows nothing.
    assert sum(tally.killed.values()) >= 5, tally


WRITER = """
import sys
from pathlib import Path
from recistry.store import Store, save_measurements
from recistry.tables import read_measurements
table, db = Path(sys.argv[1]), Path(sys.argv[2])
rows = read_measurements(table)
by_patient = {}
for m in rows:
    by_patient.setdefault(m.patient_id, []).append(m)
for patient, part in by_patient.items():
    with Store(db) as store:
        save_measurements(store, part, source=str(table))
"""


@pytest.mark.slow
def test_four_writers_and_a_reader_lose_nothing(tmp_path: Path) -> None:
    """Four processes save 15 patients each, one transaction per patient, while a fifth
    re-scores the store in a loop: every reading arrives and no read fails or waits for a
    whole write."""
    db = tmp_path / "s.db"
    Store(db).close()
    tables = []
    for w in range(4):
        rows = cohort_rows(15, seed=w, reader=f"dr_{w}")
        for row in rows:
            row["patient_id"] = f"W{w}-{row['patient_id']}"
        tables.append(write_csv(tmp_path / f"w{w}.csv", rows))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(t), str(db)], env=ENV, stderr=subprocess.PIPE
        )
        for t in tables
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        done = subprocess.run(
            [sys.executable, "-m", "recistry.cli", "rescore", str(db), "--format", "json"],
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert done.returncode in (0, 2), done.stderr
        if done.returncode == 2:  # only an empty store (nothing committed yet) is refused
            assert "no patients" in done.stderr or "no measurement" in done.stderr, done.stderr
        reads += 1
    for w in writers:
        assert w.wait() == 0, w.stderr.read() if w.stderr else ""
    with Store(db, readonly=True) as store:
        count = store.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        assert store.integrity_check() == "ok"
    assert count == 4 * 15 * 12 and reads >= 1


def tally_line(tally: KillTally) -> str:
    """``import: 30 of 34 killed mid-run, …`` for the bench's output."""
    return ", ".join(
        f"{k}: {tally.killed[k]} of {tally.runs[k]} killed mid-run" for k in tally.runs
    )
