"""Independent readers at scale (issue 15 target: ``recistry readers`` for 10,000 patients < 10 s).

    .venv/bin/python bench/bench_readers.py [--patients 10000]

A store holds two readers' reads of sample_dicom/cohort replicated to N patients (reader
``ben`` measures every baseline T1 0.4 mm larger, and every 25th patient's second target is
another lesion, so some patients need adjudication). Measured, each in this process:

* ``recistry readers STORE --format json --out FILE`` (both reads scored, compared, written),
  as the command runs by default (one process per reader's read, as many at once as CPUs) and
  with ``--workers 1`` (everything in this process);
* baseline in the same run: ``recistry rescore STORE --reader ana --format json`` of the same
  store, one reader's read (the work of scoring one read the usual way), in this process;
* the RECIST engine's share: ``recistry.scoring.score`` of both reads' records, timed alone.

Printed for each: wall seconds, and CPU seconds of this process plus those of the worker
processes it started (their sum is the work done; on a shared VM the CPU time is the steadier
figure, the wall time is what the target is about and needs free cores).

Building the store is setup and is not timed. No timing is asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import resource
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


def _timed(argv: list[str]) -> tuple[float, float, float]:
    """(wall, CPU of this process, CPU of the worker processes it started) seconds of one
    in-process command, its output discarded."""
    sink = io.StringIO()
    children = _children_cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        status = cli(argv)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - children
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {status}")
    return elapsed


def _children_cpu() -> float:
    """CPU seconds of the finished child processes of this one."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _figures(wall: float, cpu: float, children: float) -> str:
    return f"{wall:.2f} s wall, {cpu:.2f} + {children:.2f} s CPU (this process + workers)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()
    quiet = ["--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ana, ben, clinical = _tables(args.patients, folder)
        store = folder / "trial.db"
        for table, reader in ((ana, "ana"), (ben, "ben")):
            _timed(["import", str(table), "--store", str(store), "--reader", reader])
        _timed(["import", "--clinical", str(clinical), "--store", str(store)])
        patients = sum(1 for _ in clinical.open()) - 1

        out = ["--format", "json", "--out", str(folder / "readers.json"), *quiet]
        default = _timed(["readers", str(store), *out])
        alone = _timed(["readers", str(store), *out, "--workers", "1"])
        base = _timed(["rescore", str(store), "--reader", "ana", "--format", "json", *quiet])
        from recistry._gc import cyclic_gc_paused
        from recistry.recist.model import AssessmentOptions
        from recistry.scoring import load_records, score

        reads = [r for name in ("ana", "ben") for r in load_records(store, reader=name)]
        with cyclic_gc_paused():  # as readers scores
            start = time.process_time()
            score(reads, AssessmentOptions())
            engine = time.process_time() - start
        print(
            f"readers, {patients:,} patients x 2 readers (target < 10 s: "
            f"{'met' if default[0] < 10 else 'NOT met'} in wall time):\n"
            f"  default (one process per reader's read): {_figures(*default)}\n"
            f"  --workers 1: {_figures(*alone)}\n"
            f"  baseline rescore --reader ana (one read, this process): {_figures(*base)}; "
            f"ratio --workers 1 / baseline {alone[1] / base[1]:.2f}x CPU\n"
            f"  the engine alone scoring both reads: {engine:.2f} s CPU "
            f"({100 * engine / alone[1]:.0f}% of readers --workers 1)"
        )


if __name__ == "__main__":
    main()
