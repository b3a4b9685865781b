"""Benchmark: the study store and DICOM SR import at archive scale.

1. Re-scoring a store of N patients (default 10,000 x 6 scans x 5 lesions = 300,000 readings)
   against re-scoring the same data from the measurement table (target: store within 2x of the
   table; both read + group + score, in this process).
2. Importing M TID 1500 SR files (default 1,000: 250 patients x 4 scans) into a new store and
   re-scoring them: files per second, with 1 and 2 worker processes; the baseline is pydicom
   merely reading the same files (the floor of any SR import).

Usage: python bench/bench_store.py [--patients 10000] [--sr-files 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _gen

from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions, LesionState, Measurement, Role
from recistry.sr.archive import import_sr_archive
from recistry.sr.writer import ScanReading, build_report
from recistry.store import Store, load_records, save_measurements
from recistry.tables import build_records, read_measurements

OPTIONS = AssessmentOptions(confirm=True)


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_rescore(n: int, folder: Path) -> None:
    table = folder / "table.csv"
    _gen.target_table(n).to_csv(table, index=False)
    rows = len(read_measurements(table))
    t_table, from_table = timed(
        lambda: assess_patients(build_records(read_measurements(table)), OPTIONS)
    )
    db = folder / "store.db"
    t_import, _ = timed(lambda: _import(db, table))
    t_store, from_store = timed(lambda: assess_patients(load_records(db), OPTIONS))
    assert [a.best_overall_response for a in from_store] == [
        a.best_overall_response for a in from_table
    ]
    print(f"rescore {n:,} patients ({rows:,} readings)")
    print(f"  from the table (read CSV + group + score): {t_table:6.2f} s")
    print(f"  from the store (SQLite load + group + score): {t_store:6.2f} s")
    print(f"  ratio store / table: {t_store / t_table:.2f}x (target <= 2x)")
    rate = rows / t_import
    print(f"  import of the table into a new store: {t_import:.2f} s ({rate:,.0f} readings/s)")


def _import(db: Path, table: Path) -> None:
    with Store(db) as store:
        save_measurements(store, read_measurements(table), source=str(table), reader="bench")


def _ct_header(patient: str, study: str, series: str, sop: str, date: dt.date) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientID = patient
    ds.PatientName = f"Bench^{patient}"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = date.strftime("%Y%m%d")
    ds.StudyTime = "090000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    # Pixel description only (highdicom checks a source image has one); no pixel data needed.
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def _write_patient(task: tuple[int, str]) -> int:
    """Write one patient's 4 reports (5 targets, each on its own CT slice); returns files."""
    p, out_text = task
    sites = ("liver", "liver", "lung", "lung", "lymph node")
    pid = f"B{p:05d}"
    folder = Path(out_text) / pid
    folder.mkdir(parents=True, exist_ok=True)
    for tp in range(4):
        date = dt.date(2023, 1, 2) + dt.timedelta(days=56 * tp)
        study = generate_uid(entropy_srcs=[pid, str(tp), "study"])
        series = generate_uid(entropy_srcs=[pid, str(tp), "series"])
        images = {}
        rows = []
        for k, site in enumerate(sites):
            sop = generate_uid(entropy_srcs=[pid, str(tp), str(k)])
            images[sop] = _ct_header(pid, study, series, sop, date)
            size = Decimal(20 + 5 * k) * (Decimal(1) - Decimal(tp) / Decimal(10))
            nodal = site == "lymph node"
            rows.append(
                Measurement(
                    patient_id=pid,
                    date=date,
                    lesion_id=f"T{k + 1}",
                    role=Role.TARGET,
                    site=site,
                    nodal=nodal,
                    state=LesionState.MEASURED,
                    long_axis_mm=size * 2 if nodal else size,
                    short_axis_mm=size if nodal else None,
                    extra={"study_uid": study, "series_uid": series, "sop_instance_uid": sop},
                )
            )
        sr = build_report(ScanReading(tuple(rows), "bench_reader", tp + 1), images)
        sr.save_as(folder / f"{tp}.dcm", enforce_file_format=True)
    return 4


def write_sr_files(n_files: int, out: Path) -> int:
    """n_files // 4 patients x 4 scans, written in parallel (setup, not measured)."""
    with ProcessPoolExecutor() as pool:
        return sum(pool.map(_write_patient, [(p, str(out)) for p in range(n_files // 4)]))


def _read_fully(files: list[Path]) -> None:
    for f in files:
        for element in pydicom.dcmread(f).iterall():
            _ = element.value  # force pydicom's lazy conversion, as an SR reader must


def _import_sr(db: Path, out: Path, workers: int) -> None:
    with Store(db) as store:
        import_sr_archive(store, out, workers=workers)


def bench_sr(n_files: int, folder: Path) -> None:
    out = folder / "sr"
    t_write, _ = timed(lambda: write_sr_files(n_files, out))
    files = sorted(out.rglob("*.dcm"))
    t_read, _ = timed(lambda: _read_fully(files))
    print(f"import {len(files):,} TID 1500 SR files (written in {t_write:.1f} s)")
    rate = len(files) / t_read
    print(f"  baseline, pydicom reading every element: {t_read:6.2f} s ({rate:,.0f} files/s)")
    for workers in (1, 2):
        db = folder / f"sr{workers}.db"
        t_import, _ = timed(lambda db=db, workers=workers: _import_sr(db, out, workers))
        t_score, scored = timed(lambda db=db: assess_patients(load_records(db), OPTIONS))
        total = t_import + t_score
        print(
            f"  {workers} worker(s): import {t_import:6.2f} s "
            f"({len(files) / t_import:,.0f} files/s), "
            f"rescore {t_score:.2f} s ({len(scored)} patients); import + rescore "
            f"{len(files) / total:,.0f} files/s, {t_import / t_read:.1f}x the read-only baseline"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--sr-files", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_rescore(args.patients, Path(tmp))
        bench_sr(args.sr_files, Path(tmp))


if __name__ == "__main__":
    main()
