"""Benchmark: `recistry rescore` end to end (read, validate, score, write JSON) on one core.

Generates two tables of N patients (100,000 by default):

* the **target-only** table: 6 scans x 5 measured targets (30 rows per patient);
* the **varied** table (bench/_gen.py ``varied_table``): nodal and non-nodal targets,
  non-targets, new lesions present and equivocal, about 10% of patients with a missing or
  not-evaluable target, 5% with split fragments, 5% merged or too small, baseline warnings and
  pass-through columns (about 23 rows per patient).

Then runs, each in its own process pinned to one CPU:

* Arrow's bare read of each CSV, every column as text (the baseline of the target: recistry
  within 6x of it);
* recistry ``rescore --format json`` on each table, and ``--out`` on the varied one;
* pyrecist 0.1.0 (PyPI's RECIST package, target sums and thresholds only) on the target table;
* where the time goes on the varied table (imports, read and validate, rows, score, JSON,
  cohort), in CPU seconds of one process;
* one patient (what the napari response panel scores on each edit): median of 200 runs;
* the floor of the JSON contract (bench/_floor.py): the varied table's document made from its
  already-computed values by Arrow kernels, byte for byte, and written, against Arrow's read
  in the same process.

Prints wall and CPU time, patients per second, peak resident memory and bytes per row, and the
ratios measured in this run (by wall and by CPU time: on a shared machine the CPU ratio is the
stable one).

Usage: python bench/bench_rescore.py [--patients 100000] [--skip-pyrecist] [--skip-out]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PYTHON = sys.executable
GENERATOR = Path(__file__).resolve().parent / "_gen.py"
FLOOR = Path(__file__).resolve().parent / "_floor.py"

STAGES = """
import gc, json, sys, time
t0 = time.process_time()
from recistry.cohort.summary import cohort_summary
from recistry.recist.engine import assess_patient
from recistry.recist.model import AssessmentOptions
from recistry.results import CohortOutcome, assessment_json
from recistry.scoring import table_chunks
t1 = time.process_time()
chunks = table_chunks(sys.argv[1])
t2 = time.process_time()
options = AssessmentOptions()
rows = score = text = 0.0
outcomes = []
gc.disable()
for chunk in chunks.records():
    a = time.process_time()
    scored = [assess_patient(r, options) for r in chunk]
    b = time.process_time()
    size = sum(len(assessment_json(s)) for s in scored)
    c = time.process_time()
    outcomes.extend(CohortOutcome.of(s) for s in scored)
    score += b - a
    text += c - b
t3 = time.process_time()
cohort_summary(outcomes)
t4 = time.process_time()
rows = (t3 - t2) - score - text
print(json.dumps({"imports": t1 - t0, "read and validate": t2 - t1, "rows to values": rows,
                  "score": score, "JSON text": text, "cohort": t4 - t3}))
"""

ONE_PATIENT = """
import json, statistics, sys, time
from recistry.recist.engine import assess_patient
from recistry.scoring import table_chunks
record = next(iter(table_chunks(sys.argv[1]).records(50)))[int(sys.argv[2])]
times = []
for _ in range(200):
    start = time.perf_counter()
    assess_patient(record)
    times.append(time.perf_counter() - start)
print(json.dumps({"median_ms": 1000 * statistics.median(times), "rows": len(record.measurements)}))
"""


def _pin_to_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(label: str, argv: list[str], stdout_path: Path | None = None) -> tuple[float, float, float]:
    """Run a command pinned to one CPU; return (wall seconds, CPU seconds, peak RSS in MiB).

    CPU seconds (user + system) are the figures to compare on a shared machine: a run that
    waits for the CPU behind other jobs takes longer in wall time, not in CPU time.
    """
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
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _arrow_read(path: Path) -> list[str]:
    code = (
        "import pyarrow as pa, pyarrow.csv as c; "
        f"names = open({str(path)!r}).readline().strip().split(','); "
        f"c.read_csv({str(path)!r}, convert_options=c.ConvertOptions("
        "column_types=dict.fromkeys(names, pa.string())))"
    )
    return [PYTHON, "-c", code]


def _rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


def _print_floor(floor: dict[str, Any]) -> None:
    read = floor["arrow_read_cpu_s"]
    print(
        f"floor of the JSON contract (varied table, CPU of one process; Arrow's read "
        f"{read:.2f} s): the document ({floor['document_bytes']:,} bytes) from computed "
        f"columns by Arrow kernels {floor['document_by_kernels_cpu_s']:.2f} s "
        f"({floor['document_by_kernels_cpu_s'] / read:.1f}x the read; again "
        f"{floor['document_by_kernels_again_cpu_s'] / read:.1f}x; identical: "
        f"{floor['identical']}), written {floor['write_cpu_s'] / read:.1f}x, one reason per "
        f"time point {floor['one_reason_per_timepoint_cpu_s'] / read:.1f}x; without reasons "
        f"and lesions ({floor['compact_document_bytes']:,} bytes) "
        f"{floor['compact_document_cpu_s'] / read:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--skip-pyrecist", action="store_true")
    parser.add_argument("--skip-out", action="store_true")
    args = parser.parse_args()
    recistry = [PYTHON, "-m", "recistry.cli", "rescore"]
    n = args.patients
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Generated in a child process: a forked child inherits its parent's peak RSS, so the
        # parent must stay small for the children's peak memory to be their own.
        subprocess.run([PYTHON, str(GENERATOR), str(n), tmp_name, "--varied"], check=True)
        target = tmp / f"targets_{n}.csv"
        varied = tmp / f"varied_{n}.csv"
        rows = {"target": _rows(target), "varied": _rows(varied)}
        print(
            f"tables: {n:,} patients; target-only {rows['target']:,} rows "
            f"({target.stat().st_size / 2**20:.0f} MiB), varied {rows['varied']:,} rows "
            f"({varied.stat().st_size / 2**20:.0f} MiB)"
        )
        results: dict[str, tuple[tuple[float, float, float], str]] = {}
        results["Arrow read_csv, target-only (baseline)"] = (
            run("arrow", _arrow_read(target)),
            "target",
        )
        results["Arrow read_csv, varied (baseline)"] = (run("arrow", _arrow_read(varied)), "varied")
        results["recistry rescore --format json, target-only"] = (
            run("recistry", [*recistry, str(target), "--format", "json"], tmp / "t.json"),
            "target",
        )
        results["recistry rescore --format json, varied"] = (
            run("recistry", [*recistry, str(varied), "--format", "json"], tmp / "v.json"),
            "varied",
        )
        if not args.skip_out:
            results["recistry rescore --out, varied"] = (
                run("recistry --out", [*recistry, str(varied), "--out", str(tmp / "out")]),
                "varied",
            )
        if not args.skip_pyrecist:
            theirs = tmp / f"targets_{n}_pyrecist.csv"
            results["pyrecist 0.1.0, target-only"] = (
                run("pyrecist", [PYTHON, "-m", "pyrecist", str(theirs), "-o", tmp_name]),
                "target",
            )
        stages = json.loads(
            subprocess.run(
                [PYTHON, "-c", STAGES, str(varied)],
                check=True,
                capture_output=True,
                text=True,
                preexec_fn=_pin_to_one_cpu,
            ).stdout
        )
        # the floor reads the compact document: more than 1,000 patients (smaller are indented)
        floor = (
            json.loads(
                subprocess.run(
                    [PYTHON, str(FLOOR), str(tmp / "v.json"), str(varied)],
                    check=True,
                    capture_output=True,
                    text=True,
                    preexec_fn=_pin_to_one_cpu,
                ).stdout
            )
            if n > 1000
            else None
        )
        one = json.loads(
            subprocess.run(
                [PYTHON, "-c", ONE_PATIENT, str(varied), "7"],
                check=True,
                capture_output=True,
                text=True,
                preexec_fn=_pin_to_one_cpu,
            ).stdout
        )
    print(
        f"{'run':46} {'seconds':>8} {'CPU s':>8} {'patients/s':>11} {'peak MiB':>9} "
        f"{'bytes/row':>9}"
    )
    for label, ((seconds, cpu, peak), table) in results.items():
        per_row = peak * 2**20 / rows[table]
        print(
            f"{label:46} {seconds:8.2f} {cpu:8.2f} {n / seconds:11,.0f} {peak:9.0f} {per_row:9.0f}"
        )
    for name in ("target-only", "varied"):
        ours = results[f"recistry rescore --format json, {name}"][0]
        arrow = results[f"Arrow read_csv, {name} (baseline)"][0]
        print(
            f"{name}: recistry / Arrow read = {ours[0] / arrow[0]:.1f}x wall, "
            f"{ours[1] / arrow[1]:.1f}x CPU (target <= 6x)"
        )
    if not args.skip_pyrecist:
        theirs_s = results["pyrecist 0.1.0, target-only"][0]
        ours_s = results["recistry rescore --format json, target-only"][0]
        print(
            f"pyrecist / recistry on the target-only table: {theirs_s[0] / ours_s[0]:.1f}x wall, "
            f"{theirs_s[1] / ours_s[1]:.1f}x CPU"
        )
    total = sum(stages.values())
    print(
        "where the time goes (varied table, one process): "
        + ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in stages.items())
    )
    if floor is not None:
        _print_floor(floor)
    print(
        f"one patient ({one['rows']} rows), median of 200: {one['median_ms']:.2f} ms "
        "(target < 2 ms)"
    )


if __name__ == "__main__":
    main()
