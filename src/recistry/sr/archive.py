"""Importing a folder tree of TID 1500 SR files (an archive of stored studies) into a store.

Files are grouped by study (Study Instance UID) and each study is read as one task, in parallel
(:func:`recistry.batch.run_tasks`). A bad SR file (not TID 1500, no image reference, an unknown
unit …) is reported by path and skipped in batch mode, or refuses the whole import in strict
mode. Everything read is then written in one transaction (one import record per SR file, oldest
content first, so an amended report becomes a later revision of the reading it amends): the store
gets all of it or, if the process dies or the write fails, none of it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from recistry.batch import run_tasks
from recistry.errors import DicomError, InputError, RecistryError
from recistry.imaging.discovery import FileProblem
from recistry.recist.model import Measurement
from recistry.sr.reader import (
    IMAGE_POINT_KEYS,
    SEGMENTATION_STORAGE,
    SR_STORAGE_CLASSES,
    SegmentationSource,
    SharedLabel,
    SrReport,
    assign_lesion_ids,
    read_report,
    read_segmentation_source,
)
from recistry.store.database import Store
from recistry.store.dicom_index import instance_geometries
from recistry.store.readings import (
    ENDPOINT_KEYS,
    ROLE_UNASSIGNED_KEY,
    UNSPECIFIED_READER,
    ImportSummary,
    format_point_mm,
    save_measurements,
    validate_reads,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StudyResult:
    """What reading one study's SR files gave."""

    study_uid: str
    reports: tuple[SrReport, ...]
    failures: tuple[FileProblem, ...]


@dataclass(frozen=True, slots=True)
class ArchiveImport:
    """The outcome of importing a folder of SR files."""

    summary: ImportSummary | None
    files: int
    studies: int
    failures: tuple[FileProblem, ...]
    lesions: int = 0
    extra_values: int = 0
    volume_only: int = 0
    shared_labels: tuple[SharedLabel, ...] = ()
    unassigned: tuple[tuple[str, str], ...] = ()
    """(patient, lesion id) of the lesions read without a RECIST role."""


def group_sr_files_by_study(root: Path) -> dict[str, list[str]]:
    """SR files under ``root`` grouped by Study Instance UID (files sorted; other files ignored).

    A file that is SR but has no Study Instance UID gets its own group keyed by its path, so it
    is still read (and reported).
    """
    return _scan(root)[0]


def _scan(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    """SR files by study, and the DICOM SEG files, under ``root``."""
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    studies: dict[str, list[str]] = defaultdict(list)
    segmentations = []
    for path in paths:
        try:
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SOPClassUID", "StudyInstanceUID"]
            )
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        sop_class = str(ds.get("SOPClassUID", ""))
        if sop_class == SEGMENTATION_STORAGE:
            segmentations.append(str(path))
        if sop_class not in SR_STORAGE_CLASSES:
            continue
        studies[str(ds.get("StudyInstanceUID", "") or path)].append(str(path))
    return dict(sorted(studies.items())), segmentations


def read_study(
    task: tuple[str, tuple[str, ...], dict[str, SegmentationSource]],
) -> StudyResult:
    """Read the SR files of one study (a task for :func:`run_tasks`); failures are values.

    Every file goes through :func:`recistry.sr.reader.read_report`, the reader ``rescore``
    uses: read whole or refused whole.
    """
    study_uid, paths, segmentations = task
    reports: list[SrReport] = []
    failures: list[FileProblem] = []
    for path in paths:
        try:
            reports.append(read_report(path, segmentations=segmentations))
        except RecistryError as exc:
            failures.append(FileProblem(path, str(exc)))
    return StudyResult(study_uid, tuple(reports), tuple(failures))


def image_points_to_patient(store: Store, measurements: list[Measurement]) -> list[Measurement]:
    """Give axes known only in image coordinates (2D SCOORD) their endpoints in patient mm.

    SCOORD (column, row) has (0, 0) at the top left corner of the top left pixel, so pixel
    centre ``[r, c]`` is at (c + 0.5, r + 0.5) (PS3.3 C.18.6.1.2); the referenced image's
    position, orientation and pixel spacing (from the store's DICOM index) place it in LPS mm.
    Axes whose image is not indexed keep their image coordinates only.
    """
    wanted = {
        m.extra["sop_instance_uid"]
        for m in measurements
        if any(key in m.extra for key in IMAGE_POINT_KEYS.values())
    }
    if not wanted:
        return measurements
    geometry = instance_geometries(store, wanted)
    out = []
    for m in measurements:
        plane = geometry.get(m.extra.get("sop_instance_uid", ""))
        extra = dict(m.extra)
        for axis, key in IMAGE_POINT_KEYS.items():
            start_key, end_key = ENDPOINT_KEYS[axis]
            if plane is None or key not in extra or start_key in extra:
                continue
            x1, y1, x2, y2 = (float(v) for v in extra[key].split())
            lps = plane.index_to_patient([[0, y1 - 0.5, x1 - 0.5], [0, y2 - 0.5, x2 - 0.5]])
            extra[start_key] = format_point_mm(np.round(lps[0], 4))
            extra[end_key] = format_point_mm(np.round(lps[1], 4))
            extra["frame_of_reference_uid"] = plane.frame_of_reference_uid
        out.append(m if extra == m.extra else dataclasses.replace(m, extra=extra))
    return out


@dataclass(frozen=True, slots=True)
class ArchiveRead:
    """An SR folder read and validated, not yet written: reports oldest content first."""

    root: Path
    reports: tuple[SrReport, ...]
    failures: tuple[FileProblem, ...]
    files: int
    studies: int
    shared_labels: tuple[SharedLabel, ...] = ()


def read_sr_archive(
    root: Path,
    *,
    strict: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
    segmentation_paths: Sequence[str] = (),
) -> ArchiveRead:
    """Read every TID 1500 SR file under ``root``, one study per task (nothing is written).

    SEG files under ``root`` and in ``segmentation_paths`` (e.g. the store's DICOM index:
    :func:`indexed_segmentations`) resolve measurements that reference a segment to its source
    images.

    Raises
    ------
    DicomError
        No SR file under ``root``; or, in strict mode, the first bad file.
    """
    studies, seg_paths = _scan(root)
    if not studies:
        raise DicomError("no DICOM SR files found", path=str(root))
    segmentations = {}
    for seg_path in [*seg_paths, *segmentation_paths]:
        try:
            seg = read_segmentation_source(seg_path)
        except DicomError as exc:
            logger.warning("%s", exc)
            continue
        segmentations[seg.sop_instance_uid] = seg
    tasks = [(uid, tuple(paths), segmentations) for uid, paths in studies.items()]
    results = run_tasks(
        read_study,
        tasks,
        workers=workers,
        dask_address=dask_address,
        label="reading SR studies",
        progress=progress,
    )
    failures = tuple(f for r in results for f in r.failures)
    if strict and failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DicomError(f"{failures[0].reason}{more}; nothing was imported (strict mode)")
    for failure in failures:
        logger.warning("skipped %s", failure.reason)
    # Oldest content first: an amended report of the same reading (same patient, reader, scan)
    # is then stored as a later revision of it, whatever the file names.
    ordered = sorted(
        (report for r in results for report in r.reports),
        key=lambda report: (report.content_datetime, report.path),
    )
    reports, shared = assign_lesion_ids(ordered)
    files = sum(len(paths) for _, paths, _ in tasks)
    return ArchiveRead(root, tuple(reports), failures, files, len(tasks), tuple(shared))


def _with_stored_identities(
    store: Store, reports: Sequence[SrReport]
) -> tuple[tuple[SrReport, ...], list[SharedLabel]]:
    """Lesion ids by Tracking Unique Identifier across imports.

    A lesion the store already holds (same patient and tracking UID) keeps its stored id. A new
    lesion whose id the store already gives to another lesion (another tracking UID, e.g. the
    next OHIF report's "Bidirectional") gets the next free ``label #n``.
    """
    stored = store.conn.execute(
        "SELECT p.patient_id, l.lesion_id, l.tracking_uid "
        "FROM lesions AS l JOIN patients AS p USING (patient_pk)"
    ).fetchall()
    id_of = {(patient, uid): lesion for patient, lesion, uid in stored}
    owner = {(patient, lesion): uid for patient, lesion, uid in stored}
    chosen: dict[tuple[str, str], str] = {}
    relabelled = []
    for report in reports:
        for m in report.measurements:
            key = (m.patient_id, m.extra["tracking_uid"])
            if key in chosen:
                continue
            lesion = id_of.get(key, m.lesion_id)
            if owner.get((m.patient_id, lesion), key[1]) != key[1]:
                base = re.sub(r" #\d+$", "", lesion)
                number = 1
                while (m.patient_id, f"{base} #{number}") in owner:
                    number += 1
                relabelled.append(SharedLabel(m.patient_id, base, (lesion, f"{base} #{number}")))
                lesion = f"{base} #{number}"
            owner[(m.patient_id, lesion)] = key[1]
            chosen[key] = lesion
    out = tuple(
        dataclasses.replace(
            report,
            measurements=tuple(
                m
                if chosen[(m.patient_id, m.extra["tracking_uid"])] == m.lesion_id
                else dataclasses.replace(
                    m, lesion_id=chosen[(m.patient_id, m.extra["tracking_uid"])]
                )
                for m in report.measurements
            ),
        )
        for report in reports
    )
    return out, relabelled


def indexed_segmentations(store: Store) -> list[str]:
    """Files of the DICOM SEG objects in the store's DICOM index."""
    return [
        str(path)
        for (path,) in store.conn.execute(
            "SELECT path FROM instances WHERE sop_class_uid = ? ORDER BY path",
            (SEGMENTATION_STORAGE,),
        )
    ]


def save_sr_archive(store: Store, archive: ArchiveRead, *, accept: bool = False) -> ArchiveImport:
    """Write what :func:`read_sr_archive` read, in one transaction (one import per report)."""
    if accept:
        readers: dict[str, set[str]] = defaultdict(set)
        for report in archive.reports:
            for m in report.measurements:
                readers[m.patient_id].add(m.extra.get("reader", ""))
        several = sorted(p for p, names in readers.items() if len(names) > 1)
        if several:
            raise InputError(
                f"--accept needs one reader per patient, but patient {several[0]} was read by "
                f"{', '.join(sorted(readers[several[0]]))}; accept one with --accept-reader",
                path=str(archive.root),
            )
    summary = None
    reports: tuple[SrReport, ...] = archive.reports
    shared = list(archive.shared_labels)
    if archive.reports:
        totals = [0, 0, 0]
        patients: set[str] = set()
        first_import = None
        with store.transaction():
            reports, relabelled = _with_stored_identities(store, archive.reports)
            shared.extend(relabelled)
            for report in reports:
                part = save_measurements(
                    store,
                    image_points_to_patient(store, list(report.measurements)),
                    source=report.path,
                    kind="sr",
                    accept=accept,
                    validate=False,
                )
                first_import = first_import or part.import_id
                totals[0] += part.readings
                totals[1] += part.new_revisions
                totals[2] += part.unchanged
                patients.update(part.patients)
            # Once every report is in: a follow-up report read before its baseline's is fine.
            validate_reads(
                store,
                {(m.patient_id, m.extra.get("reader") or UNSPECIFIED_READER)
                 for report in archive.reports for m in report.measurements},
            )  # fmt: skip
        summary = ImportSummary(
            first_import,
            str(archive.root),
            totals[0],
            totals[1],
            totals[2],
            tuple(sorted(patients)),
        )
    measurements = [m for report in reports for m in report.measurements]
    return ArchiveImport(
        summary,
        archive.files,
        archive.studies,
        archive.failures,
        lesions=len({(m.patient_id, m.lesion_id) for m in measurements}),
        extra_values=sum(r.extra_values for r in archive.reports),
        volume_only=sum(r.volume_only for r in archive.reports),
        shared_labels=tuple(shared),
        unassigned=tuple(
            sorted(
                {
                    (m.patient_id, m.lesion_id)
                    for m in measurements
                    if m.extra.get(ROLE_UNASSIGNED_KEY)
                }
            )
        ),
    )


def import_sr_archive(
    store: Store,
    root: Path,
    *,
    strict: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
    accept: bool = False,
) -> ArchiveImport:
    """Import every TID 1500 SR file under ``root`` into ``store``.

    Parameters
    ----------
    store
        The store to write.
    root
        A folder tree (or one file).
    strict
        Refuse the whole import if any SR file is bad; otherwise skip bad files and report them.
    workers, dask_address, progress
        How to run the per-study reading (see :func:`recistry.batch.run_tasks`).
    accept
        Mark the imported reads as the accepted ones.

    Raises
    ------
    DicomError
        No SR file under ``root``; or, in strict mode, the first bad file (the store is
        unchanged).
    """
    archive = read_sr_archive(
        root, strict=strict, workers=workers, dask_address=dask_address, progress=progress
    )
    return save_sr_archive(store, archive, accept=accept)
