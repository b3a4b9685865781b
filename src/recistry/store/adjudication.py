"""Independent reads in one store, and the adjudication that chooses between them.

Two or more readers read the same patients into one store, each under their own name; a reader
only ever sees their own measurements (:func:`~recistry.store.in_force_measurements` with
``reader=``, which the napari annotator uses). :func:`load_reader_reads` scores every reader's
read of every patient for ``recistry readers``; :func:`adjudicate` records an adjudicator's
choice of one read as a new acceptance with who, when and why (append-only, like everything in
the store); :func:`adjudications_in_force` says which patients' read in use was so chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recistry._gc import cyclic_gc_paused
from recistry.errors import InputError, StoreError
from recistry.recist.model import (
    FRAGMENT_KEY,
    AssessmentOptions,
    PatientAssessment,
    PatientRecord,
)
from recistry.store.database import Store, utc_now
from recistry.store.readings import clinical_in_force, readers_of_patients

if TYPE_CHECKING:  # imported lazily at run time: the store opens without pandas
    import pandas as pd

    from recistry.cohort.readers import ReaderRead

__all__ = [
    "Adjudication",
    "adjudicate",
    "adjudicated_patients",
    "adjudication_history",
    "adjudication_note",
    "adjudications_in_force",
    "load_reader_reads",
    "readers_by_patient",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Adjudication:
    """An adjudicator's acceptance of one reader's read of one patient.

    ``recorded_at`` is UTC ISO 8601; ``recorded_by`` the account that ran the command.
    """

    patient_id: str
    accepted_reader: str
    adjudicator: str
    reason: str
    recorded_at: str
    recorded_by: str


def readers_by_patient(store: Store) -> dict[str, tuple[str, ...]]:
    """The readers who have measurements of each patient (names sorted)."""
    readers = readers_of_patients(store.conn)
    return {p: tuple(sorted(names)) for p, names in sorted(readers.items())}


def adjudicate(
    store: Store, patient_id: str, reader: str, *, reason: str, adjudicator: str
) -> Adjudication:
    """Accept ``reader``'s read of ``patient_id`` as the adjudicated read, in one transaction.

    Raises
    ------
    InputError
        ``reason`` or ``adjudicator`` is empty, or the adjudicator is one of the patient's
        readers (an adjudicator is a third reviewer).
    StoreError
        The patient is unknown, has a single read, or ``reader`` did not read it.
    """
    reason, adjudicator = reason.strip(), adjudicator.strip()
    if not reason:
        raise InputError("give the reason for the choice (--reason TEXT)", column="--reason")
    if not adjudicator:
        raise InputError("name the adjudicator (--adjudicator NAME)", column="--adjudicator")
    with store.transaction() as conn:
        readers = readers_by_patient(store).get(patient_id)
        if readers is None:
            raise StoreError(f"{store.path}: no patient '{patient_id}' in the store")
        if reader not in readers:
            raise StoreError(
                f"{store.path}: reader '{reader}' did not read patient {patient_id} "
                f"(its readers: {', '.join(readers)})"
            )
        if len(readers) < 2:
            raise StoreError(
                f"{store.path}: patient {patient_id} has one read only ({reader}); "
                "there is nothing to adjudicate"
            )
        if adjudicator in readers:
            raise InputError(
                f"'{adjudicator}' read patient {patient_id}: the adjudicator must be another "
                "reviewer",
                column="--adjudicator",
            )
        import_id = store.new_import("accept", f"adjudicate {patient_id}: accept {reader}")
        cur = conn.execute(
            "INSERT INTO acceptances (patient_pk, reader_pk, import_id) "
            "SELECT p.patient_pk, r.reader_pk, ? FROM patients p, readers r "
            "WHERE p.patient_id = ? AND r.name = ?",
            (import_id, patient_id, reader),
        )
        recorded_at = utc_now()
        conn.execute(
            "INSERT INTO adjudications (acceptance_pk, adjudicator, reason, recorded_at) "
            "VALUES (?, ?, ?, ?)",
            (cur.lastrowid, adjudicator, reason, recorded_at),
        )
        author = conn.execute(
            "SELECT author FROM imports WHERE import_id = ?", (import_id,)
        ).fetchone()[0]
    logger.info("patient %s: %s accepted %s's read (%s)", patient_id, adjudicator, reader, reason)
    return Adjudication(patient_id, reader, adjudicator, reason, recorded_at, author)


_ADJUDICATIONS_SQL = """
SELECT p.patient_id, r.name, j.adjudicator, j.reason, j.recorded_at, i.author, a.acceptance_pk
FROM adjudications j
JOIN acceptances a USING (acceptance_pk)
JOIN patients p ON p.patient_pk = a.patient_pk
JOIN readers r ON r.reader_pk = a.reader_pk
JOIN imports i ON i.import_id = a.import_id
"""


def adjudication_history(store: Store) -> list[Adjudication]:
    """Every adjudication ever recorded, oldest first."""
    rows = store.conn.execute(_ADJUDICATIONS_SQL + " ORDER BY j.adjudication_pk").fetchall()
    return [Adjudication(*row[:6]) for row in rows]


def adjudications_in_force(store: Store) -> dict[str, Adjudication]:
    """Patients whose read in use was chosen by an adjudicator: their latest acceptance is an
    adjudication (a later plain acceptance, e.g. ``import --accept-reader``, supersedes it)."""
    rows = store.conn.execute(
        _ADJUDICATIONS_SQL + " WHERE a.acceptance_pk = (SELECT MAX(b.acceptance_pk) "
        "FROM acceptances b WHERE b.patient_pk = a.patient_pk) ORDER BY p.patient_id"
    ).fetchall()
    return {row[0]: Adjudication(*row[:6]) for row in rows}


def adjudicated_patients(path: str | Path, reader: str | None = None) -> frozenset[str]:
    """The patients of ``path`` whose read in use is adjudicated: none for a table, a folder of
    SR files or a chosen ``reader`` (then that reader's read is used, not the adjudicated one)."""
    from recistry.store.database import is_store_file

    if reader is not None or not is_store_file(path):
        return frozenset()
    with Store(path, create=False) as store:
        return frozenset(adjudications_in_force(store))


def adjudication_note(adjudicated: frozenset[str] | set[str], patients: int) -> str | None:
    """``"adjudicated: 3 of 25 patients"``, what every output says when adjudicated reads are
    in use; ``None`` when none is."""
    return f"adjudicated: {len(adjudicated)} of {patients} patients" if adjudicated else None


# One reader's measurements in force, every cell as the text a table file gives ('' when empty),
# so the rows validate as a table. The latest revision is found per row through the unique index
# (lesion, reader, date, revision): cheaper than grouping every reader's rows first.
_READ_SQL = """
SELECT p.patient_id, m.scan_date, l.lesion_id, m.role, m.site, CAST(m.nodal AS TEXT),
       COALESCE(m.long_axis_mm, ''), COALESCE(m.short_axis_mm, ''), m.state,
       COALESCE(m.slice_thickness_mm, ''), m.fragment
FROM measurements AS m
JOIN lesions AS l ON l.lesion_pk = m.lesion_pk
JOIN patients AS p ON p.patient_pk = l.patient_pk
WHERE m.reader_pk = :reader AND m.revision = (
    SELECT MAX(n.revision) FROM measurements AS n
    WHERE n.lesion_pk = m.lesion_pk AND n.reader_pk = m.reader_pk AND n.scan_date = m.scan_date)
ORDER BY p.patient_id, m.scan_date, l.lesion_id, m.measurement_pk
"""
_READ_COLUMNS = (
    "patient_id",
    "date",
    "lesion_id",
    "role",
    "site",
    "nodal",
    "long_axis_mm",
    "short_axis_mm",
    "state",
    "slice_thickness_mm",
    FRAGMENT_KEY,
)


def load_reader_reads(
    store_path: str | Path,
    options: AssessmentOptions | None = None,
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> tuple[list[ReaderRead], dict[str, str]]:
    """Score every reader's read of every patient in a store.

    Each reader's measurements in force are validated as a measurement table and scored by the
    RECIST 1.1 engine with the clinical data stored (the same results as ``recistry rescore
    --reader NAME``). Each reader's read is one task, loaded and scored in this process or, with
    ``workers`` > 1, in up to that many processes (the reads are independent: two readers on two
    cores take the time of one); with ``dask_address`` the reads are loaded here and the
    patients scored on the Dask cluster (:func:`recistry.scoring.score`).

    Returns
    -------
    reads, adjudicated
        One :class:`~recistry.cohort.readers.ReaderRead` per patient and reader (readers in
        name order, patients in identifier order), and patient → accepted reader for the
        patients whose read in use is adjudicated.
    """
    from recistry.batch import run_tasks

    opts = options or AssessmentOptions()
    with Store(store_path, create=False) as store:
        readers = store.conn.execute(
            "SELECT name, reader_pk FROM readers "
            "WHERE reader_pk IN (SELECT reader_pk FROM measurements) ORDER BY name"
        ).fetchall()
        adjudicated = {p: a.accepted_reader for p, a in adjudications_in_force(store).items()}
    if dask_address is not None:
        with cyclic_gc_paused():
            return _scored_on_dask(store_path, readers, opts, dask_address, progress), adjudicated
    tasks = [(str(store_path), name, pk, opts) for name, pk in readers]
    done = run_tasks(_reader_read, tasks, workers=workers, label="Scoring reads", progress=progress)
    return [read for reads in done for read in reads], adjudicated


def _reader_read(task: tuple[str, str, int, AssessmentOptions]) -> list[ReaderRead]:
    """One reader's read of every patient, loaded and scored in this process (a module-level
    function: it runs in other processes)."""
    from recistry.recist.engine import assess_patient

    store_path, reader, reader_pk, options = task
    with cyclic_gc_paused():
        table, records = _read_records(store_path, reader, reader_pk)
        return _reads(reader, table, [assess_patient(r, options) for r in records])


def _scored_on_dask(
    store_path: str | Path,
    readers: Sequence[tuple[str, int]],
    options: AssessmentOptions,
    dask_address: str,
    progress: bool,
) -> list[ReaderRead]:
    from recistry.scoring import score

    parts = [(name, *_read_records(store_path, name, pk)) for name, pk in readers]
    scored = iter(
        score(
            [r for _, _, records in parts for r in records],
            options,
            dask_address=dask_address,
            progress=progress,
        )
    )
    return [
        read
        for reader, table, records in parts
        for read in _reads(reader, table, [next(scored) for _ in records])
    ]


def _read_records(
    store_path: str | Path, reader: str, reader_pk: int
) -> tuple[pd.DataFrame, list[PatientRecord]]:
    """One reader's measurements in force as a validated table's frame, and its patients'
    records with the clinical data stored."""
    import pandas

    from recistry.tables import build_records, measurement_table_from_frame

    with Store(store_path, create=False) as store:
        rows = store.conn.execute(_READ_SQL, {"reader": reader_pk}).fetchall()
        clinical = clinical_in_force(store)
    table = pandas.DataFrame(rows, columns=list(_READ_COLUMNS), dtype=object)
    measurements = measurement_table_from_frame(table, f"{store_path} ({reader})").measurements()
    # A reader's read covers some of the cohort: the others' clinical rows are not an error.
    ids = {m.patient_id for m in measurements}
    return table, build_records(measurements, {p: c for p, c in clinical.items() if p in ids})


def _reads(
    reader: str, frame: pd.DataFrame, assessments: Sequence[PatientAssessment]
) -> list[ReaderRead]:
    """One reader's reads: the engine's calls and the targets chosen at its baseline."""
    from recistry.cohort.readers import ReaderRead

    baseline = {a.patient_id: a.baseline_date.isoformat() for a in assessments}
    chosen: dict[str, set[str]] = {}
    for patient_id, date, lesion_id, role in zip(
        frame["patient_id"].tolist(),
        frame["date"].tolist(),
        frame["lesion_id"].tolist(),
        frame["role"].tolist(),
        strict=True,
    ):
        if role == "target" and date == baseline.get(patient_id):
            chosen.setdefault(patient_id, set()).add(lesion_id)
    return [
        ReaderRead(
            a.patient_id,
            reader,
            a.best_overall_response,
            a.progression_date,
            a.baseline_date,
            frozenset(chosen.get(a.patient_id, ())),
            None if a.baseline_sum_mm is None else float(a.baseline_sum_mm),
        )
        for a in assessments
    ]
