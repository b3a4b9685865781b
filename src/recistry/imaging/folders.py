"""Load the CT or PET series held in one folder (the command line's SERIES_DIR arguments)."""

from __future__ import annotations

import os
from pathlib import Path

from recistry.errors import InputError
from recistry.imaging.volume import Volume

__all__ = ["load_ct_folder", "load_pet_folder"]


def _files(folder: str | os.PathLike[str], what: str) -> list[str]:
    from recistry.imaging.discovery import iter_files

    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"the {what} folder does not exist or is not a folder", path=str(path))
    files = list(iter_files(path))
    if not files:
        raise InputError(f"the {what} folder holds no files", path=str(path))
    return files


def load_ct_folder(folder: str | os.PathLike[str]) -> Volume:
    """The CT series in ``folder`` (every file under it) as a volume in HU.

    Raises
    ------
    InputError
        When the folder is missing or empty.
    DicomError
        As :func:`recistry.imaging.ct.load_ct` (naming the file and tag).
    """
    from recistry.imaging.ct import load_ct

    return load_ct(_files(folder, "CT"))


def load_pet_folder(folder: str | os.PathLike[str]) -> Volume:
    """The PET series in ``folder`` in SUVbw (g/ml); errors as :func:`load_ct_folder`."""
    from recistry.imaging.pet import load_pet_suv

    return load_pet_suv(_files(folder, "PET"))
