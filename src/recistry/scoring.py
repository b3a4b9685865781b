"""Loading patient records and scoring them, in this process, in workers or on Dask.

This is the library behind ``recistry rescore`` and ``recistry report``, and what a notebook or
the napari plugin imports: no argument parsing and no printing here.

* :func:`load_records` turns a measurement table, a study store or a folder of DICOM SR files
  (and an optional clinical table) into :class:`~recistry.recist.model.PatientRecord` values,
  validating on the way in.
* :func:`score` assesses the records by RECIST 1.1 (:func:`recistry.recist.assess_patient`), in
  input order, locally or in parallel.

The JSON and CSV contract of the results is :mod:`recistry.results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from recistry.errors import InputError
from recistry.recist.model import AssessmentOptions, PatientAssessment, PatientRecord

__all__ = ["load_records", "score"]


def load_records(
    path: str | Path, clinical_path: str | Path | None = None, reader: str | None = None
) -> list[PatientRecord]:
    """Patient records from ``path`` and an optional clinical table.

    Parameters
    ----------
    path
        A study store made by ``recistry import`` (SQLite: each patient's accepted read, and the
        clinical data stored with it unless ``clinical_path`` is given), a folder tree of TID 1500
        SR files, or a measurement table (CSV or Parquet, docs/tables.md).
    clinical_path
        A clinical table (CSV or Parquet), or ``None``.
    reader
        With a store: score this reader's read instead of each patient's accepted read.

    Returns
    -------
    list of PatientRecord
        One per patient, in order of first appearance.

    Raises
    ------
    InputError
        A file is missing or invalid (naming file, row and column), or ``reader`` is given
        without a store.
    """
    from recistry.store import is_store_file
    from recistry.tables import build_records, read_clinical, read_measurements

    path = Path(path)
    clinical = read_clinical(clinical_path) if clinical_path is not None else None
    if is_store_file(path):
        from recistry.store import Store, in_force_measurements
        from recistry.store import load_records as load_store

        if clinical is None:
            return load_store(path, reader=reader)
        with Store(path, readonly=True) as store, store.snapshot():
            return build_records(in_force_measurements(store, reader), clinical)
    if reader is not None:
        raise InputError("--reader needs a study store as PATH", path=str(path))
    if path.is_dir():
        from recistry.sr import read_sr_tree

        return build_records(read_sr_tree(path), clinical)
    return build_records(read_measurements(path), clinical)


def _score_chunk(
    task: tuple[Sequence[PatientRecord], AssessmentOptions],
) -> list[PatientAssessment]:
    """Score one chunk of patients (a module-level function: it runs in other processes)."""
    from recistry.recist.engine import assess_patient

    records, options = task
    return [assess_patient(record, options) for record in records]


def score(
    records: Sequence[PatientRecord],
    options: AssessmentOptions | None = None,
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> list[PatientAssessment]:
    """Assess every patient, in this process, in ``workers`` processes or on a Dask cluster.

    Patients are sent in chunks (one patient is the unit of scoring; chunks keep the overhead of
    sending work small). Results come back in input order, so the output is identical whichever
    way they ran. A patient whose rows are invalid stops the whole run with its error: cohort
    statistics must never be computed with a patient silently left out.

    Parameters
    ----------
    records
        The patients, e.g. from :func:`load_records`.
    options
        RECIST 1.1 defaults when omitted.
    workers
        Local processes; 1 scores in this process.
    dask_address
        Scheduler address of a Dask distributed cluster; overrides ``workers``.
    progress
        Show a progress bar on stderr (for 1,000 patients or more).

    Raises
    ------
    InputError
        The first invalid patient record, as :func:`recistry.recist.assess_patient` raises it.
    """
    from recistry.batch import run_tasks

    opts = options or AssessmentOptions()
    lanes = 1 if dask_address is None and workers <= 1 else max(workers, 2) * 4
    size = max(1, min(500, -(-len(records) // lanes)))
    chunks = [(records[i : i + size], opts) for i in range(0, len(records), size)]
    scored = run_tasks(
        _score_chunk,
        chunks,
        workers=workers,
        dask_address=dask_address,
        label="Scoring patients",
        progress=progress and len(records) >= 1000,
    )
    return [a for chunk in scored for a in chunk]
