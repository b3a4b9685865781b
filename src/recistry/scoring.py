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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recistry.errors import InputError
from recistry.recist.irecist import IRecistOptions, IRecistPatientAssessment
from recistry.recist.model import (
    AssessmentOptions,
    ClinicalRecord,
    Measurement,
    PatientAssessment,
    PatientRecord,
)
from recistry.tables import MeasurementTable

__all__ = [
    "TableChunks",
    "load_policy",
    "load_records",
    "options_with",
    "score",
    "score_chunks",
    "score_irecist",
    "table_chunks",
]


def options_with(
    policy: str | Path | None = None,
    *,
    confirm: bool | None = None,
    confirm_days: int | None = None,
    sd_min_days: int | None = None,
    strict: bool | None = None,
) -> AssessmentOptions:
    """The profile ``policy`` (see :func:`load_policy`) with the command-line shorthands
    (``--confirm``, ``--confirm-days``, ``--sd-min-days``, ``--strict``) applied over it.

    Raises
    ------
    InputError
        See :func:`load_policy`; a negative number of days (naming the option).
    """
    import dataclasses

    for name, days in (("confirm_days", confirm_days), ("sd_min_days", sd_min_days)):
        if days is not None and days < 0:
            raise InputError("must be 0 or more days", column=f"--{name.replace('_', '-')}")
    options = load_policy(policy)
    return dataclasses.replace(
        options,
        confirm=options.confirm if confirm is None else confirm,
        confirm_days=options.confirm_days if confirm_days is None else confirm_days,
        sd_min_days=options.sd_min_days if sd_min_days is None else sd_min_days,
        strict=options.strict if strict is None else strict,
    )


def load_policy(spec: str | Path | None = None) -> AssessmentOptions:
    """A policy profile: a built-in name (:data:`recistry.recist.policy.PROFILES`) or a TOML file.

    Parameters
    ----------
    spec
        ``recist1.1`` (the default when ``None``), ``recist1.1-confirmed`` …, or the path of a
        ``.toml`` file whose keys are described in :mod:`recistry.recist.policy`.

    Raises
    ------
    InputError
        An unknown profile, a missing or unreadable file, or an unknown key or bad value in it
        (naming the key and the file).
    """
    import tomllib

    from recistry.recist.policy import DEFAULT_PROFILE, PROFILES, policy_from_mapping, profile

    name = str(spec) if spec is not None else DEFAULT_PROFILE
    if name in PROFILES:
        return profile(name)
    path = Path(name)
    if path.suffix.lower() != ".toml" and not path.exists():
        return profile(name)  # not a file either: the error lists the built-in profiles
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("policy file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the policy file: {exc}", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not a valid TOML file: {exc}", path=str(path)) from exc
    return policy_from_mapping(values, str(path))


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
        A file is missing or invalid (naming file, row and column), ``reader`` is given
        without a store, or a lesion has no RECIST role (imported from OHIF or Slicer).
    """
    from recistry.store.readings import refuse_unassigned_roles

    path = Path(path)
    records = _load(path, clinical_path, reader)
    refuse_unassigned_roles((m for r in records for m in r.measurements), str(path))
    return records


def _load(path: Path, clinical_path: str | Path | None, reader: str | None) -> list[PatientRecord]:
    from recistry.store import is_store_file
    from recistry.tables import build_records, read_clinical, read_measurements

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


def _score_chunk_irecist(
    task: tuple[Sequence[PatientRecord], IRecistOptions],
) -> list[IRecistPatientAssessment]:
    from recistry.recist.irecist import assess_patient_irecist

    records, options = task
    return [assess_patient_irecist(record, options) for record in records]


def _chunks(
    records: Sequence[PatientRecord], workers: int, dask_address: str | None
) -> list[Sequence[PatientRecord]]:
    lanes = 1 if dask_address is None and workers <= 1 else max(workers, 2) * 4
    size = max(1, min(500, -(-len(records) // lanes)))
    return [records[i : i + size] for i in range(0, len(records), size)]


def score(
    records: Sequence[PatientRecord],
    options: AssessmentOptions | None = None,
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> list[PatientAssessment]:
    """Assess every patient by RECIST 1.1, in this process, in ``workers`` processes or on a
    Dask cluster.

    Patients are sent in chunks (one patient is the unit of scoring; chunks keep the overhead of
    sending work small). Results come back in input order, so the output is identical whichever
    way they ran. A patient whose rows are invalid stops the whole run with its error: cohort
    statistics must never be computed with a patient silently left out.

    Parameters
    ----------
    records
        The patients, e.g. from :func:`load_records`.
    options
        The policy profile (:func:`load_policy`); ``recist1.1`` when omitted.
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
    scored = run_tasks(
        _score_chunk,
        [(chunk, opts) for chunk in _chunks(records, workers, dask_address)],
        workers=workers,
        dask_address=dask_address,
        label="Scoring patients",
        progress=progress and len(records) >= 1000,
    )
    return [a for chunk in scored for a in chunk]


def score_irecist(
    records: Sequence[PatientRecord],
    options: IRecistOptions | None = None,
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> list[IRecistPatientAssessment]:
    """Assess every patient by iRECIST (:func:`recistry.recist.irecist.assess_patient_irecist`),
    as :func:`score` does by RECIST 1.1."""
    from recistry.batch import run_tasks
    from recistry.recist.irecist import IRecistOptions

    opts = options or IRecistOptions()
    scored = run_tasks(
        _score_chunk_irecist,
        [(chunk, opts) for chunk in _chunks(records, workers, dask_address)],
        workers=workers,
        dask_address=dask_address,
        label="Scoring patients (iRECIST)",
        progress=progress and len(records) >= 1000,
    )
    return [a for chunk in scored for a in chunk]


CHUNK_PATIENTS = 1000
"""Patients turned into row values and scored at a time by :func:`score_chunks`."""


@dataclass(frozen=True, slots=True)
class TableChunks:
    """A measurement table read and validated, whose patients are built
    :data:`CHUNK_PATIENTS` at a time (:meth:`records`), so that a large table never exists as
    one object per row all at once."""

    patient_ids: Sequence[str]
    """The patients, in order of first appearance."""
    table: MeasurementTable
    clinical: Mapping[str, ClinicalRecord]
    order: np.ndarray
    """Row numbers (0-based) grouped by patient, patients in order of first appearance."""
    starts: np.ndarray
    """``order[starts[p]:starts[p + 1]]`` are patient p's rows."""

    def records(self, size: int | None = None) -> Iterator[list[PatientRecord]]:
        """The patients as :class:`PatientRecord`, ``size`` (:data:`CHUNK_PATIENTS`) at a time,
        in order of appearance."""
        size = size or CHUNK_PATIENTS
        for first in range(0, len(self.patient_ids), size):
            last = min(first + size, len(self.patient_ids))
            rows = np.sort(self.order[self.starts[first] : self.starts[last]])
            grouped: dict[str, list[Measurement]] = {}
            for m in self.table.measurements(rows):
                grouped.setdefault(m.patient_id, []).append(m)
            ids = self.patient_ids[first:last]
            yield [PatientRecord(pid, tuple(grouped[pid]), self.clinical.get(pid)) for pid in ids]


def table_chunks(path: str | Path, clinical_path: str | Path | None = None) -> TableChunks:
    """Read and validate a measurement table (and clinical table) for :func:`score_chunks`.

    Raises
    ------
    InputError
        As :func:`load_records` for a table.
    """
    from recistry.tables import check_clinical, read_clinical, read_measurement_table

    clinical = read_clinical(clinical_path) if clinical_path is not None else {}
    table = read_measurement_table(path)
    codes, patient_ids = table.patients()
    check_clinical(set(patient_ids), clinical)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=len(patient_ids)))))
    return TableChunks(patient_ids, table, clinical, order, starts)


def score_chunks(
    chunks: Iterable[Sequence[PatientRecord]],
    options: AssessmentOptions | None = None,
    *,
    irecist: IRecistOptions | None = None,
) -> Iterator[list[PatientAssessment] | list[IRecistPatientAssessment]]:
    """Score chunks of patients in this process as they come (by iRECIST when ``irecist`` is
    given), for :func:`recistry.results.stream_outputs`.

    Raises
    ------
    InputError
        The first invalid patient record.
    """
    import gc

    from recistry.recist.engine import assess_patient
    from recistry.recist.irecist import assess_patient_irecist

    opts = options or AssessmentOptions()
    # Reading rows and scoring make many small objects and no reference cycles: the cyclic
    # collector would only walk them again and again.
    gc.disable()
    try:
        for chunk in chunks:
            if irecist is not None:
                yield [assess_patient_irecist(record, irecist) for record in chunk]
            else:
                yield [assess_patient(record, opts) for record in chunk]
    finally:
        gc.enable()
