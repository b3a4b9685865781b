"""The folder tree a pull writes: ``OUT/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm``.

Every file is written under a temporary name in its final folder, flushed to disk (fsync) and
renamed, so a file under its final name is always complete; a pull that was interrupted leaves
at most hidden ``.*.partial`` files, which the next pull removes. Resuming skips the files that
are already there after checking them (:func:`is_complete`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from recistry.errors import PacsError

__all__ = [
    "InstanceRef",
    "SeriesRef",
    "instance_path",
    "is_complete",
    "remove_partials",
    "series_folder",
    "write_atomically",
]

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """One instance the PACS holds, as its query answered (UIDs checked to be DICOM UIDs)."""

    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str = ""


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One series the PACS holds, as its query answered.

    ``instance_count`` is the archive's NumberOfSeriesRelatedInstances (0020,1209), ``None``
    when it did not say.
    """

    patient_id: str
    study_uid: str
    series_uid: str
    modality: str
    instance_count: int | None = None

    @classmethod
    def from_answer(
        cls, answer: Dataset, patient_id: str, study_uid: str, server: str
    ) -> SeriesRef:
        """A series-level query answer (a pydicom Dataset from QIDO-RS or C-FIND) as a
        SeriesRef; its SeriesInstanceUID is checked (:func:`checked_uid`)."""
        count = answer.get("NumberOfSeriesRelatedInstances")
        return cls(
            patient_id,
            study_uid,
            checked_uid(answer.get("SeriesInstanceUID"), "SeriesInstanceUID", server),
            str(answer.get("Modality", "")),
            int(count) if count not in (None, "") else None,
        )


def checked_uid(value: object, what: str, server: str) -> str:
    """``value`` if it is a DICOM UID (digits and dots, at most 64 characters), which is also
    what makes it safe as a file name; otherwise a PacsError naming the server."""
    text = str(value or "").strip().rstrip("\x00")
    if len(text) > 64 or not _UID.fullmatch(text):
        raise PacsError(f"{server} answered an invalid {what} {text[:70]!r}")
    return text


def patient_folder(patient_id: str) -> str:
    """A file-system-safe folder name for a PatientID (``unknown`` when empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id).strip("._") or "unknown"


def series_folder(out: Path, ref: InstanceRef | SeriesRef) -> Path:
    """The folder of ``ref``'s series under ``out``."""
    return out / patient_folder(ref.patient_id) / ref.study_uid / ref.series_uid


def instance_path(out: Path, ref: InstanceRef) -> Path:
    """Where ``ref`` is stored under ``out``."""
    return series_folder(out, ref) / f"{ref.sop_uid}.dcm"


def write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``target`` through ``write(file)``: temporary name, fsync, rename.

    The temporary file is removed if ``write`` fails, so ``target`` either keeps its previous
    content or holds the complete new one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def is_complete(path: Path, sop_uid: str) -> bool:
    """Whether ``path`` holds a whole DICOM instance with this SOP Instance UID.

    The file is parsed to the end; uncompressed pixel data must be as long as Rows x Columns x
    SamplesPerPixel x BitsAllocated x NumberOfFrames says. A file that fails is logged and
    retrieved again.
    """
    if not path.is_file():
        return False
    try:
        ds = pydicom.dcmread(path)
        if str(ds.SOPInstanceUID) != sop_uid:
            raise ValueError(f"SOPInstanceUID is {ds.SOPInstanceUID}")
        syntax = UID(ds.file_meta.TransferSyntaxUID)
        if "PixelData" in ds and not syntax.is_compressed:
            bits = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
            bits *= int(ds.BitsAllocated) * int(ds.get("NumberOfFrames", 1) or 1)
            if len(ds.PixelData) * 8 < bits:
                raise ValueError("pixel data is truncated")
    except Exception as exc:  # any unreadable file is simply fetched again
        logger.warning("%s is incomplete (%s); retrieving it again", path, exc)
        return False
    return True


def remove_partials(out: Path) -> int:
    """Delete the temporary files an interrupted pull left under ``out``; returns how many."""
    removed = 0
    if not out.is_dir():
        return 0
    for folder, _dirs, files in os.walk(out):
        for name in files:
            if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
                os.unlink(os.path.join(folder, name))
                removed += 1
    return removed
