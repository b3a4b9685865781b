"""Independent readers at scale (issue 15 target: ``recistry readers`` for 10,000 patients < 10 s).

    .venv/bin/python bench/bench_readers.py [--patients 10000]

A store holds two readers' reads of sample_dicom/cohort replicated to N patients (reader
``ben`` measures every baseline T1 0.4 mm larger, and every 25th patient's second target is
another lesion, so some patients need adjudication). Measured, each in this process:

* ``recistry readers STORE --format json --out FILE`` (both reads scored, compared, written);
* baseline in the same run: ``recistry rescore STORE --reader ana --format json`` of the same
  store, one reader's read (the work of scoring one read the usual way);
* the RECIST engine's share: ``recistry.scoring.score`` of both reads' records, timed alone.

Both with ``--workers N`` (default 1). Wall and CPU seconds of this process are printed: on a
shared VM the CPU time is the steadier figure (worker processes' CPU is not counted in it).

Building the store is setup and is not timed. No timing is asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import tempfile
import time
from pathlib import Path

from recistry.cli import main as cli

COHORT = Path(__file__).resolve().parents[1] / "sample_dicom" / "cohort"


def _tables(n: int, folder: Path) -> tuple[Path, Path, Path]:
    """(ana's table, ben's table, clinical) of n patients."""
    with (COHORT / "measurements.csv").open() as fh:
        meas = list(csv.reader(fh))
    with (COHORT / "clinical.csv").open() as fh:
        clin = list(csv.reader(fh))
    header = meas[0]
    at = {name: i for i, name in enumerate(header)}
    copies = -(-n // (len(clin) - 1))
    ana, ben, clinical = folder / "ana.csv", folder / "ben.csv", folder / "clinical.csv"
    baseline = {}
    for r in meas[1:]:
        baseline[r[0]] = min(baseline.get(r[0], r[1]), r[1])
    with ana.open("w", newline="") as fa, ben.open("w", newline="") as fb:
        wa, wb = csv.writer(fa), csv.writer(fb)
        wa.writerow(header)
        wb.writerow(header)
        for c in range(copies):
            for r in meas[1:]:
                pid = f"{r[0]}-{c:04d}"
                wa.writerow([pid, *r[1:]])
                other = [pid, *r[1:]]
                if r[at["lesion_id"]] == "T1" and r[at["date"]] == baseline[r[0]]:
                    other[at["long_axis_mm"]] = f"{float(r[at['long_axis_mm']]) + 0.4:.1f}"
                if c % 25 == 0 and r[at["lesion_id"]] == "T2":
                    other[at["lesion_id"]] = "T3"
                wb.writerow(other)
    with clinical.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(clin[0])
        for c in range(copies):
            writer.writerows([f"{r[0]}-{c:04d}", *r[1:]] for r in clin[1:])
    return ana, ben, clinical


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one in-process command, its output discarded."""
    sink = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        status = cli(argv)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="scoring processes, both commands")
    args = parser.parse_args()
    workers = ["--workers", str(args.workers), "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ana, ben, clinical = _tables(args.patients, folder)
        store = folder / "trial.db"
        for table, reader in ((ana, "ana"), (ben, "ben")):
            _timed(["import", str(table), "--store", str(store), "--reader", reader])
        _timed(["import", "--clinical", str(clinical), "--store", str(store)])
        patients = sum(1 for _ in clinical.open()) - 1

        wall, cpu = _timed(
            ["readers", str(store), "--format", "json", "--out", str(folder / "readers.json"),
             *workers]
        )  # fmt: skip
        base_wall, base_cpu = _timed(
            ["rescore", str(store), "--reader", "ana", "--format", "json", *workers]
        )
        from recistry.recist.model import AssessmentOptions
        from recistry.scoring import load_records, score

        reads = [r for name in ("ana", "ben") for r in load_records(store, reader=name)]
        start = time.process_time()
        score(reads, AssessmentOptions())
        engine = time.process_time() - start
        print(
            f"readers, {patients:,} patients x 2 readers: {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"(target < 10 s: {'met' if wall < 10 else 'NOT met'}); rescore of one reader's "
            f"read of the same store {base_wall:.2f} s wall, {base_cpu:.2f} s CPU; ratio "
            f"{wall / base_wall:.2f}x wall, {cpu / base_cpu:.2f}x CPU; the engine alone scoring "
            f"both reads: {engine:.2f} s CPU ({100 * engine / cpu:.0f}% of readers' CPU)"
        )


if __name__ == "__main__":
    main()
