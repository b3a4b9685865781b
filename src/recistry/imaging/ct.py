"""CT series → a volume in Hounsfield units, in patient millimetres (LPS).

Each slice is rescaled with its own RescaleSlope and RescaleIntercept (PS3.3 C.11.1.1.2, the
Modality LUT), since the values may differ between slices of one series; slices are sorted
along the slice normal whatever the file order (see :mod:`recistry.imaging._stack`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import numpy as np

from recistry.errors import DicomError
from recistry.imaging._dicom import HeaderSpec, tag_label
from recistry.imaging._stack import (
    GEOMETRY_KEYWORDS,
    SliceStack,
    make_volume,
    rescaled_slices,
    series_headers,
    series_label,
    stack_slices,
)
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

_CT_SPEC = HeaderSpec((*GEOMETRY_KEYWORDS, "RescaleType", "PhotometricInterpretation"), lazy=True)


def load_ct(paths: Iterable[str | os.PathLike[str]]) -> Volume:
    """Load one CT series into a volume of Hounsfield units.

    Parameters
    ----------
    paths
        The files of one CT series, in any order: single-frame CT Image Storage slices, or
        Enhanced CT / Legacy Converted Enhanced CT multi-frame images, in any transfer syntax of
        :data:`recistry.imaging.pixels.TRANSFER_SYNTAXES`.

    Returns
    -------
    Volume
        ``array`` float32 ``[slice, row, column]`` in HU (RescaleSlope × stored +
        RescaleIntercept, per slice); slices ordered by increasing position along the slice
        normal; geometry in LPS mm; ``sop_instance_uids`` (and ``frame_numbers`` for a
        multi-frame image) in the same slice order.

    Raises
    ------
    DicomError
        Naming the file and tag, when a file is not DICOM, is truncated, is not CT, lacks a
        geometry or rescale attribute, or when the slices do not form one regular grid (mixed
        series or orientations, duplicate or missing slices, non-uniform spacing).
    """
    headers = series_headers(list(paths), _CT_SPEC)
    if not headers:
        raise DicomError("no DICOM files were given for the CT series")
    for h in headers:
        modality = h.require("Modality")
        if modality != "CT":
            raise DicomError(
                f"modality is {modality!r}, not CT ({series_label(h)})",
                path=h.location,
                tag=tag_label("Modality"),
            )
    stack = stack_slices(headers)
    provenance = {"rescale": "per-slice RescaleSlope and RescaleIntercept (PS3.3 C.11.1.1.2)"}
    rescale_type = headers[0].get("RescaleType")
    if rescale_type not in (None, "HU"):
        # CT Image IOD: RescaleType is only present when the units are not HU (C.8.2.1.1.6).
        logger.warning(
            "%s: RescaleType is %r, not HU; values are kept as rescaled",
            series_label(headers),
            rescale_type,
        )
        provenance["rescale_type"] = str(rescale_type)
    array = _rescaled_volume(stack)
    if stack.tilt_deg > 0.01:
        provenance["gantry_tilt_deg"] = f"{stack.tilt_deg:.3f}"
    return make_volume(stack, array, "HU", provenance)


def _rescaled_volume(stack: SliceStack) -> np.ndarray:
    """Stored values × per-slice slope + intercept; the rescale of every slice is checked
    before any pixel is read."""
    scale_offset = []
    for h in stack.headers:
        slope, intercept = h.first("RescaleSlope"), h.first("RescaleIntercept")
        if slope is None or intercept is None:
            missing = "RescaleSlope" if slope is None else "RescaleIntercept"
            raise DicomError(
                "required attribute is missing (CT Image module, Type 1)",
                path=h.path,
                tag=tag_label(missing),
            )
        scale_offset.append((float(slope), float(intercept)))
    return rescaled_slices(stack, scale_offset)
