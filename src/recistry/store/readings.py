"""Writing measurements and clinical data into a store, and reading back what is in force.

A *reading* is one reader's measurement of one lesion at one scan date. The store keeps every
revision of it: writing a value that differs from the one in force appends revision n + 1 (which
names the revision it supersedes); writing an identical value is a no-op, so re-importing a table
is idempotent. Nothing is updated or deleted (the schema's triggers refuse it).

The values travel as :class:`~recistry.recist.model.Measurement`. Besides its typed fields, the
store gives these ``extra`` keys their own validated columns (all optional):

==========================  ===============================================================
``reader``                  who measured (a reader's name; see :data:`UNSPECIFIED_READER`)
``measured_at``             when the reader measured (ISO 8601 text)
``tool``                    what measured (e.g. ``napari-recistry 0.1``, ``table``)
``tracking_uid``            DICOM UID tracking the lesion across time points (TID 4108)
``study_uid``               Study Instance UID of the image measured on
``series_uid``              Series Instance UID of the image measured on
``sop_instance_uid``        SOP Instance UID of the image (slice) measured on
``frame_of_reference_uid``  frame of reference of the axis endpoints
``long_axis_start_mm`` …    ``long_axis_start_mm``, ``long_axis_end_mm``, ``short_axis_start_mm``,
                            ``short_axis_end_mm``: an axis endpoint as ``"x y z"`` in patient
                            coordinates (LPS, mm)
``suv_max``, ``suv_peak``   lesion SUVbw maximum and peak (g/ml)
``liver_suv_mean``          liver reference SUVbw mean (g/ml) of that scan
``spleen_suv_mean``         spleen reference SUVbw mean (g/ml) of that scan
``krenning``                Krenning uptake grade 0–4
``slice_thickness_mm``      also a field of the measurement; the extra copy is not kept twice
``fragment``                the name of one fragment of a split target (several rows of one
                            lesion, reader and date, each named, make one revision)
==========================  ===============================================================

Other ``extra`` keys are kept verbatim as JSON and returned unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydicom.uid import UID, generate_uid

from recistry.errors import InputError, StoreError
from recistry.recist.model import (
    FRAGMENT_KEY,
    ClinicalRecord,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    Source,
    repeated_row,
)
from recistry.store.database import Store

logger = logging.getLogger(__name__)

UNSPECIFIED_READER = "unspecified"
"""Reader name given to measurements that name no reader (and no ``--reader`` was given)."""

ROLE_UNASSIGNED_KEY = "role_unassigned"
"""``extra`` key (value ``"1"``) of a lesion imported without a RECIST role (OHIF and Slicer
reports have none). Its ``role`` is then a placeholder: scoring refuses such lesions
(:func:`refuse_unassigned_roles`) until the reader assigns a role (a new revision)."""

WITHDRAWN_KEY = "withdrawn"
"""``extra`` key whose value ``"true"`` marks a revision that withdraws a reading (a lesion the
reader deleted or cleared): the store keeps it as a new revision, and nothing in force is read
from it (:func:`in_force_measurements` skips it)."""

UID_KEYS = ("study_uid", "series_uid", "sop_instance_uid", "frame_of_reference_uid")
DECIMAL_KEYS = ("suv_max", "suv_peak", "liver_suv_mean", "spleen_suv_mean")
TEXT_KEYS = ("tool", "measured_at")
ENDPOINT_KEYS = {
    "long": ("long_axis_start_mm", "long_axis_end_mm"),
    "short": ("short_axis_start_mm", "short_axis_end_mm"),
}
_TYPED_KEYS = frozenset(
    (
        "reader",
        "tracking_uid",
        "krenning",
        FRAGMENT_KEY,
        "slice_thickness_mm",
        *UID_KEYS,
        *DECIMAL_KEYS,
        *TEXT_KEYS,
        *(k for pair in ENDPOINT_KEYS.values() for k in pair),
    )
)

# The columns that make up a revision's content: a write equal to the one in force on all of
# them (and on the endpoints) is not a new revision.
_CONTENT_COLUMNS = (
    "role",
    "site",
    "nodal",
    "state",
    "long_axis_mm",
    "short_axis_mm",
    "slice_thickness_mm",
    *UID_KEYS,
    *DECIMAL_KEYS,
    "krenning",
    *TEXT_KEYS,
    "extra_json",
)

Endpoints = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What one write did to the store.

    ``import_id`` is ``None`` when nothing was written (every reading was already in force: a
    re-import adds no ``imports`` row). ``new_revisions`` counts readings appended (first
    revisions and edits); ``unchanged`` counts readings identical to the revision in force.
    """

    import_id: int | None
    source: str
    readings: int
    new_revisions: int
    unchanged: int
    patients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Row:
    """A measurement validated into the store's columns."""

    patient_id: str
    lesion_id: str
    reader: str
    scan_date: str
    tracking_uid: str | None
    content: tuple[Any, ...]
    endpoints: tuple[tuple[str, Endpoints], ...]
    source_path: str | None
    source_row: int | None
    fragment: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The reading this row belongs to: one revision holds all its fragments."""
        return (self.patient_id, self.lesion_id, self.reader, self.scan_date)


def lesion_tracking_uid(patient_id: str, lesion_id: str) -> str:
    """The tracking UID recistry gives a lesion that arrives without one.

    Derived from the patient and lesion IDs so that re-creating a store gives the same UIDs (and
    byte-identical SR exports); the hash does not reveal its inputs.
    """
    return str(generate_uid(entropy_srcs=["recistry-lesion", patient_id, lesion_id]))


def _fail(m: Measurement, key: str, message: str) -> InputError:
    return InputError(message, path=m.source.path, row=m.source.row, column=key)


def _decimal_text(m: Measurement, key: str, text: str) -> str:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _fail(m, key, f"'{text}' is not a number") from None
    if not value.is_finite() or value < 0:
        raise _fail(m, key, f"'{text}' must be a finite number ≥ 0")
    return str(value)


def _uid(m: Measurement, key: str, text: str) -> str:
    uid = text.strip()
    if not UID(uid).is_valid:
        raise _fail(m, key, f"'{text}' is not a valid DICOM UID (digits and dots, ≤ 64 chars)")
    return uid


def parse_point_mm(text: str) -> tuple[float, float, float]:
    """Parse ``"x y z"`` (patient LPS coordinates in mm) into three finite floats."""
    parts = text.replace(",", " ").split()
    if len(parts) != 3:
        raise ValueError(f"'{text}' is not three coordinates 'x y z' in mm")
    values = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"'{text}' has a non-finite coordinate")
    return values[0], values[1], values[2]


def format_point_mm(point: Sequence[float]) -> str:
    """Format a patient point as ``"x y z"`` (shortest text that reads back as the same floats)."""
    return " ".join(repr(float(v)) for v in point)


def _validate(m: Measurement, default_reader: str | None) -> _Row:
    extra = dict(m.extra)
    reader = (extra.get("reader") or "").strip() or default_reader or UNSPECIFIED_READER
    values: dict[str, Any] = {}
    for key in UID_KEYS:
        text = (extra.get(key) or "").strip()
        values[key] = _uid(m, key, text) if text else None
    for key in DECIMAL_KEYS:
        text = (extra.get(key) or "").strip()
        values[key] = _decimal_text(m, key, text) if text else None
    for key in TEXT_KEYS:
        values[key] = (extra.get(key) or "").strip() or None
    krenning_text = (extra.get("krenning") or "").strip()
    if krenning_text:
        if krenning_text not in {"0", "1", "2", "3", "4"}:
            raise _fail(m, "krenning", f"'{krenning_text}' is not a Krenning grade 0-4")
        values["krenning"] = int(krenning_text)
    else:
        values["krenning"] = None
    tracking_text = (extra.get("tracking_uid") or "").strip()
    tracking_uid = _uid(m, "tracking_uid", tracking_text) if tracking_text else None
    endpoints: list[tuple[str, Endpoints]] = []
    for axis, (start_key, end_key) in ENDPOINT_KEYS.items():
        start, end = (extra.get(start_key) or "").strip(), (extra.get(end_key) or "").strip()
        if not start and not end:
            continue
        if not (start and end):
            missing = end_key if start else start_key
            raise _fail(m, missing, f"the {axis} axis needs both endpoints")
        try:
            endpoints.append((axis, (*parse_point_mm(start), *parse_point_mm(end))))
        except ValueError as exc:
            raise _fail(m, start_key, str(exc)) from None
    if endpoints and values["frame_of_reference_uid"] is None:
        raise _fail(
            m, "frame_of_reference_uid", "axis endpoints in mm need their frame of reference UID"
        )
    rest = {k: v for k, v in sorted(extra.items()) if k not in _TYPED_KEYS}
    content = (
        m.role.value,
        m.site,
        int(m.nodal),
        m.state.value,
        None if m.long_axis_mm is None else str(m.long_axis_mm),
        None if m.short_axis_mm is None else str(m.short_axis_mm),
        None if m.slice_thickness_mm is None else str(m.slice_thickness_mm),
        *(values[k] for k in UID_KEYS),
        *(values[k] for k in DECIMAL_KEYS),
        values["krenning"],
        *(values[k] for k in TEXT_KEYS),
        json.dumps(rest, sort_keys=True, ensure_ascii=False),
    )
    return _Row(
        patient_id=m.patient_id,
        lesion_id=m.lesion_id,
        reader=reader,
        scan_date=m.date.isoformat(),
        tracking_uid=tracking_uid,
        content=content,
        endpoints=tuple(endpoints),
        source_path=m.source.path,
        source_row=m.source.row,
        fragment=(extra.get(FRAGMENT_KEY) or "").strip(),
    )


def _refuse_as_rescore(measurements: Sequence[Measurement], exc: InputError) -> None:
    """Raise the engine's first error for the patient of ``exc`` (a repeated row), if it has one:
    ``rescore`` of the same table checks the rows in that order and names that error first."""
    from recistry.recist import validate_patient

    if exc.row is None:
        return
    patient = next((m.patient_id for m in measurements if m.source.row == exc.row), None)
    mine = tuple(m for m in measurements if m.patient_id == patient)
    if mine:
        validate_patient(PatientRecord(mine[0].patient_id, mine))


def _readings(rows: Sequence[_Row]) -> list[list[_Row]]:
    """Rows grouped by reading, in input order; a repeated row must be a named fragment
    (:func:`~recistry.recist.model.repeated_row`, the engine's rule)."""
    readings: dict[tuple[str, str, str, str], list[tuple[int, _Row]]] = {}
    for position, row in enumerate(rows):
        readings.setdefault(row.key, []).append((position, row))
    repeats = []
    for group in readings.values():
        repeat = repeated_row([r.fragment for _, r in group])
        if repeat is not None:
            repeats.append((group[repeat[0]], group[repeat[1]][1]))
    if repeats:
        # The first repeat in input order, as a reader of the file meets it.
        (_, row), first = min(repeats, key=lambda pair: pair[0][0])
        raise InputError(
            f"lesion {row.lesion_id} of patient {row.patient_id} on {row.scan_date} "
            f"by reader {row.reader} is given twice (first at row {first.source_row}); "
            "each fragment of a split target needs its own name in a 'fragment' column",
            path=row.source_path,
            row=row.source_row,
            column=FRAGMENT_KEY,
        )
    return [[row for _, row in group] for group in readings.values()]


class _Keys:
    """Get-or-create of patients, readers and lesions, cached for one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.patients: dict[str, int] = {}
        self.readers: dict[str, int] = {}
        self.lesions: dict[tuple[int, str], int] = {}

    def patient(self, patient_id: str) -> int:
        if patient_id not in self.patients:
            self.conn.execute(
                "INSERT OR IGNORE INTO patients (patient_id) VALUES (?)", (patient_id,)
            )
            row = self.conn.execute(
                "SELECT patient_pk FROM patients WHERE patient_id = ?", (patient_id,)
            ).fetchone()
            self.patients[patient_id] = row[0]
        return self.patients[patient_id]

    def reader(self, name: str) -> int:
        if name not in self.readers:
            self.conn.execute("INSERT OR IGNORE INTO readers (name) VALUES (?)", (name,))
            row = self.conn.execute(
                "SELECT reader_pk FROM readers WHERE name = ?", (name,)
            ).fetchone()
            self.readers[name] = row[0]
        return self.readers[name]

    def lesion(self, patient_pk: int, row: _Row) -> int:
        key = (patient_pk, row.lesion_id)
        if key not in self.lesions:
            found = self.conn.execute(
                "SELECT lesion_pk, tracking_uid FROM lesions "
                "WHERE patient_pk = ? AND lesion_id = ?",
                key,
            ).fetchone()
            if found is None:
                uid = row.tracking_uid or lesion_tracking_uid(row.patient_id, row.lesion_id)
                cur = self.conn.execute(
                    "INSERT INTO lesions (patient_pk, lesion_id, tracking_uid) VALUES (?, ?, ?)",
                    (patient_pk, row.lesion_id, uid),
                )
                self.lesions[key] = int(cur.lastrowid or 0)
            else:
                if row.tracking_uid and row.tracking_uid != found[1]:
                    logger.warning(
                        "lesion %s: tracking UID %s differs from the stored %s; keeping the stored",
                        row.lesion_id,
                        row.tracking_uid,
                        found[1],
                    )
                self.lesions[key] = found[0]
        return self.lesions[key]


def save_measurements(
    store: Store,
    measurements: Iterable[Measurement],
    *,
    source: str,
    kind: str = "table",
    reader: str | None = None,
    accept: bool = False,
    validate: bool = True,
) -> ImportSummary:
    """Append measurements to the store as one transaction.

    Parameters
    ----------
    store
        The open store.
    measurements
        The readings; sizes in mm, endpoints in patient LPS mm (see the module docstring).
    source
        What the readings came from (a file or folder path), recorded with the import.
    kind
        ``'table'`` or ``'sr'``.
    reader
        Reader name for measurements whose ``extra`` names none.
    accept
        Mark the reads written here as the accepted read of their patients.
    validate
        Check every read this write changes as ``recistry rescore`` would (see
        :func:`validate_reads`); a caller writing several parts in one transaction turns it off
        and validates once at the end.

    Returns
    -------
    ImportSummary

    Raises
    ------
    InputError
        A value is invalid (the message names the file, row and column), one reading appears
        twice in the input, or a changed read is one the engine refuses (a target first seen
        after baseline, a new lesion at baseline, a scan after death …); nothing is written.
    """
    measurements = list(measurements)
    rows = [_validate(m, reader) for m in measurements]
    try:
        readings = _readings(rows)
    except InputError as exc:
        _refuse_as_rescore(measurements, exc)
        raise
    with store.transaction() as conn:
        lazy = _LazyImport(store, kind, source)
        keys = _Keys(conn)
        new = unchanged = 0
        for group in readings:
            first = group[0]
            patient_pk = keys.patient(first.patient_id)
            lesion_pk = keys.lesion(patient_pk, first)
            reader_pk = keys.reader(first.reader)
            if _append_revision(conn, lazy, lesion_pk, reader_pk, group):
                new += len(group)
            else:
                unchanged += len(group)
        if accept:
            pairs = sorted({(keys.patient(r.patient_id), keys.reader(r.reader)) for r in rows})
            patients_readers = defaultdict(set)
            for patient_pk, reader_pk in pairs:
                patients_readers[patient_pk].add(reader_pk)
            for patient_pk, reader_pks in patients_readers.items():
                if len(reader_pks) > 1:
                    raise InputError(
                        "--accept needs one reader per patient, but the input has several; "
                        "accept a reader with 'recistry import --accept-reader NAME'",
                        path=source,
                    )
                reader_pk = next(iter(reader_pks))
                if _accepted_reader(conn, patient_pk) != reader_pk:
                    conn.execute(
                        "INSERT INTO acceptances (patient_pk, reader_pk, import_id) "
                        "VALUES (?, ?, ?)",
                        (patient_pk, reader_pk, lazy.id()),
                    )
        if validate and new:
            validate_reads(store, {(r.patient_id, r.reader) for r in rows})
    import_id = lazy.import_id
    patients = tuple(sorted({r.patient_id for r in rows}))
    logger.info(
        "import %d from %s: %d readings, %d new revisions, %d unchanged, %d patients",
        import_id,
        source,
        len(rows),
        new,
        unchanged,
        len(patients),
    )
    return ImportSummary(import_id, source, len(rows), new, unchanged, patients)


class _LazyImport:
    """The ``imports`` row of a write, created by the first thing actually written."""

    def __init__(self, store: Store, kind: str, source: str) -> None:
        self.store, self.kind, self.source = store, kind, source
        self.import_id: int | None = None

    def id(self) -> int:
        if self.import_id is None:
            self.import_id = self.store.new_import(self.kind, self.source)
        return self.import_id


def _accepted_reader(conn: sqlite3.Connection, patient_pk: int) -> int | None:
    found = conn.execute(
        "SELECT reader_pk FROM acceptances WHERE patient_pk = ? "
        "ORDER BY acceptance_pk DESC LIMIT 1",
        (patient_pk,),
    ).fetchone()
    return None if found is None else int(found[0])


def validate_reads(store: Store, reads: Iterable[tuple[str, str]]) -> None:
    """Check reads in force as ``recistry rescore`` will, with the engine's own validation.

    This is the one validation of a reading: the import of a table or of SR files, the napari
    plugin's save and a clinical import all call it (inside their transaction, so a refusal
    writes nothing), and it is :func:`recistry.recist.validate_patient`, the check rescore makes.

    Parameters
    ----------
    store
        The store, inside the write's transaction (what is checked includes the write).
    reads
        ``(patient_id, reader)`` pairs to check, each with the patient's clinical record.

    Raises
    ------
    InputError
        The engine's error for the first read it refuses, naming the file and row the offending
        value came from.
    """
    from recistry.recist import validate_patient

    wanted = set(reads)
    if not wanted:
        return
    patients = {p for p, _ in wanted}
    grouped: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in _in_force_of(store, patients):
        key = (m.patient_id, m.extra["reader"])
        if key in wanted and m.extra.get(WITHDRAWN_KEY) != "true":
            grouped[key].append(m)
    clinical = clinical_in_force(store)
    for (patient_id, _reader), rows in sorted(grouped.items()):
        if any(m.extra.get(ROLE_UNASSIGNED_KEY) for m in rows):
            # Imported on purpose without a RECIST role (OHIF, Slicer): scoring refuses the read
            # until the reader assigns roles, and that edit is validated then.
            continue
        validate_patient(PatientRecord(patient_id, tuple(rows), clinical.get(patient_id)))


def _in_force_of(store: Store, patient_ids: set[str]) -> list[Measurement]:
    """Every reader's measurements in force for ``patient_ids``."""
    endpoints: dict[int, dict[str, Endpoints]] = defaultdict(dict)
    for pk, axis, *points in store.conn.execute(
        "SELECT e.measurement_pk, e.axis, e.x1, e.y1, e.z1, e.x2, e.y2, e.z2 "
        "FROM axis_endpoints e JOIN measurements m USING (measurement_pk) "
        "JOIN lesions l USING (lesion_pk) JOIN patients p USING (patient_pk) "
        "WHERE p.patient_id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(patient_ids)),),
    ):
        endpoints[pk][axis] = tuple(points)
    decode = _Decoder(endpoints)
    sql = _IN_FORCE_SQL.replace(
        "ORDER BY", "WHERE p.patient_id IN (SELECT value FROM json_each(?))\nORDER BY"
    )
    return [decode(row) for row in store.conn.execute(sql, (json.dumps(sorted(patient_ids)),))]


def _append_revision(
    conn: sqlite3.Connection, lazy: _LazyImport, lesion_pk: int, reader_pk: int, group: list[_Row]
) -> bool:
    """Append ``group`` (a reading: one row, or the named fragments of a split target) as the
    next revision, unless it equals the revision in force. Returns whether it was appended."""
    current = conn.execute(
        f"SELECT measurement_pk, revision, fragment, {', '.join(_CONTENT_COLUMNS)} "
        "FROM measurements_in_force WHERE lesion_pk = ? AND reader_pk = ? AND scan_date = ?",
        (lesion_pk, reader_pk, group[0].scan_date),
    ).fetchall()
    if current:
        stored = {}
        for pk, _revision, fragment, *content in current:
            endpoints = tuple(
                (axis, tuple(point))
                for axis, *point in conn.execute(
                    "SELECT axis, x1, y1, z1, x2, y2, z2 FROM axis_endpoints "
                    "WHERE measurement_pk = ? ORDER BY axis",
                    (pk,),
                )
            )
            stored[fragment] = (tuple(content), endpoints)
        wanted = {r.fragment: (r.content, tuple(sorted(r.endpoints))) for r in group}
        if stored == wanted:
            return False
    revision = 1 if not current else current[0][1] + 1
    previous = {fragment: pk for pk, _revision, fragment, *_content in current}
    placeholders = ", ".join("?" * (len(_CONTENT_COLUMNS) + 9))
    for row in group:
        # A fragment supersedes the same fragment, else the reading's first row it replaces.
        supersedes = previous.get(row.fragment, current[0][0] if current else None)
        cur = conn.execute(
            "INSERT INTO measurements (lesion_pk, reader_pk, scan_date, revision, supersedes, "
            f"import_id, source_path, source_row, fragment, {', '.join(_CONTENT_COLUMNS)}) "
            f"VALUES ({placeholders})",
            (
                lesion_pk,
                reader_pk,
                row.scan_date,
                revision,
                supersedes,
                lazy.id(),
                row.source_path,
                row.source_row,
                row.fragment,
                *row.content,
            ),
        )
        conn.executemany(
            "INSERT INTO axis_endpoints (measurement_pk, axis, x1, y1, z1, x2, y2, z2) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(cur.lastrowid, axis, *points) for axis, points in row.endpoints],
        )
    return True


def save_clinical(
    store: Store, clinical: Mapping[str, ClinicalRecord], *, source: str
) -> ImportSummary:
    """Append clinical records (one revision per patient whose record changed), atomically.

    Raises
    ------
    InputError
        A record names a patient with no readings in the store (naming the file, row and
        column), or makes a read invalid (e.g. a scan after the death date: see
        :func:`validate_reads`); nothing is written.
    """
    records = sorted(clinical.values(), key=lambda r: r.patient_id)
    with store.transaction() as conn:
        lazy = _LazyImport(store, "clinical", source)
        keys = _Keys(conn)
        read = readers_of_patients(conn)
        new = unchanged = 0
        changed: set[tuple[str, str]] = set()
        for record in records:
            if record.patient_id not in read:
                raise InputError(
                    f"patient {record.patient_id} has no readings in the store; import the "
                    "measurements first",
                    path=record.source.path,
                    row=record.source.row,
                    column="patient_id",
                )
            patient_pk = keys.patient(record.patient_id)
            content = (
                _iso(record.treatment_start),
                _iso(record.last_followup),
                _iso(record.death_date),
                json.dumps(dict(sorted(record.covariates.items())), ensure_ascii=False),
                _iso(record.new_therapy_date),
            )
            current = conn.execute(
                "SELECT revision, treatment_start, last_followup, death_date, covariates_json, "
                "new_therapy_date FROM clinical WHERE patient_pk = ? "
                "ORDER BY revision DESC LIMIT 1",
                (patient_pk,),
            ).fetchone()
            if current is not None and tuple(current[1:]) == content:
                unchanged += 1
                continue
            conn.execute(
                "INSERT INTO clinical (patient_pk, revision, import_id, treatment_start, "
                "last_followup, death_date, covariates_json, new_therapy_date, source_path, "
                "source_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    patient_pk,
                    1 if current is None else current[0] + 1,
                    lazy.id(),
                    *content,
                    record.source.path,
                    record.source.row,
                ),
            )
            new += 1
            changed.update((record.patient_id, name) for name in read[record.patient_id])
        validate_reads(store, changed)
    return ImportSummary(
        lazy.import_id,
        source,
        len(records),
        new,
        unchanged,
        tuple(r.patient_id for r in records),
    )


def readers_of_patients(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """The readers who read each patient (any revision, withdrawn or not)."""
    readers_of: dict[str, set[str]] = defaultdict(set)
    for patient_id, name in conn.execute(
        "SELECT DISTINCT p.patient_id, r.name FROM measurements m "
        "JOIN lesions l USING (lesion_pk) JOIN patients p USING (patient_pk) "
        "JOIN readers r ON r.reader_pk = m.reader_pk"
    ):
        readers_of[patient_id].add(name)
    return readers_of


def accept_reader(store: Store, reader: str, patient_ids: Iterable[str] | None = None) -> int:
    """Mark ``reader``'s read as the accepted one for the given patients (default: all it read).

    Returns the number of patients marked. Raises :class:`StoreError` if the reader has no
    readings for a named patient.
    """
    with store.transaction() as conn:
        found = conn.execute("SELECT reader_pk FROM readers WHERE name = ?", (reader,)).fetchone()
        if found is None:
            raise StoreError(f"{store.path}: no reader named '{reader}' in the store")
        read = dict(
            conn.execute(
                "SELECT DISTINCT p.patient_id, p.patient_pk FROM measurements m "
                "JOIN lesions l USING (lesion_pk) JOIN patients p USING (patient_pk) "
                "WHERE m.reader_pk = ?",
                (found[0],),
            ).fetchall()
        )
        wanted = sorted(read) if patient_ids is None else sorted(set(patient_ids))
        missing = [p for p in wanted if p not in read]
        if missing:
            raise StoreError(
                f"{store.path}: reader '{reader}' has no readings for patient(s) "
                + ", ".join(missing)
            )
        import_id = store.new_import("accept", f"accept {reader}")
        conn.executemany(
            "INSERT INTO acceptances (patient_pk, reader_pk, import_id) VALUES (?, ?, ?)",
            [(read[p], found[0], import_id) for p in wanted],
        )
    return len(wanted)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


_OPTIONAL_EXTRA_COLUMNS = (*UID_KEYS, *DECIMAL_KEYS, *TEXT_KEYS, "slice_thickness_mm")
_LOAD_COLUMNS = (
    "p.patient_id",
    "l.lesion_id",
    "l.tracking_uid",
    "r.name",
    "m.measurement_pk",
    "m.scan_date",
    "m.role",
    "m.site",
    "m.nodal",
    "m.state",
    "m.long_axis_mm",
    "m.short_axis_mm",
    "m.krenning",
    "m.extra_json",
    "m.source_path",
    "m.source_row",
    "m.fragment",
    *(f"m.{c}" for c in _OPTIONAL_EXTRA_COLUMNS),
)
_ROLES = {r.value: r for r in Role}
_STATES = {s.value: s for s in LesionState}


class _Decoder:
    """Row → Measurement, with caches: a store repeats dates and JSON texts many times, and
    loading 10,000 patients must stay within 2x of reading the same table."""

    def __init__(self, endpoints: Mapping[int, Mapping[str, Endpoints]]) -> None:
        self.endpoints = endpoints
        self.dates: dict[str, dt.date] = {}
        self.json: dict[str, dict[str, str]] = {}

    def __call__(self, row: tuple[Any, ...]) -> Measurement:
        (patient_id, lesion_id, tracking_uid, reader, pk, scan_date, role, site, nodal, state,
         long_mm, short_mm, krenning, extra_json, source_path, source_row,
         fragment) = row[:17]  # fmt: skip
        cached = self.json.get(extra_json)
        if cached is None:
            cached = self.json[extra_json] = json.loads(extra_json)
        extra = dict(cached)
        extra["reader"] = reader
        extra["tracking_uid"] = tracking_uid
        if fragment:
            extra[FRAGMENT_KEY] = fragment
        for key, value in zip(_OPTIONAL_EXTRA_COLUMNS, row[17:], strict=True):
            if value is not None:
                extra[key] = value
        if krenning is not None:
            extra["krenning"] = str(krenning)
        for axis, points in self.endpoints.get(pk, {}).items():
            start_key, end_key = ENDPOINT_KEYS[axis]
            extra[start_key] = format_point_mm(points[:3])
            extra[end_key] = format_point_mm(points[3:])
        date = self.dates.get(scan_date)
        if date is None:
            date = self.dates[scan_date] = dt.date.fromisoformat(scan_date)
        thickness = extra.get("slice_thickness_mm")
        return Measurement(
            patient_id=patient_id,
            date=date,
            lesion_id=lesion_id,
            role=_ROLES[role],
            site=site,
            nodal=bool(nodal),
            state=_STATES[state],
            long_axis_mm=None if long_mm is None else Decimal(long_mm),
            short_axis_mm=None if short_mm is None else Decimal(short_mm),
            slice_thickness_mm=None if thickness is None else Decimal(thickness),
            extra=extra,
            source=Source(source_path, source_row),
        )


def chosen_readers(
    store: Store, reader: str | None = None, patient_ids: Iterable[str] | None = None
) -> dict[str, str]:
    """The reader whose read is used for each patient (or for ``patient_ids`` only).

    With ``reader`` given, every patient that reader read. Otherwise the reader of each patient's
    latest acceptance, or the patient's only reader when none was accepted.

    Raises
    ------
    StoreError
        ``reader`` is unknown, or a patient has several reads and none is accepted.
    """
    conn = store.conn
    known = conn.execute("SELECT 1 FROM readers WHERE name = ?", (reader,)).fetchone()
    if reader is not None and known is None:
        raise StoreError(f"{store.path}: no reader named '{reader}' in the store")
    readers_of = readers_of_patients(conn)
    if patient_ids is not None:
        wanted = set(patient_ids)
        readers_of = {p: n for p, n in readers_of.items() if p in wanted}
    if reader is not None:
        return {p: reader for p, names in sorted(readers_of.items()) if reader in names}
    accepted = dict(
        conn.execute(
            "SELECT p.patient_id, r.name FROM acceptances a "
            "JOIN patients p USING (patient_pk) JOIN readers r USING (reader_pk) "
            "WHERE a.acceptance_pk = (SELECT MAX(b.acceptance_pk) FROM acceptances b "
            "WHERE b.patient_pk = a.patient_pk)"
        ).fetchall()
    )
    chosen: dict[str, str] = {}
    undecided: list[str] = []
    for patient_id, names in sorted(readers_of.items()):
        if patient_id in accepted:
            chosen[patient_id] = accepted[patient_id]
        elif len(names) == 1:
            chosen[patient_id] = next(iter(names))
        else:
            undecided.append(f"{patient_id} ({', '.join(sorted(names))})")
    if undecided:
        raise StoreError(
            f"{store.path}: several reads and none accepted for patient(s) "
            + "; ".join(undecided)
            + ". Choose one with --reader NAME, or accept one with "
            "'recistry import --accept-reader NAME'"
        )
    return chosen


# The latest revision of each reading: GROUP BY walks the (lesion, reader, date, revision) unique
# index once, which is several times faster than a correlated MAX per row on large stores.
_IN_FORCE_SQL = f"""
WITH latest AS (
    SELECT lesion_pk, reader_pk, scan_date, MAX(revision) AS revision
    FROM measurements GROUP BY lesion_pk, reader_pk, scan_date
)
SELECT {", ".join(_LOAD_COLUMNS)}
FROM latest
JOIN measurements AS m ON m.lesion_pk = latest.lesion_pk AND m.reader_pk = latest.reader_pk
    AND m.scan_date = latest.scan_date AND m.revision = latest.revision
JOIN lesions AS l ON l.lesion_pk = m.lesion_pk
JOIN patients AS p ON p.patient_pk = l.patient_pk
JOIN readers AS r ON r.reader_pk = m.reader_pk
ORDER BY p.patient_id, m.scan_date, l.lesion_id, m.measurement_pk
"""


def in_force_measurements(store: Store, reader: str | None = None) -> list[Measurement]:
    """The measurements in force for the chosen read of every patient (see :func:`chosen_readers`).

    Sorted by patient, scan date and lesion. ``extra`` carries ``reader``, ``tracking_uid`` and
    the typed columns listed in the module docstring.
    """
    chosen = chosen_readers(store, reader)
    endpoints: dict[int, dict[str, Endpoints]] = defaultdict(dict)
    for pk, axis, *points in store.conn.execute(
        "SELECT measurement_pk, axis, x1, y1, z1, x2, y2, z2 FROM axis_endpoints"
    ):
        endpoints[pk][axis] = tuple(points)
    decode = _Decoder(endpoints)
    found = (
        decode(row) for row in store.conn.execute(_IN_FORCE_SQL) if chosen.get(row[0]) == row[3]
    )
    return [m for m in found if m.extra.get(WITHDRAWN_KEY) != "true"]


def clinical_in_force(store: Store) -> dict[str, ClinicalRecord]:
    """The latest clinical record of every patient that has one."""
    records: dict[str, ClinicalRecord] = {}
    for patient_id, start, followup, death, covariates, therapy, path, row in store.conn.execute(
        "SELECT p.patient_id, c.treatment_start, c.last_followup, c.death_date, "
        "c.covariates_json, c.new_therapy_date, c.source_path, c.source_row FROM clinical c "
        "JOIN patients p USING (patient_pk) WHERE c.revision = (SELECT MAX(d.revision) "
        "FROM clinical d WHERE d.patient_pk = c.patient_pk) ORDER BY p.patient_id"
    ):
        records[patient_id] = ClinicalRecord(
            patient_id=patient_id,
            treatment_start=_date(start),
            last_followup=_date(followup),
            death_date=_date(death),
            covariates=json.loads(covariates),
            source=Source(path=path, row=row),
            new_therapy_date=_date(therapy),
        )
    return records


def load_records(store_path: str | Path, reader: str | None = None) -> list[PatientRecord]:
    """Load every patient's measurements in force from a store, ready for the RECIST engine.

    Parameters
    ----------
    store_path
        The store file.
    reader
        Score this reader's read; by default each patient's accepted read (or only read).

    Returns
    -------
    list of PatientRecord
        One per patient, in patient order, grouped by the same code as measurement tables
        (:func:`recistry.tables.build_records`), so a store and a table with the same readings
        give identical assessments.
    """
    from recistry.tables import build_records

    with Store(store_path, readonly=True) as store, store.snapshot():
        measurements = in_force_measurements(store, reader)
        patients = {m.patient_id for m in measurements}
        clinical = {p: c for p, c in clinical_in_force(store).items() if p in patients}
    return build_records(measurements, clinical)


def refuse_unassigned_roles(measurements: Iterable[Measurement], source: str) -> None:
    """Refuse to score lesions imported without a RECIST role (:data:`ROLE_UNASSIGNED_KEY`).

    Raises
    ------
    InputError
        Naming every lesion (patient, lesion id, scan date) that needs a role.
    """
    needing = sorted(
        {(m.patient_id, m.lesion_id) for m in measurements if m.extra.get(ROLE_UNASSIGNED_KEY)}
    )
    if needing:
        shown = ", ".join(f"{patient} {lesion}" for patient, lesion in needing[:10])
        more = f" and {len(needing) - 10} more" if len(needing) > 10 else ""
        raise InputError(
            f"{len(needing)} lesions have no RECIST role (target, non-target or new), so they "
            f"cannot be scored: {shown}{more}; assign their roles in the napari annotator "
            "(or re-import them with a baseline category) and run again",
            path=source,
        )
