"""Which of recistry's output files go back to the PACS after an export."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pydicom
from pydicom.uid import UID

from recistry.imaging.discovery import iter_files

__all__ = ["SEGMENTATION_STORAGE", "outputs_to_store"]

SEGMENTATION_STORAGE = UID("1.2.840.10008.5.1.4.1.1.66.4")
"""Segmentation Storage SOP Class (DICOM PS3.4 B.5)."""


def outputs_to_store(out: Path, written: Iterable[Path]) -> list[Path]:
    """The files an export wrote, plus every DICOM SEG file under ``out``, each once.

    Hidden files (an interrupted write's temporary files) are never included.
    """
    chosen = {Path(p) for p in written}
    for name in iter_files(out):
        path = Path(name)
        if path in chosen or path.name.startswith("."):
            continue
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except (OSError, pydicom.errors.InvalidDicomError):
            continue
        if header.get("SOPClassUID") == SEGMENTATION_STORAGE:
            chosen.add(path)
    return sorted(chosen, key=os.fspath)
