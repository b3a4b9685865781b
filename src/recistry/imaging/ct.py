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
from recistry.imaging._dicom import HeaderSpec, read_header, tag_label
from recistry.imaging._stack import (
    GEOMETRY_KEYWORDS,
    SliceStack,
    make_volume,
    read_stored_pixels,
    series_label,
    stack_slices,
    stored_dtype,
)
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

_CT_SPEC = HeaderSpec((*GEOMETRY_KEYWORDS, "RescaleType", "PhotometricInterpretation"), lazy=True)


def load_ct(paths: Iterable[str | os.PathLike[str]]) -> Volume:
    """Load one CT series into a volume of Hounsfield units.

    Parameters
    ----------
    paths
        The files of one CT series (single-frame CT Image Storage), in any order.

    Returns
    -------
    Volume
        ``array`` float32 ``[slice, row, column]`` in HU (RescaleSlope × stored +
        RescaleIntercept, per slice); slices ordered by increasing position along the slice
        normal; geometry in LPS mm; ``sop_instance_uids`` in the same slice order.

    Raises
    ------
    DicomError
        Naming the file and tag, when a file is not DICOM, is truncated, is not CT, lacks a
        geometry or rescale attribute, or when the slices do not form one regular grid (mixed
        series or orientations, duplicate or missing slices, non-uniform spacing).
    """
    headers = [read_header(p, _CT_SPEC) for p in paths]
    if not headers:
        raise DicomError("no DICOM files were given for the CT series")
    for h in headers:
        modality = h.require("Modality")
        if modality != "CT":
            raise DicomError(
                f"modality is {modality!r}, not CT ({series_label(headers)})",
                path=h.path,
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
    """Stored values × per-slice slope + intercept, filled slice by slice so that peak memory
    is the output plus one slice."""
    first = stack.headers[0]
    rows, cols = int(first.first("Rows")), int(first.first("Columns"))
    out = np.empty((len(stack.headers), rows, cols), dtype=np.float32)
    buf = np.empty((rows, cols), dtype=stored_dtype(first))
    for k, h in enumerate(stack.headers):
        if stored_dtype(h) != buf.dtype:
            buf = np.empty((rows, cols), dtype=stored_dtype(h))
        read_stored_pixels(h, buf)
        slope = float(h.first("RescaleSlope")) if h.first("RescaleSlope") is not None else None
        intercept = h.first("RescaleIntercept")
        if slope is None or intercept is None:
            missing = "RescaleSlope" if slope is None else "RescaleIntercept"
            raise DicomError(
                "required attribute is missing (CT Image module, Type 1)",
                path=h.path,
                tag=tag_label(missing),
            )
        # One pass over the output when the slope is 1 (nearly every CT).
        if slope == 1.0:
            np.add(buf, np.float32(intercept), out=out[k], casting="unsafe")
        else:
            np.multiply(buf, np.float32(slope), out=out[k], casting="unsafe")
            if intercept:
                out[k] += np.float32(intercept)
    return out
