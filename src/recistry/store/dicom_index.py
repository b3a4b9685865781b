"""The DICOM index in the store: patients, studies, series and instances with their file paths.

The index is what lets a stored reading be followed back to the pixels: a measurement names the
SOP Instance UID it was made on, and the index says which file holds that instance. Re-indexing
a moved archive updates the paths; it is the only table that is not append-only, because a path
is where a file is now, not part of a reading's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from recistry.errors import DicomError
from recistry.imaging.volume import Volume
from recistry.store.database import Store

if TYPE_CHECKING:
    from recistry.imaging.discovery import DicomIndex


@dataclass(frozen=True, slots=True)
class IndexedInstance:
    """One DICOM instance as the store records it.

    ``path`` is the file's absolute path; ``study_date`` the Study Date.
    """

    patient_id: str
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    path: str
    sop_class_uid: str | None = None
    modality: str | None = None
    frame_of_reference_uid: str | None = None
    study_date: dt.date | None = None
    instance_number: int | None = None
    study_description: str | None = None
    series_description: str | None = None


def save_index(store: Store, instances: Iterable[IndexedInstance], *, source: str) -> int:
    """Record DICOM instances (one transaction); returns the number of instances recorded.

    Raises
    ------
    DicomError
        A study or series UID already belongs to another patient or study (two archives that
        reuse UIDs must not be merged silently).
    """
    count = 0
    with store.transaction() as conn:
        import_id = store.new_import("index", source)
        for inst in instances:
            conn.execute(
                "INSERT OR IGNORE INTO patients (patient_id) VALUES (?)", (inst.patient_id,)
            )
            patient_pk = conn.execute(
                "SELECT patient_pk FROM patients WHERE patient_id = ?", (inst.patient_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT OR IGNORE INTO studies (study_uid, patient_pk, study_date, description) "
                "VALUES (?, ?, ?, ?)",
                (
                    inst.study_uid,
                    patient_pk,
                    None if inst.study_date is None else inst.study_date.isoformat(),
                    inst.study_description,
                ),
            )
            study_pk, owner = conn.execute(
                "SELECT study_pk, patient_pk FROM studies WHERE study_uid = ?", (inst.study_uid,)
            ).fetchone()
            if owner != patient_pk:
                raise DicomError(
                    f"study {inst.study_uid} is already indexed for another patient",
                    path=inst.path,
                    tag="StudyInstanceUID (0020,000D)",
                )
            conn.execute(
                "INSERT OR IGNORE INTO series (series_uid, study_pk, modality, "
                "frame_of_reference_uid, description) VALUES (?, ?, ?, ?, ?)",
                (
                    inst.series_uid,
                    study_pk,
                    inst.modality,
                    inst.frame_of_reference_uid,
                    inst.series_description,
                ),
            )
            series_pk, series_study = conn.execute(
                "SELECT series_pk, study_pk FROM series WHERE series_uid = ?", (inst.series_uid,)
            ).fetchone()
            if series_study != study_pk:
                raise DicomError(
                    f"series {inst.series_uid} is already indexed in another study",
                    path=inst.path,
                    tag="SeriesInstanceUID (0020,000E)",
                )
            conn.execute(
                "INSERT INTO instances (sop_instance_uid, series_pk, sop_class_uid, "
                "instance_number, path, import_id) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (sop_instance_uid) DO UPDATE SET path = excluded.path, "
                "import_id = excluded.import_id",
                (
                    inst.sop_instance_uid,
                    series_pk,
                    inst.sop_class_uid,
                    inst.instance_number,
                    str(Path(inst.path).resolve()),
                    import_id,
                ),
            )
            count += 1
    return count


def instance_paths(store: Store, sop_instance_uids: Iterable[str]) -> dict[str, Path]:
    """Files of the given instances that are in the index (missing UIDs are left out)."""
    wanted = sorted(set(sop_instance_uids))
    found: dict[str, Path] = {}
    # Chunked: SQLite limits the number of bound parameters per statement.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for uid, path in store.conn.execute(
            f"SELECT sop_instance_uid, path FROM instances WHERE sop_instance_uid IN ({marks})",
            chunk,
        ):
            found[uid] = Path(path)
    return found


def _study_date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text.strip(), "%Y%m%d").date()
    except ValueError:
        return None


def save_dicom_index(store: Store, index: DicomIndex) -> int:
    """Record a :func:`recistry.imaging.discovery.index_tree` result; returns instances recorded."""
    instances = [
        IndexedInstance(
            patient_id=patient.patient_id,
            study_uid=study.study_instance_uid,
            series_uid=series.series_instance_uid,
            sop_instance_uid=inst.sop_instance_uid,
            path=inst.path,
            sop_class_uid=series.sop_class_uid,
            modality=series.modality,
            frame_of_reference_uid=series.frame_of_reference_uid,
            study_date=_study_date(study.study_date),
            instance_number=inst.instance_number,
            study_description=study.description or None,
            series_description=series.description or None,
        )
        for patient in index.patients
        for study in patient.studies
        for series in study.series
        for inst in series.instances
    ]
    return save_index(store, instances, source=index.root)


def slice_geometry(header: Dataset) -> Volume | None:
    """The geometry of one image from its header (no pixels), or None if it has no plane.

    A one-slice :class:`~recistry.imaging.volume.Volume` whose array is a zero-size view of the
    image's shape, so that the project's single index ↔ patient-mm mapping is used.
    """
    try:
        row_dir = np.array([float(v) for v in header.ImageOrientationPatient[:3]])
        col_dir = np.array([float(v) for v in header.ImageOrientationPatient[3:]])
        spacing_row, spacing_col = (float(v) for v in header.PixelSpacing)
        origin = tuple(float(v) for v in header.ImagePositionPatient)
        rows, columns = int(header.Rows), int(header.Columns)
    except (AttributeError, ValueError, TypeError, IndexError):
        return None
    thickness = float(header.get("SliceThickness") or 1.0) or 1.0
    return Volume(
        array=np.broadcast_to(np.zeros(1, dtype=np.int8), (1, rows, columns)),
        spacing_mm=(thickness, spacing_row, spacing_col),
        origin_mm=(origin[0], origin[1], origin[2]),
        direction=np.column_stack([row_dir, col_dir, np.cross(row_dir, col_dir)]),
        frame_of_reference_uid=str(header.get("FrameOfReferenceUID", "")),
        sop_instance_uids=(str(header.SOPInstanceUID),),
        series_instance_uid=str(header.get("SeriesInstanceUID", "")),
        study_instance_uid=str(header.get("StudyInstanceUID", "")),
        modality=str(header.get("Modality", "")),
        units="",
    )


def instance_geometries(store: Store, sop_instance_uids: Iterable[str]) -> dict[str, Volume]:
    """Geometry of the indexed images among ``sop_instance_uids`` (read from their headers)."""
    geometry: dict[str, Volume] = {}
    for uid, path in instance_paths(store, sop_instance_uids).items():
        try:
            plane = slice_geometry(pydicom.dcmread(path, stop_before_pixels=True))
        except (InvalidDicomError, OSError):
            plane = None
        if plane is not None and plane.frame_of_reference_uid:
            geometry[uid] = plane
    return geometry
