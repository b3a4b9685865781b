"""Exporting a store's readings as TID 1500 SR files, one per reader per scan.

Files are laid out as ``OUT/<patient>/<YYYYMMDD>/<reader>.dcm`` and written atomically (a
temporary name, then a rename), so an interrupted export leaves no partial file. Exporting the
same store twice gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from recistry.errors import InputError, RecistryError
from recistry.recist.model import AssessmentOptions, Measurement, PatientRecord
from recistry.sr.reader import SEGMENTATION_KEY
from recistry.sr.writer import ScanReading, build_report
from recistry.store.database import Store
from recistry.store.dicom_index import instance_paths
from recistry.store.privacy import pseudonym
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


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "unnamed"


def _readers(store: Store) -> list[str]:
    return [
        name
        for (name,) in store.conn.execute(
            "SELECT DISTINCT r.name FROM readers r JOIN measurements m USING (reader_pk) "
            "ORDER BY r.name"
        )
    ]


def scan_readings(
    measurements: Sequence[Measurement], reader: str, options: AssessmentOptions
) -> list[ScanReading]:
    """Group one reader's measurements into scan readings, with the engine's call of each scan.

    A patient the engine cannot score (invalid read) is exported without responses, with a
    warning naming the patient.
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
            logger.warning("patient %s, reader %s: not scored (%s)", patient_id, reader, exc)
            calls = {}
        by_date: dict[dt.date, list[Measurement]] = defaultdict(list)
        for m in rows:
            by_date[m.date].append(m)
        for order, date in enumerate(sorted(by_date), start=1):
            readings.append(ScanReading(tuple(by_date[date]), reader, order, calls.get(date)))
    return readings


def _pseudonymise(sr: Dataset, key: bytes) -> None:
    sr.PatientID = pseudonym(str(sr.PatientID), key)
    sr.PatientName = f"{sr.PatientID}^"
    sr.PatientBirthDate = ""
    for keyword in ("OtherPatientIDsSequence", "OtherPatientNames", "PatientAddress"):
        if keyword in sr:
            delattr(sr, keyword)


def export_store(
    store: Store,
    out: Path,
    *,
    reader: str | None = None,
    key: bytes | None = None,
    options: AssessmentOptions | None = None,
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
        Pseudonymise: patient name and ID become a keyed hash (see
        :mod:`recistry.store.privacy`); the key is not written anywhere.
    options
        How the engine scores the responses written in each report.

    Raises
    ------
    InputError
        A reading references an image that is not indexed, or none at all (nothing is written
        in that case: all reports are built before the first file is written).
    """
    options = options or AssessmentOptions()
    readers = [reader] if reader is not None else _readers(store)
    work: list[ScanReading] = []
    for name in readers:
        work.extend(scan_readings(in_force_measurements(store, name), name, options))
    sops = {
        m.extra[key]
        for r in work
        for m in r.measurements
        for key in ("sop_instance_uid", SEGMENTATION_KEY)
        if m.extra.get(key)
    }
    headers: dict[str, Dataset] = {}
    for uid, path in instance_paths(store, sops).items():
        try:
            headers[uid] = pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise InputError(
                f"indexed image cannot be read ({exc}); re-run 'recistry index'", path=str(path)
            ) from None
    built = []
    for reading in work:
        sr = build_report(reading, headers, digest_extra=("pseudonymised",) if key else ())
        if key is not None:
            _pseudonymise(sr, key)
        built.append((reading, sr))
    written = []
    for reading, sr in built:
        folder = out / _safe(str(sr.PatientID)) / reading.date.strftime("%Y%m%d")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{_safe(reading.reader)}.dcm"
        temporary = target.with_name(f".{target.name}.partial")
        sr.save_as(temporary, enforce_file_format=True)
        os.replace(temporary, target)
        written.append(
            ExportedReport(
                target,
                str(sr.PatientID),
                reading.reader,
                reading.date.isoformat(),
                len(reading.measurements),
            )
        )
    logger.info("exported %d SR files to %s", len(written), out)
    return written
