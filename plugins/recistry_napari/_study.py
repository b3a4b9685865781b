"""A patient's study folder as the annotator sees it: scan dates, each with a CT and maybe a PET.

Discovery and loading are the core's (:mod:`recistry.imaging`); this module only groups what
the index found by scan date and loads one date's volumes on demand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from recistry.imaging.discovery import DicomIndex
from recistry.imaging.volume import Volume


@dataclass(frozen=True, slots=True)
class Scan:
    """One time point: the CT (and PET) series files of one scan date.

    ``ct_slice_thickness_mm`` is the CT's SliceThickness (0018,0050), which sets the measurable
    minimum (RECIST 1.1 §3.1.1); ``None`` when the header lacks it.
    """

    date: dt.date
    study_instance_uid: str
    ct_paths: tuple[Path, ...]
    pet_paths: tuple[Path, ...] = ()
    description: str = ""
    ct_slice_thickness_mm: float | None = None


@dataclass(frozen=True, slots=True)
class Study:
    """All scans of one patient under ``root``, in date order (the first is the baseline).

    ``index`` is the DICOM index the scans were found in, kept for saving (the store indexes
    the images a reading references) so that the folder is not read twice.
    """

    root: Path
    patient_id: str
    scans: tuple[Scan, ...]
    index: DicomIndex | None = field(default=None, compare=False, repr=False)

    def scan(self, date: dt.date) -> Scan:
        """The scan of ``date``; KeyError when there is none."""
        for scan in self.scans:
            if scan.date == date:
                return scan
        raise KeyError(date)


@dataclass(frozen=True, slots=True)
class ScanImages:
    """The volumes of one scan: CT in HU and PET in SUVbw (``None`` without PET)."""

    ct: Volume
    pet: Volume | None
