"""Study folders and scans through the core's imaging API (discovery, CT, PET SUV)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from recistry_napari._study import ScanImages, Study


def load_study(root: Path) -> Study:
    """Index the DICOM files under ``root`` into one patient's scans by date.

    Raises
    ------
    recistry.errors.InputError
        ``root`` holds no CT series, or series of more than one patient.
    """
    raise NotImplementedError("waiting for recistry.imaging.discovery")


def load_images(study: Study, date: dt.date) -> ScanImages:
    """Load the CT (HU) and PET (SUVbw) volumes of the scan of ``date``."""
    raise NotImplementedError("waiting for recistry.imaging.ct and recistry.imaging.pet")
