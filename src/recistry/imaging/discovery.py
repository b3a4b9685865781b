"""Find the DICOM files under a folder and group them into patients → studies → series.

Only headers are read (see :mod:`recistry.imaging._dicom`). Files of any name, extensionless
files and nested folders are found; files that are not DICOM are skipped and counted; a file that
looks like DICOM but cannot be read is reported with its path and the reason, and never stops the
walk.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from recistry.errors import DicomError
from recistry.imaging._dicom import (
    MEDIA_STORAGE_DIRECTORY,
    Header,
    HeaderSpec,
    NotDicomFileError,
    read_header,
    tag_label,
)
from recistry.imaging.pixels import ENHANCED_IMAGE_STORAGE, can_decode
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

_INDEX_SPEC = HeaderSpec(
    (
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "SeriesDate",
        "SeriesTime",
        "Modality",
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "FrameOfReferenceUID",
        "Rows",
        "Columns",
        "PixelSpacing",
        "SliceThickness",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "NumberOfFrames",
        "Units",
        "RadiopharmaceuticalInformationSequence.Radiopharmaceutical",
        "RadiopharmaceuticalInformationSequence.RadiopharmaceuticalCodeSequence.CodeMeaning",
        "RadiopharmaceuticalInformationSequence.RadionuclideCodeSequence.CodeMeaning",
    ),
    nuclear_medicine_from=0x00540000,
    lazy=True,
)
_REQUIRED = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality")


@dataclass(frozen=True, slots=True)
class InstanceEntry:
    """One DICOM file of a series.

    Attributes
    ----------
    path
        The file.
    sop_instance_uid
        Its SOPInstanceUID.
    instance_number
        InstanceNumber, when present (not used for ordering).
    position_mm
        ImagePositionPatient (LPS mm) of an image, ``None`` for non-image objects.
    """

    path: str
    sop_instance_uid: str
    instance_number: int | None
    position_mm: tuple[float, float, float] | None


@dataclass(frozen=True, slots=True)
class SeriesEntry:
    """One series: its identity, what it holds and its files.

    Attributes
    ----------
    series_instance_uid, modality, description, series_number, sop_class_uid
        Identity, from the first file.
    frame_of_reference_uid
        FrameOfReferenceUID of an image series (PET and CT of one study share it).
    instances
        The files, sorted by position along the slice normal for image series (else by
        InstanceNumber, then path).
    rows, columns
        Matrix size of an image series.
    pixel_spacing_mm
        PixelSpacing ``(row, column)`` in mm: the distance between rows, then between columns.
    slice_spacing_mm
        Median distance (mm) between consecutive slice positions along the slice normal, for
        image series of two slices or more.
    slice_thickness_mm
        SliceThickness in mm.
    radiopharmaceutical, radionuclide
        For PET: the Radiopharmaceutical text (or the meaning of its code) and the radionuclide
        code meaning, e.g. ``"Ga-68 DOTATATE"`` and ``"^68^Gallium"``.
    units
        For PET: Units (0054,1001), e.g. ``"BQML"``.
    transfer_syntax_uids
        The transfer syntaxes of its files (usually one), in the order first found.
    frame_count
        Frames in all its files: NumberOfFrames (0028,0008), 1 for a file without it.
    multi_frame
        Whether its images are multi-frame (NumberOfFrames above 1, or an enhanced SOP class).
    pixels_decodable
        For image series (with Rows): whether every transfer syntax has a decoder here, so the
        pixels can be loaded; ``None`` for objects without pixels (SR, RT structures …).
    """

    series_instance_uid: str
    modality: str
    description: str
    series_number: int | None
    sop_class_uid: str
    frame_of_reference_uid: str | None
    instances: tuple[InstanceEntry, ...]
    rows: int | None
    columns: int | None
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    slice_thickness_mm: float | None
    radiopharmaceutical: str | None
    radionuclide: str | None
    units: str | None
    transfer_syntax_uids: tuple[str, ...] = ()
    frame_count: int = 0
    multi_frame: bool = False
    pixels_decodable: bool | None = None

    @property
    def slice_count(self) -> int:
        return len(self.instances)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(i.path for i in self.instances)

    @property
    def sop_instance_uids(self) -> tuple[str, ...]:
        return tuple(i.sop_instance_uid for i in self.instances)

    @property
    def spacing_mm(self) -> tuple[float, float, float] | None:
        """``(slice, row, column)`` spacing in mm, when known, as in :class:`Volume`."""
        if self.pixel_spacing_mm is None:
            return None
        slice_mm = (
            self.slice_spacing_mm if self.slice_spacing_mm is not None else self.slice_thickness_mm
        )
        if slice_mm is None:
            return None
        return (slice_mm, *self.pixel_spacing_mm)


@dataclass(frozen=True, slots=True)
class StudyEntry:
    """One study: StudyInstanceUID, date (``YYYYMMDD``), time, description and its series
    (ordered by SeriesNumber)."""

    study_instance_uid: str
    study_date: str | None
    study_time: str | None
    description: str
    accession_number: str | None
    series: tuple[SeriesEntry, ...]


@dataclass(frozen=True, slots=True)
class PatientEntry:
    """One patient and their studies, ordered by study date and time."""

    patient_id: str
    patient_name: str
    birth_date: str | None
    sex: str | None
    studies: tuple[StudyEntry, ...]


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file a walk skipped (it could not be indexed, or imported as SR), and why; the reason
    names the DICOM attribute when one is at fault."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class DicomIndex:
    """Patients → studies → series found under ``root``.

    Attributes
    ----------
    root
        The folder walked.
    patients
        Ordered by PatientID.
    errors
        Files that could not be indexed (unreadable, truncated, missing identity tags).
    skipped
        Files that are not DICOM (or are a DICOMDIR) and were skipped.
    files_indexed
        DICOM files placed in a series.
    """

    root: str
    patients: tuple[PatientEntry, ...]
    errors: tuple[FileProblem, ...] = ()
    skipped: int = 0
    files_indexed: int = 0
    _by_uid: dict[str, SeriesEntry] = field(default_factory=dict, repr=False, compare=False)

    def iter_series(self) -> Iterator[tuple[PatientEntry, StudyEntry, SeriesEntry]]:
        """Every series with its patient and study, in index order."""
        for patient in self.patients:
            for study in patient.studies:
                for series in study.series:
                    yield patient, study, series

    def series(self, series_instance_uid: str) -> SeriesEntry:
        """The series with this SeriesInstanceUID; ``KeyError`` if it is not in the index."""
        if not self._by_uid:
            self._by_uid.update({s.series_instance_uid: s for _, _, s in self.iter_series()})
        return self._by_uid[series_instance_uid]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (paths as strings, spacing in mm)."""
        return {
            "root": self.root,
            "files_indexed": self.files_indexed,
            "skipped": self.skipped,
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
            "patients": [
                {
                    "patient_id": p.patient_id,
                    "patient_name": p.patient_name,
                    "birth_date": p.birth_date,
                    "sex": p.sex,
                    "studies": [
                        {
                            "study_instance_uid": st.study_instance_uid,
                            "study_date": st.study_date,
                            "study_time": st.study_time,
                            "description": st.description,
                            "accession_number": st.accession_number,
                            "series": [_series_dict(se) for se in st.series],
                        }
                        for st in p.studies
                    ],
                }
                for p in self.patients
            ],
        }


def _series_dict(se: SeriesEntry) -> dict[str, Any]:
    return {
        "series_instance_uid": se.series_instance_uid,
        "modality": se.modality,
        "description": se.description,
        "series_number": se.series_number,
        "sop_class_uid": se.sop_class_uid,
        "frame_of_reference_uid": se.frame_of_reference_uid,
        "slice_count": se.slice_count,
        "rows": se.rows,
        "columns": se.columns,
        "pixel_spacing_mm": list(se.pixel_spacing_mm) if se.pixel_spacing_mm else None,
        "slice_spacing_mm": se.slice_spacing_mm,
        "slice_thickness_mm": se.slice_thickness_mm,
        "radiopharmaceutical": se.radiopharmaceutical,
        "radionuclide": se.radionuclide,
        "units": se.units,
        "transfer_syntax_uids": list(se.transfer_syntax_uids),
        "pixels_decodable": se.pixels_decodable,
        "multi_frame": se.multi_frame,
        "frame_count": se.frame_count,
        "instances": [
            {
                "path": i.path,
                "sop_instance_uid": i.sop_instance_uid,
                "instance_number": i.instance_number,
            }
            for i in se.instances
        ],
    }


LOADABLE_MODALITIES = ("CT", "PT")
"""Modalities :func:`load_series` loads as volumes."""


def load_series(series: SeriesEntry) -> Volume:
    """Load an indexed CT series in HU or PET series in SUVbw, with every check of
    :func:`recistry.imaging.ct.load_ct` and :func:`recistry.imaging.pet.load_pet_suv`.

    Raises
    ------
    DicomError
        Naming the file, the tag and the file's series, when the series cannot be loaded; or
        when its modality is not CT or PT.
    """
    if series.modality == "CT":
        from recistry.imaging.ct import load_ct

        return load_ct(series.paths)
    if series.modality == "PT":
        from recistry.imaging.pet import load_pet_suv

        return load_pet_suv(series.paths)
    raise DicomError(
        f"modality {series.modality!r} is not loaded as a volume (only CT and PT are)",
        path=series.paths[0] if series.paths else None,
        tag=tag_label("Modality"),
    )


def iter_files(root: str | os.PathLike[str]) -> Iterator[str]:
    """Every regular file under ``root`` (depth first, names sorted, symlinked folders not
    followed, so a link loop cannot hang the walk)."""
    stack = [os.fspath(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            logger.warning("cannot list %s: %s", folder, exc.strerror or exc)
            continue
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.path)
                elif entry.is_file():
                    yield entry.path
            except OSError:
                continue
        stack.extend(reversed(subfolders))


_SeriesFiles = dict[tuple[str, str, str], tuple[Header, list["_FileRecord"]]]
_Scan = tuple[_SeriesFiles, list[FileProblem], int]

FILES_PER_TASK = 500
"""Files per parallel indexing task (whole folders are kept together)."""


def index_tree(
    root: str | os.PathLike[str],
    *,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> DicomIndex:
    """Index every DICOM file under ``root`` into patients → studies → series.

    Parameters
    ----------
    root
        A folder (searched recursively) or a single file.
    workers, dask_address
        Read headers in ``workers`` local processes or on a Dask cluster; each task reads whole
        folders (a series or study as archives store them, never a single file). The index is
        identical whichever way it ran.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    DicomIndex
        With the files that are not DICOM counted in ``skipped`` and the unreadable ones listed
        in ``errors`` (path and reason).

    Raises
    ------
    DicomError
        Only if ``root`` itself does not exist.
    """
    from recistry.batch import run_tasks

    root_str = os.fspath(root)
    if not os.path.exists(root_str):
        raise DicomError("no such file or folder", path=root_str)
    files = [root_str] if os.path.isfile(root_str) else list(iter_files(root_str))
    parts = run_tasks(
        _scan_portable,
        _folder_chunks(files, FILES_PER_TASK),
        workers=workers,
        dask_address=dask_address,
        label="Indexing",
        progress=progress,
    )
    series_files: _SeriesFiles = {}
    errors: list[FileProblem] = []
    skipped = 0
    for part_series, part_errors, part_skipped in parts:  # in file order: as one serial scan
        for key, (header, records) in part_series.items():
            if key in series_files:
                series_files[key][1].extend(records)
            else:
                series_files[key] = (header, records)
        errors.extend(part_errors)
        skipped += part_skipped
    patients = _group(series_files, errors)
    if errors:
        logger.warning("%d file(s) under %s could not be indexed", len(errors), root_str)
    return DicomIndex(
        root=root_str,
        patients=patients,
        errors=tuple(errors),
        skipped=skipped,
        files_indexed=sum(
            len(se.instances) for p in patients for st in p.studies for se in st.series
        ),
    )


def _folder_chunks(files: list[str], size: int) -> list[list[str]]:
    """Consecutive files in chunks of about ``size``, never splitting a folder."""
    chunks: list[list[str]] = []
    current: list[str] = []
    folder = None
    for path in files:
        parent = os.path.dirname(path)
        if current and parent != folder and len(current) >= size:
            chunks.append(current)
            current = []
        current.append(path)
        folder = parent
    if current:
        chunks.append(current)
    return chunks


def _scan_portable(paths: list[str]) -> _Scan:
    """:func:`_scan` for any process: each series' first header with its values decoded, so
    it pickles and no longer holds the file's bytes."""
    series_files, errors, skipped = _scan(paths)
    return (
        {
            key: (replace(header, values=dict(header.values)), records)
            for key, (header, records) in series_files.items()
        },
        errors,
        skipped,
    )


def _scan(paths: list[str]) -> _Scan:
    """Read the headers of ``paths`` in order: per series its first header and one small record
    per file (so memory stays small), plus the unreadable files and the count of non-DICOM."""
    series_files: _SeriesFiles = {}
    errors: list[FileProblem] = []
    skipped = 0
    for path in paths:
        try:
            header = read_header(path, _INDEX_SPEC)
        except NotDicomFileError:
            skipped += 1
            continue
        except DicomError as exc:
            reason = exc.message if exc.tag is None else f"{exc.tag}: {exc.message}"
            errors.append(FileProblem(path, reason))
            continue
        try:
            if header.get("MediaStorageSOPClassUID") == MEDIA_STORAGE_DIRECTORY:
                skipped += 1
                continue
            missing = [k for k in _REQUIRED if not header.get(k)]
            if missing:
                labels = ", ".join(tag_label(k) for k in missing)
                errors.append(FileProblem(path, "missing required attribute " + labels))
                continue
            key = (
                header.get("PatientID") or "",
                header.values["StudyInstanceUID"],
                header.values["SeriesInstanceUID"],
            )
            record = _FileRecord(
                path,
                header.values["SOPInstanceUID"],
                header.first("InstanceNumber"),
                _position(header),
                header.get("ImageOrientationPatient"),
                header.transfer_syntax_uid,
                header.first("NumberOfFrames"),
            )
            if key in series_files:
                series_files[key][1].append(record)
            else:
                dict(header.values)  # the series' representative: every value must decode
                series_files[key] = (header, [record])
        except DicomError as exc:  # a malformed value, found when decoded
            reason = exc.message if exc.tag is None else f"{exc.tag}: {exc.message}"
            errors.append(FileProblem(path, reason))
    return series_files, errors, skipped


@dataclass(frozen=True, slots=True)
class _FileRecord:
    path: str
    sop_instance_uid: str
    instance_number: int | None
    position_mm: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    transfer_syntax_uid: str
    frames: int | None


def _group(
    series_files: dict[tuple[str, str, str], tuple[Header, list[_FileRecord]]],
    errors: list[FileProblem],
) -> tuple[PatientEntry, ...]:
    by_patient: dict[str, dict[str, list[SeriesEntry]]] = defaultdict(lambda: defaultdict(list))
    first_of_study: dict[str, Header] = {}
    first_of_patient: dict[str, Header] = {}
    for (patient_id, study_uid, series_uid), (header, records) in series_files.items():
        by_patient[patient_id][study_uid].append(_series_entry(series_uid, header, records, errors))
        first_of_study.setdefault(study_uid, header)
        first_of_patient.setdefault(patient_id, header)
    patients = []
    for patient_id in sorted(by_patient):
        studies = []
        for study_uid, series in by_patient[patient_id].items():
            h0 = first_of_study[study_uid]
            studies.append(
                StudyEntry(
                    study_instance_uid=study_uid,
                    study_date=h0.get("StudyDate"),
                    study_time=h0.get("StudyTime"),
                    description=h0.get("StudyDescription") or "",
                    accession_number=h0.get("AccessionNumber"),
                    series=tuple(
                        sorted(
                            series,
                            key=lambda s: (
                                s.series_number is None,
                                s.series_number or 0,
                                s.series_instance_uid,
                            ),
                        )
                    ),
                )
            )
        studies.sort(
            key=lambda s: (s.study_date or "99999999", s.study_time or "", s.study_instance_uid)
        )
        first = first_of_patient[patient_id]
        patients.append(
            PatientEntry(
                patient_id=patient_id,
                patient_name=first.get("PatientName") or "",
                birth_date=first.get("PatientBirthDate"),
                sex=first.get("PatientSex"),
                studies=tuple(studies),
            )
        )
    return tuple(patients)


def _series_entry(
    series_uid: str, first: Header, records: list[_FileRecord], errors: list[FileProblem]
) -> SeriesEntry:
    # The same SOP instance found twice (a copy under another name) is indexed once.
    unique: dict[str, _FileRecord] = {}
    for r in records:
        if r.sop_instance_uid in unique:
            errors.append(
                FileProblem(
                    r.path,
                    f"duplicate of {unique[r.sop_instance_uid].path} (same SOPInstanceUID "
                    f"{r.sop_instance_uid}); ignored",
                )
            )
            continue
        unique[r.sop_instance_uid] = r
    members = list(unique.values())
    instances = [
        InstanceEntry(
            path=r.path,
            sop_instance_uid=r.sop_instance_uid,
            instance_number=r.instance_number,
            position_mm=r.position_mm,
        )
        for r in members
    ]
    slice_spacing = None
    iop = first.get("ImageOrientationPatient")
    # A localizer series (several planes) has no single slice normal and no slice spacing.
    one_plane = all(r.orientation == iop for r in members)
    if (
        one_plane
        and iop is not None
        and len(iop) == 6
        and all(i.position_mm is not None for i in instances)
    ):
        normal = np.cross(np.asarray(iop[:3]), np.asarray(iop[3:]))
        along = np.asarray([i.position_mm for i in instances]) @ normal
        order = np.argsort(along, kind="stable")
        instances = [instances[int(k)] for k in order]
        if len(instances) > 1:
            slice_spacing = round(float(np.median(np.diff(along[order]))), 6)
    else:
        instances.sort(key=lambda i: (i.instance_number is None, i.instance_number or 0, i.path))
    spacing = first.get("PixelSpacing")
    syntaxes = tuple(dict.fromkeys(r.transfer_syntax_uid for r in members))
    frame_counts = [r.frames if r.frames is not None and r.frames > 0 else 1 for r in members]
    is_image = first.first("Rows") is not None
    return SeriesEntry(
        series_instance_uid=series_uid,
        modality=first.values["Modality"],
        description=first.get("SeriesDescription") or "",
        series_number=first.first("SeriesNumber"),
        sop_class_uid=first.get("SOPClassUID") or "",
        frame_of_reference_uid=first.get("FrameOfReferenceUID"),
        instances=tuple(instances),
        rows=first.first("Rows"),
        columns=first.first("Columns"),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1]))
        if spacing and len(spacing) == 2
        else None,
        slice_spacing_mm=slice_spacing,
        slice_thickness_mm=first.first("SliceThickness"),
        radiopharmaceutical=first.get("RadiopharmaceuticalInformationSequence.Radiopharmaceutical")
        or first.get(
            "RadiopharmaceuticalInformationSequence.RadiopharmaceuticalCodeSequence.CodeMeaning"
        ),
        radionuclide=first.get(
            "RadiopharmaceuticalInformationSequence.RadionuclideCodeSequence.CodeMeaning"
        ),
        units=first.get("Units"),
        transfer_syntax_uids=syntaxes,
        frame_count=sum(frame_counts),
        multi_frame=any(n > 1 for n in frame_counts)
        or first.get("SOPClassUID") in ENHANCED_IMAGE_STORAGE,
        pixels_decodable=all(can_decode(ts) for ts in syntaxes) if is_image else None,
    )


def _position(h: Header) -> tuple[float, float, float] | None:
    ipp = h.get("ImagePositionPatient")
    if ipp is None or len(ipp) != 3:
        return None
    return (float(ipp[0]), float(ipp[1]), float(ipp[2]))
