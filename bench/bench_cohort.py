"""Cohort statistics, report and CDISC speed (issue 6 targets: 100,000 patients' statistics
< 5 s; the full report for 10,000 patients < 60 s; issue 15: ``recistry cdisc`` for 10,000
patients < 10 s).

    .venv/bin/python bench/bench_cohort.py [--patients-stats 100000] [--patients-report 10000]
        [--patients-cdisc 10000]

Prints each figure with its ratio to a baseline measured in the same run:

* statistics: ``cohort_summary`` (ORR/DCR with exact CIs, PFS/OS Kaplan–Meier with R-rule
  medians, 3 subgroup specs) vs the bare library calls it builds on (one lifelines
  ``KaplanMeierFitter.fit`` for PFS and OS, two ``scipy.stats.binomtest`` intervals);
* report: ``write_report`` (tables, 6 figures as PNG+SVG, HTML) vs reading and scoring the same
  cohort (``recistry rescore``'s work), with the time of every part;
* cdisc: ``recistry cdisc TABLE --clinical C --out DIR`` (score, six datasets as .xpt and .csv,
  define.csv) as it runs by default (transport files written by one forked process per CPU)
  and with ``--workers 1``, vs ``recistry rescore TABLE --clinical C --format json`` of the same
  table in this process; wall seconds and CPU seconds of this process + its workers (the VM is
  shared: CPU time is the steadier figure, the wall time needs free cores).

The report cohort is sample_dicom/cohort replicated with renamed patients (seeded, no timing in
tests).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from recistry.cohort.report import write_report
from recistry.cohort.summary import cohort_summary
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions, PatientAssessment, Response
from recistry.tables import build_records, read_clinical, read_measurements

COHORT = Path(__file__).resolve().parents[1] / "sample_dicom" / "cohort"
T = TypeVar("T")
BY = ("who_grade", "line_of_therapy", "ileal=primary_site==ileum")


def synthetic_assessments(n: int, seed: int = 0) -> list[PatientAssessment]:
    """n hand-built assessments with realistic response mix, PFS/OS and covariates."""
    rng = random.Random(seed)
    origin = dt.date(2020, 1, 1)
    options = AssessmentOptions()
    codes = [Response.CR, Response.PR, Response.SD, Response.PD, Response.NE]
    weights = [0.03, 0.33, 0.52, 0.09, 0.03]
    out = []
    for i in range(n):
        best = rng.choices(codes, weights)[0]
        pfs = rng.randint(30, 1800)
        os_days = pfs + rng.randint(0, 900)
        out.append(
            PatientAssessment(
                patient_id=f"B{i:06d}",
                options=options,
                baseline_date=origin,
                origin_date=origin,
                baseline_sum_mm=None,
                baseline_lesions=(),
                measurable=rng.random() > 0.02,
                warnings=(),
                timepoints=(),
                best_overall_response=best,
                best_overall_response_unconfirmed=best,
                best_overall_response_confirmed=best,
                best_response_reasons=(),
                first_response_date=None,
                progression_date=None,
                pfs_days=pfs,
                pfs_event=rng.random() < 0.6,
                os_days=os_days,
                os_event=rng.random() < 0.3,
                covariates={
                    "who_grade": str(rng.choice((1, 2, 2, 3))),
                    "line_of_therapy": str(rng.choice((2, 3, 4))),
                    "primary_site": rng.choice(("ileum", "pancreas", "colorectal")),
                },
            )
        )
    return out


def bench_statistics(n: int) -> None:
    from lifelines import KaplanMeierFitter
    from scipy.stats import binomtest

    assessments = synthetic_assessments(n)
    cohort_summary(assessments[:100], by=BY)  # warm imports

    start = time.perf_counter()
    summary = cohort_summary(assessments, by=BY)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    pfs = [a.pfs_days / 30.4375 for a in assessments]
    KaplanMeierFitter().fit(pfs, [a.pfs_event for a in assessments])
    KaplanMeierFitter().fit(
        [(a.os_days or 0) / 30.4375 for a in assessments], [bool(a.os_event) for a in assessments]
    )
    k = sum(1 for a in assessments if a.best_overall_response in (Response.CR, Response.PR))
    binomtest(k, n).proportion_ci(method="exact")
    binomtest(k, n).proportion_ci(method="exact")
    baseline = time.perf_counter() - start
    print(
        f"statistics, {n} patients: {ours:.2f} s (target < 5 s); bare lifelines+scipy "
        f"baseline {baseline:.2f} s; ratio {ours / baseline:.1f}x; "
        f"median PFS {summary['pfs_median_months']:.2f} months"
    )


def _replicate(n: int, folder: Path) -> tuple[Path, Path]:
    """sample_dicom/cohort replicated to n patients (patient ids suffixed)."""
    with (COHORT / "measurements.csv").open() as fh:
        meas = list(csv.reader(fh))
    with (COHORT / "clinical.csv").open() as fh:
        clin = list(csv.reader(fh))
    copies = -(-n // (len(clin) - 1))
    m_path, c_path = folder / "measurements.csv", folder / "clinical.csv"
    with m_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(meas[0])
        for c in range(copies):
            writer.writerows([f"{r[0]}-{c:04d}", *r[1:]] for r in meas[1:])
    with c_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(clin[0])
        for c in range(copies):
            writer.writerows([f"{r[0]}-{c:04d}", *r[1:]] for r in clin[1:])
    return m_path, c_path


def bench_report(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        m_path, c_path = _replicate(n, folder)
        start = time.perf_counter()
        records = build_records(read_measurements(m_path), read_clinical(c_path))
        assessments = assess_patients(records, AssessmentOptions())
        scoring = time.perf_counter() - start

        start = time.perf_counter()
        output = write_report(assessments, folder / "report", by=BY)
        report = time.perf_counter() - start
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in output.timings.items())
        size_mb = output.html.stat().st_size / 1e6
        print(
            f"report, {len(assessments)} patients: {report:.2f} s (target < 60 s); "
            f"read+score baseline {scoring:.2f} s; ratio {report / scoring:.2f}x; "
            f"report.html {size_mb:.1f} MB"
        )
        print(f"  parts: {parts}")


def _run_cli(argv: list[str]) -> tuple[float, float, float]:
    """(wall, CPU of this process, CPU of the worker processes it started) seconds of one
    in-process ``recistry`` command, its output discarded."""
    import contextlib
    import io
    import resource

    from recistry.cli import main as cli

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = children()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = cli(argv)
    if status != 0:
        raise SystemExit(f"recistry {' '.join(argv)}: status {status}")
    return time.perf_counter() - wall, time.process_time() - cpu, children() - before


def _figures(wall: float, cpu: float, children: float) -> str:
    return f"{wall:.2f} s wall, {cpu:.2f} + {children:.2f} s CPU (this process + workers)"


def _cpu(fn: Callable[[], T]) -> tuple[T, float]:
    """(result, CPU seconds) of ``fn()``."""
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def _cdisc_parts(m_path: Path, c_path: Path, out: Path) -> dict[str, float]:
    """CPU seconds of each part of ``recistry cdisc``, done with the library calls the command
    makes (the engine's share is "score"; pyreadstat's is "xpt", the same six frames written
    again with the same call)."""
    import pyreadstat

    from recistry._gc import cyclic_gc_paused
    from recistry.cdisc import SPECS, StudyContext, build_datasets, write_datasets
    from recistry.cdisc.writer import _frame, _text_columns
    from recistry.scoring import load_records, score

    parts = {}
    with cyclic_gc_paused():  # as the command loads and scores
        records, parts["load"] = _cpu(lambda: load_records(m_path, c_path))
        assessments, parts["score (engine)"] = _cpu(lambda: score(records, AssessmentOptions()))
    datasets, parts["build"] = _cpu(lambda: build_datasets(records, assessments, StudyContext()))
    _, parts["write all"] = _cpu(lambda: write_datasets(datasets, out, workers=1))
    frames = [
        (spec, _frame(spec, datasets[spec.name], _text_columns(spec, datasets[spec.name])))
        for spec in SPECS
    ]

    def xpt() -> None:
        for spec, frame in frames:
            pyreadstat.write_xport(frame, str(out / f"{spec.name}.again.xpt"),
                                   table_name=spec.name, file_format_version=5)  # fmt: skip

    _, parts["of which xpt (pyreadstat)"] = _cpu(xpt)
    return parts


def bench_cdisc(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        m_path, c_path = _replicate(n, folder)
        source = [str(m_path), "--clinical", str(c_path)]
        default = _run_cli(["cdisc", *source, "--out", str(folder / "cdisc")])
        alone = _run_cli(["cdisc", *source, "--out", str(folder / "cdisc"), "--workers", "1"])
        base = _run_cli(["rescore", *source, "--format", "json"])
        print(
            f"cdisc, {n} patients (target < 10 s: {'met' if default[0] < 10 else 'NOT met'} in "
            f"wall time):\n"
            f"  default (transport files written by one process per CPU): {_figures(*default)}\n"
            f"  --workers 1: {_figures(*alone)}\n"
            f"  baseline rescore --format json of the same table: {_figures(*base)}; ratio "
            f"--workers 1 / baseline {alone[1] / base[1]:.2f}x CPU"
        )
        parts = _cdisc_parts(m_path, c_path, folder / "parts")
        total = sum(v for k, v in parts.items() if not k.startswith("of which"))
        print(
            "  CPU by part (library calls, same process, --workers 1): "
            + ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in parts.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients-stats", type=int, default=100_000)
    parser.add_argument("--patients-report", type=int, default=10_000)
    parser.add_argument("--patients-cdisc", type=int, default=10_000)
    parser.add_argument(
        "--only", choices=("statistics", "report", "cdisc"), help="run one benchmark only"
    )
    args = parser.parse_args()
    if args.only in (None, "statistics"):
        bench_statistics(args.patients_stats)
    if args.only in (None, "report"):
        bench_report(args.patients_report)
    if args.only in (None, "cdisc"):
        bench_cdisc(args.patients_cdisc)


if __name__ == "__main__":
    main()
