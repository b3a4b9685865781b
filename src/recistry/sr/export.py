"""Exporting a store's readings as TID 1500 SR files, one per reader per scan.

Files are laid out as ``OUT/<patient>/<YYYYMMDD>/<reader>-<hash>.dcm``: the reader's name made
safe for a file name plus 8 hex digits of the SHA-256 of the name itself, so readers whose names
look alike (``dr smith``, ``dr_smith``, ``dr/smith``) never share a file. Exporting the same store
twice gives byte-identical files. With ``as_folder`` (``recistry export``) the whole folder is
built beside OUT and swapped in by rename, with a completion marker
(:data:`recistry.atomic.COMPLETE_MARKER`) written last; otherwise each file is written
atomically into OUT (the napari plugin's save).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from recistry.atomic import atomic_file, atomic_folder, check_output_folder
from recistry.errors import InputError, RecistryError
from recistry.recist.model import AssessmentOptions, Measurement, PatientRecord
from recistry.sr.reader import SEGMENTATION_KEY
from recistry.sr.writer import ScanReading, build_report
from recistry.store.database import Store
from recistry.store.dicom_index import instance_paths
from recistry.store.privacy import date_shift_days, pseudonym, pseudonymise_dataset
from recistry.store.readings import in_force_measurements

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExportedReport:
    """One written SR file and what it holds (patient shown pseudonymised when asked)."""

    path: Path
    patient: str
    reader: str
    date: str
    lesions: int
    segmentations: tuple[Path, ...] = ()
    """The indexed DICOM SEG files the report references (its lesions' masks), to travel with it."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:40] or "unnamed"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def reader_file_name(reader: str) -> str:
    """``<safe reader name>-<8 hex digits of SHA-256 of the name>.dcm``: unique per reader."""
    return f"{_safe(reader)}-{_short_hash(reader)}.dcm"


def patient_folder_name(patient_id: str) -> str:
    """The patient ID when it is a safe file name, else its safe form plus a short hash."""
    safe = _safe(patient_id)
    return safe if safe == patient_id else f"{safe}-{_short_hash(patient_id)}"


def _readers(store: Store) -> list[str]:
    return [
        name
        for (name,) in store.conn.execute(
            "SELECT DISTINCT r.name FROM readers r JOIN measurements m USING (reader_pk) "
            "ORDER BY r.name"
        )
    ]


def scan_readings(
    measurements: Sequence[Measurement],
    reader: str,
    options: AssessmentOptions,
    key: bytes | None = None,
) -> list[ScanReading]:
    """Group one reader's measurements into scan readings, with the engine's call of each scan.

    A patient the engine cannot score (invalid read) is exported without responses, with a
    warning naming the patient (its pseudonym when ``key`` is given, and then without the
    engine's message, which may quote identifiers).
    """
    from recistry.recist.engine import assess_patient

    by_patient: dict[str, list[Measurement]] = defaultdict(list)
    for m in measurements:
        by_patient[m.patient_id].append(m)
    readings = []
    for patient_id, rows in sorted(by_patient.items()):
        try:
            assessment = assess_patient(PatientRecord(patient_id, tuple(rows)), options)
            calls = {tp.date: tp for tp in assessment.timepoints}
        except RecistryError as exc:
            if key is None:
                logger.warning("patient %s, reader %s: not scored (%s)", patient_id, reader, exc)
            else:
                logger.warning("patient %s: not scored", pseudonym(patient_id, key))
            calls = {}
        by_date: dict[dt.date, list[Measurement]] = defaultdict(list)
        for m in rows:
            by_date[m.date].append(m)
        for order, date in enumerate(sorted(by_date), start=1):
            readings.append(ScanReading(tuple(by_date[date]), reader, order, calls.get(date)))
    return readings


def export_store(
    store: Store,
    out: Path,
    *,
    reader: str | None = None,
    key: bytes | None = None,
    options: AssessmentOptions | None = None,
    as_folder: bool = False,
) -> list[ExportedReport]:
    """Write every reader's scan readings (or only ``reader``'s) as TID 1500 SR files.

    Parameters
    ----------
    store
        The store; the images measured on must be in its DICOM index (they are the evidence).
    out
        Output folder (created).
    reader
        Export only this reader's readings.
    key
        Pseudonymise by the DICOM PS3.15 Basic Profile with modified dates (see
        :func:`recistry.store.privacy.pseudonymise_dataset`); the key is not written anywhere.
    options
        How the engine scores the responses written in each report.
    as_folder
        Build the whole of ``out`` beside it and swap it in (it must be new, empty or an earlier
        export); otherwise write each file atomically into ``out``, keeping other files.

    Returns
    -------
    list of ExportedReport
        One per file written (patients shown pseudonymised when asked).

    Raises
    ------
    InputError
        A reading references an image that is not indexed, none at all, or an image of another
        patient; nothing is written in that case (all reports are built first).
    """
    options = options or AssessmentOptions()
    if as_folder:
        check_output_folder(out)
    readers = [reader] if reader is not None else _readers(store)
    work: list[ScanReading] = []
    with store.snapshot():
        for name in readers:
            work.extend(scan_readings(in_force_measurements(store, name), name, options, key))
        sops = {
            m.extra[field]
            for r in work
            for m in r.measurements
            for field in ("sop_instance_uid", SEGMENTATION_KEY)
            if m.extra.get(field)
        }
        paths = instance_paths(store, sops)
    headers: dict[str, Dataset] = {}
    for uid, path in paths.items():
        try:
            headers[uid] = pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise InputError(
                f"indexed image cannot be read ({exc}); re-run 'recistry index'", path=str(path)
            ) from None
    built: dict[Path, tuple[ScanReading, Dataset]] = {}
    for reading in work:
        shown = reading.patient_id if key is None else pseudonym(reading.patient_id, key)
        for m in reading.measurements:
            header = headers.get(m.extra.get("sop_instance_uid") or "")
            if header is not None and str(header.get("PatientID", "")) != reading.patient_id:
                raise InputError(
                    f"lesion {m.lesion_id} of patient {shown} on {reading.date} by reader "
                    f"{reading.reader} was measured on an image of another patient "
                    f"(SOP Instance UID {'(hidden)' if key else m.extra['sop_instance_uid']})",
                    path=str(store.path),
                    column="sop_instance_uid",
                )
        sr = build_report(reading, headers, digest_extra=("pseudonymised",) if key else ())
        date = reading.date
        name = reading.reader
        if key is not None:
            pseudonymise_dataset(sr, key, reading.patient_id)
            date -= dt.timedelta(days=date_shift_days(reading.patient_id, key))
            name = pseudonym(f"reader\0{reading.reader}", key).replace("PSN", "RDR")
        relative = (
            Path(patient_folder_name(str(sr.PatientID)))
            / date.strftime("%Y%m%d")
            / reader_file_name(name)
        )
        if relative in built:
            raise RecistryError(f"two readings would be exported as {relative}; nothing written")
        built[relative] = (reading, sr)

    def write(root: Path) -> list[ExportedReport]:
        written = []
        for relative, (reading, sr) in sorted(built.items()):
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if as_folder:
                sr.save_as(target, enforce_file_format=True)
            else:
                with atomic_file(target) as temporary:
                    sr.save_as(temporary, enforce_file_format=True)
            written.append(
                ExportedReport(
                    out / relative,
                    str(sr.PatientID),
                    reading.reader,
                    reading.date.isoformat(),
                    len(reading.measurements),
                    tuple(
                        sorted(
                            {
                                paths[m.extra[SEGMENTATION_KEY]]
                                for m in reading.measurements
                                if m.extra.get(SEGMENTATION_KEY) in paths
                            }
                        )
                    ),
                )
            )
        return written

    if as_folder:
        with atomic_folder(out, marker=f"recistry export: {len(built)} SR files\n") as folder:
            written = write(folder)
    else:
        written = write(out)
    logger.info("exported %d SR files to %s", len(written), out)
    return written
