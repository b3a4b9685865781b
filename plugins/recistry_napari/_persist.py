"""Saving a reading to the study store (with its DICOM SR) and restoring it. No Qt.

The store is append-only: every save that changes a lesion's value writes a new revision under
the reader's name, so nothing a reader saved is ever overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from recistry.errors import InputError, StoreError
from recistry.recist.model import Measurement
from recistry_napari._reading import Reading, from_measurements, to_measurements

if TYPE_CHECKING:
    from recistry.imaging.discovery import DicomIndex
    from recistry.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save wrote: revisions appended (withdrawals included), rows unchanged, the
    readings withdrawn (lesions deleted or cleared since the last save) and the SR files."""

    new_revisions: int
    unchanged: int
    sr_files: tuple[Path, ...]
    withdrawn: int = 0
    exported: bool = True
    """False when nothing is left to export (every lesion withdrawn)."""


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    """What reopening found in the store for this reader and patient."""

    reader: str
    lesions: int
    readings: int
    saved_at: str
    """When the latest restored reading was measured (ISO 8601 UTC), as the store recorded it."""

    def describe(self) -> str:
        """One line for the reader: what was restored, by whom, saved when."""
        return (
            f"reading restored: {self.lesions} lesion(s), {self.readings} assessment(s) by "
            f"{self.reader}, last saved {self.saved_at or 'at an unknown time'}"
        )


def sr_folder_for(store_path: Path) -> Path:
    """Where the SR files of a store go: ``<store file name>.sr/`` beside it.

    One folder per store file, so two stores in one folder never write each other's reports;
    inside it, one file per patient, scan date and reader (one reading).
    """
    return store_path.with_name(store_path.name + ".sr")


def save_reading(
    reading: Reading,
    study_root: Path,
    store_path: Path,
    sr_folder: Path | None = None,
    *,
    index_study: bool = True,
    index: DicomIndex | None = None,
) -> SaveResult:
    """Append the reading to the store under ``reading.reader`` and export it as TID 1500 SR.

    :func:`append_reading` then :func:`export_reading`. The study's DICOM files are indexed
    into the store before the export, because the SR references the images measured on (they
    are its evidence): ``index`` is the study's index when the caller has it (else the folder
    is indexed again); ``index_study=False`` skips this when this session already indexed the
    study into this store.
    """
    result = append_reading(reading, study_root, store_path)
    if not result.exported:
        return result
    if index_study and index is None:
        from recistry.imaging.discovery import index_tree

        index = index_tree(study_root)
    sr_files = export_reading(reading, store_path, sr_folder, index=index if index_study else None)
    return replace(result, sr_files=sr_files)


def append_reading(reading: Reading, study_root: Path, store_path: Path) -> SaveResult:
    """Append the reading to the store under ``reading.reader`` (one transaction), no SR.

    A reading saved before but no longer in ``reading`` (a lesion deleted, renamed or cleared
    to pending) is withdrawn by a new revision marked
    :data:`~recistry.store.readings.WITHDRAWN_KEY`; nothing is updated. ``study_root`` is
    recorded as the source.

    Returns
    -------
    SaveResult
        ``sr_files`` empty; ``exported`` True when there is something to export
        (:func:`export_reading`).

    Raises
    ------
    recistry.errors.InputError
        No reader name, or a value the store refuses (nothing is written then).
    recistry.errors.StoreError
        The store cannot be opened or written.
    """
    from recistry.store import Store, save_measurements
    from recistry.store.readings import WITHDRAWN_KEY

    if not reading.reader.strip():
        raise InputError("enter your name as reader before saving", column="reader")
    rows = list(to_measurements(reading))
    with Store(store_path) as store:
        saved = _saved_rows(store, reading)
        keep = {(m.lesion_id, m.date) for m in rows}
        withdrawals = [
            replace(m, extra={**m.extra, WITHDRAWN_KEY: "true"})
            for m in saved
            if (m.lesion_id, m.date) not in keep
        ]
        if not rows and not withdrawals:
            raise InputError("nothing to save yet: no lesion has been assessed")
        summary = save_measurements(
            store, [*rows, *withdrawals], source=str(study_root), reader=reading.reader
        )
    logger.info(
        "saved %s by %s: %d new revisions (%d withdrawn)",
        reading.patient_id,
        reading.reader,
        summary.new_revisions,
        len(withdrawals),
    )
    return SaveResult(summary.new_revisions, summary.unchanged, (), len(withdrawals), bool(rows))


def export_reading(
    reading: Reading,
    store_path: Path,
    sr_folder: Path | None = None,
    *,
    index: DicomIndex | None = None,
) -> tuple[Path, ...]:
    """Export the reader's readings in the store as TID 1500 SR, one file per scan, into
    ``sr_folder`` (default :func:`sr_folder_for`); each file is written atomically.

    ``index`` (the study's DICOM index) is saved into the store first: the SR references the
    images measured on, which must be indexed. It reads the store, not ``reading``: run after
    :func:`append_reading`, from any thread (it opens its own connection). Returns the files of
    ``reading``'s patient.

    Raises
    ------
    recistry.errors.InputError
        A reading references an image that is not indexed (nothing is written then).
    """
    from recistry.sr.export import export_store
    from recistry.store import Store
    from recistry.store.dicom_index import save_dicom_index

    with Store(store_path, create=False) as store:
        if index is not None:
            save_dicom_index(store, index)
        reports = export_store(store, sr_folder or sr_folder_for(store_path), reader=reading.reader)
    logger.info("exported %d SR files for %s", len(reports), reading.reader)
    return tuple(r.path for r in reports if r.patient == reading.patient_id)


def _saved_rows(store: Store, reading: Reading) -> list[Measurement]:
    from recistry.store import in_force_measurements

    try:
        rows = in_force_measurements(store, reading.reader)
    except StoreError:
        return []  # this reader has saved nothing in this store
    return [m for m in rows if m.patient_id == reading.patient_id]


def restore_reading(reading: Reading, store_path: Path) -> tuple[Reading, RestoreInfo | None]:
    """``reading`` with what ``reading.reader`` last saved for its patient, if anything, and
    what was restored (``None`` when nothing was)."""
    from recistry.store import Store

    if not reading.reader.strip() or not store_path.exists():
        return reading, None
    with Store(store_path, create=False) as store:
        mine = _saved_rows(store, reading)
    if not mine:
        return reading, None
    info = RestoreInfo(
        reader=reading.reader,
        lesions=len({m.lesion_id for m in mine}),
        readings=len(mine),
        saved_at=max((m.extra.get("measured_at") or "" for m in mine), default=""),
    )
    return from_measurements(reading, mine), info
