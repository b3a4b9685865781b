"""Saving a reading to the study store (with its DICOM SR) and restoring it. No Qt.

The store is append-only: every save that changes a lesion's value writes a new revision under
the reader's name, so nothing a reader saved is ever overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from recistry.errors import InputError, StoreError
from recistry_napari._reading import Reading, from_measurements, to_measurements

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save wrote: revisions appended, rows unchanged, and the SR files exported."""

    new_revisions: int
    unchanged: int
    sr_files: tuple[Path, ...]


def save_reading(
    reading: Reading, study_root: Path, store_path: Path, sr_folder: Path
) -> SaveResult:
    """Append the reading to the store under ``reading.reader`` and export it as TID 1500 SR.

    The study's DICOM files are indexed into the store first, because the SR references the
    images measured on (they are its evidence).

    Raises
    ------
    recistry.errors.InputError
        No reader name, or a value the store refuses (nothing is written then).
    recistry.errors.StoreError
        The store cannot be opened or written.
    """
    from recistry.imaging.discovery import index_tree
    from recistry.sr.export import export_store
    from recistry.store import Store, save_measurements
    from recistry.store.dicom_index import save_dicom_index

    if not reading.reader.strip():
        raise InputError("enter your name as reader before saving", column="reader")
    rows = to_measurements(reading)
    if not rows:
        raise InputError("nothing to save yet: no lesion has been assessed")
    with Store(store_path) as store:
        save_dicom_index(store, index_tree(study_root))
        summary = save_measurements(store, rows, source=str(study_root), reader=reading.reader)
        reports = export_store(store, sr_folder, reader=reading.reader)
    logger.info(
        "saved %s by %s: %d new revisions, %d SR files",
        reading.patient_id,
        reading.reader,
        summary.new_revisions,
        len(reports),
    )
    return SaveResult(
        summary.new_revisions,
        summary.unchanged,
        tuple(r.path for r in reports if r.patient == reading.patient_id),
    )


def restore_reading(reading: Reading, store_path: Path) -> Reading:
    """``reading`` with what ``reading.reader`` last saved for its patient, if anything."""
    from recistry.store import Store, in_force_measurements

    if not reading.reader.strip() or not store_path.exists():
        return reading
    with Store(store_path, create=False) as store:
        try:
            rows = in_force_measurements(store, reading.reader)
        except StoreError:
            return reading  # this reader has saved nothing in this store
    mine = [m for m in rows if m.patient_id == reading.patient_id]
    return from_measurements(reading, mine) if mine else reading
