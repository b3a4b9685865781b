"""npe2 reader: a dropped study folder opens as CT and PET SUV layers in patient mm.

``get_reader`` only sniffs (it must not raise); the returned reader loads the baseline scan
through :mod:`recistry_napari._loading` and tags the layers with the study root, so an open
annotator widget takes the study over.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_SNIFF_FILES = 64
"""Files looked at before giving up on a folder: enough for any real study layout."""

LayerData = tuple[Any, dict[str, Any], str]


def _looks_like_dicom(path: Path) -> bool:
    # DICOM PS3.10 §7.1: a 128-byte preamble, then the "DICM" prefix.
    try:
        with path.open("rb") as fp:
            fp.seek(128)
            return fp.read(4) == b"DICM"
    except OSError:
        return False


def _has_dicom(root: Path) -> bool:
    seen = 0
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            if _looks_like_dicom(Path(folder) / name):
                return True
            seen += 1
            if seen >= _SNIFF_FILES:
                return False
    return False


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Return :func:`read_study` for a folder holding DICOM files, else ``None``."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    root = Path(path)
    if not root.is_dir() or not _has_dicom(root):
        return None
    return read_study


def read_study(path: str | list[str]) -> list[LayerData]:
    """Load the baseline CT (and PET SUV) of the study folder ``path`` as layer data.

    Raises
    ------
    recistry.errors.RecistryError
        The folder holds no readable CT, or a series is inconsistent (napari shows the message).
    """
    from recistry_napari._layers import ct_layer_data, pet_layer_data
    from recistry_napari._loading import load_images, load_study

    root = Path(path[0] if isinstance(path, list) else path)
    study = load_study(root)
    baseline = study.scans[0]
    images = load_images(study, baseline.date)
    tag = {"study_root": str(root), "scan_date": baseline.date.isoformat()}
    layers = [ct_layer_data(images.ct)]
    if images.pet is not None:
        layers.append(pet_layer_data(images.pet))
    for _data, kwargs, _kind in layers:
        kwargs["metadata"]["recistry"].update(tag)
    return layers
