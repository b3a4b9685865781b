"""Benchmark: `recistry rescore` end to end (read, score, write JSON) on one core.

Generates a target-only table of N patients x 6 time points x 5 lesions (100,000 patients =
3 million rows by default), then runs, each in its own process pinned to one CPU:

* recistry on the whole table, JSON on stdout (the target: under 20 s), and with ``--out``
  (patients.csv, timepoints.csv and results.json);
* the floors: pandas, and Arrow (the CSV reader recistry uses), reading the same CSV as text and
  nothing else;
* pyrecist 0.1.0 (PyPI's RECIST package, target sums and thresholds only) on the same table, in
  its column names;
* on one smaller table of M patients: recistry, and recistry's reference engine alone (one
  object per row, per lesion and per call: the path the columnar fast path must agree with).

Prints wall time, patients per second and peak resident memory, the ratios measured in this run,
and whether recistry's output on the subset is byte for byte the reference engine's.

Usage: python bench/bench_rescore.py [--patients 100000] [--subset 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
GENERATOR = Path(__file__).resolve().parent / "_gen.py"


def _pin_to_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(label: str, argv: list[str], stdout_path: Path | None = None) -> tuple[float, float]:
    """Run a command pinned to one CPU; return (seconds, peak RSS in MiB)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    # stderr to a file, not a pipe: a child that logs more than a pipe holds would block.
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, preexec_fn=_pin_to_one_cpu)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if stdout_path:
            out.close()
        if status != 0:
            err.seek(0)
            raise SystemExit(f"{label} failed ({status}): {err.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=5_000)
    args = parser.parse_args()
    recistry = [PYTHON, "-m", "recistry.cli", "rescore"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Generated in a child process: a forked child inherits its parent's peak RSS, so the
        # parent must stay small for the children's peak memory to be their own.
        for n in (args.patients, args.subset):
            subprocess.run([PYTHON, str(GENERATOR), str(n), tmp_name], check=True)
        full = tmp / f"targets_{args.patients}.csv"
        subset = tmp / f"targets_{args.subset}.csv"
        full_pyrecist = tmp / f"targets_{args.patients}_pyrecist.csv"
        startup = run("startup", [*recistry, "--help"])
        rows = 30 * args.patients
        print(
            f"table: {args.patients:,} patients, {rows:,} rows, "
            f"{full.stat().st_size / 2**20:.0f} MiB CSV; subset {args.subset:,} patients"
        )
        floor_code = f"import pandas as pd; pd.read_csv({str(full)!r}, dtype=str)"
        arrow_code = (
            "import pyarrow as pa, pyarrow.csv as c; "
            f"names = open({str(full)!r}).readline().strip().split(','); "
            f"c.read_csv({str(full)!r}, convert_options=c.ConvertOptions("
            "column_types=dict.fromkeys(names, pa.string())))"
        )
        reference_code = (
            "import sys; from recistry import results as r, scoring as s; "
            "from recistry.recist.model import AssessmentOptions as O; "
            f"a = s.score(s.load_records({str(subset)!r}), O()); "
            "sys.stdout.write(r.dumps(r.build_document(a, O(), [])))"
        )
        results = {
            "pandas read_csv only (floor)": (
                run("floor", [PYTHON, "-c", floor_code]),
                args.patients,
            ),
            "Arrow read_csv only (floor)": (
                run("arrow floor", [PYTHON, "-c", arrow_code]),
                args.patients,
            ),
            "recistry rescore, full table": (
                run("recistry", [*recistry, str(full), "--format", "json"], tmp / "full.json"),
                args.patients,
            ),
            "recistry rescore --out, full table": (
                run("recistry --out", [*recistry, str(full), "--out", str(tmp / "out")]),
                args.patients,
            ),
            "recistry rescore, subset": (
                run(
                    "recistry subset",
                    [*recistry, str(subset), "--format", "json"],
                    tmp / "subset.json",
                ),
                args.subset,
            ),
            "reference engine alone, subset": (
                run("reference", [PYTHON, "-c", reference_code], tmp / "reference.json"),
                args.subset,
            ),
            "pyrecist 0.1.0, full table": (
                run("pyrecist", [PYTHON, "-m", "pyrecist", str(full_pyrecist), "-o", tmp_name]),
                args.patients,
            ),
        }
        identical = (tmp / "subset.json").read_bytes() == (tmp / "reference.json").read_bytes()
    print(f"{'run':36} {'seconds':>9} {'patients/s':>11} {'peak MiB':>9}")
    for label, ((seconds, peak), n) in results.items():
        print(f"{label:36} {seconds:9.2f} {n / seconds:11,.0f} {peak:9.0f}")
    (full_s, full_mem), _ = results["recistry rescore, full table"]
    (floor_s, _), _ = results["pandas read_csv only (floor)"]
    (ours_s, _), _ = results["recistry rescore, subset"]
    (theirs_s, _), _ = results["pyrecist 0.1.0, full table"]
    (reference_s, _), _ = results["reference engine alone, subset"]
    (arrow_s, _), _ = results["Arrow read_csv only (floor)"]
    print(f"recistry full table vs 20 s target: {full_s / 20:.2f}x the budget")
    print(f"recistry full table vs pandas read floor: {full_s / floor_s:.1f}x")
    print(f"recistry full table vs Arrow read floor: {full_s / arrow_s:.1f}x")
    print(
        f"reference engine alone / recistry time on the same {args.subset:,} patients: "
        f"{reference_s / ours_s:.1f}x"
    )
    print(f"recistry output on the subset identical to the reference engine's: {identical}")
    print(
        f"pyrecist / recistry time on the same {args.patients:,} patients: {theirs_s / full_s:.1f}x"
    )
    print(f"recistry start-up (rescore --help): {startup[0]:.2f} s, {startup[1]:.0f} MiB")
    print(f"peak memory per row: {full_mem * 2**20 / (30 * args.patients):.0f} bytes")


if __name__ == "__main__":
    main()
