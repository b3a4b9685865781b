"""Enhanced and legacy-converted multi-frame images as one header per frame.

An Enhanced CT/PET or Legacy Converted Enhanced CT/PET object (PS3.3 A.38, A.56, A.70, A.71)
holds a whole series in one file. What a single-frame slice says at the top level is spread over
the functional groups (PS3.3 C.7.6.16): the Shared Functional Groups Sequence holds the macros
common to every frame, the Per-Frame Functional Groups Sequence one item per frame (Plane
Position, Plane Orientation, Pixel Measures, Pixel Value Transformation, Frame Content …), and
legacy-converted objects keep the remaining original attributes in the Unassigned Shared / Per-Frame
Converted Attributes Sequences (C.7.6.16.2.24, .25). Each frame is turned into the header a
single-frame slice would have, so the loaders stack and check frames with the very same code as
single-frame series.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from recistry.errors import DicomError
from recistry.imaging._dicom import (
    Header,
    HeaderSpec,
    dataset_private_values,
    tag_label,
    values_from_dataset,
)

logger = logging.getLogger(__name__)

_SHARED = 0x52009229  # SharedFunctionalGroupsSequence
_PER_FRAME = 0x52009230  # PerFrameFunctionalGroupsSequence
_UNASSIGNED = frozenset(
    {
        0x00209170,  # UnassignedSharedConvertedAttributesSequence
        0x00209171,  # UnassignedPerFrameConvertedAttributesSequence
    }
)
# Enhanced attributes that carry what a single-frame PET/CT slice says with another keyword
# (Frame Content macro, PS3.3 C.7.6.16.2.2): used only when the classic one is absent.
_CLASSIC_FROM_ENHANCED = (
    ("AcquisitionDateTime", "FrameAcquisitionDateTime"),
    ("ActualFrameDuration", "FrameAcquisitionDuration"),
)


def is_multi_frame(header: Header, enhanced_sop_classes: Sequence[str]) -> bool:
    """Whether ``header`` is a multi-frame image to be read frame by frame."""
    frames = header.first("NumberOfFrames")
    return header.get("SOPClassUID") in enhanced_sop_classes or (frames is not None and frames > 1)


def frame_headers(header: Header, spec: HeaderSpec) -> list[Header]:
    """One header per frame of a multi-frame file, in frame order.

    Each holds the values of ``spec`` as a single-frame slice would: the frame's own functional
    groups first, then the shared ones, then the top-level attributes, then the unassigned
    converted attributes of a legacy-converted object. ``frame`` is the 0-based frame index;
    for native pixel data ``pixel_offset`` is the frame's own offset.

    Raises
    ------
    DicomError
        When NumberOfFrames and the Per-Frame Functional Groups Sequence disagree, when frames
        belong to several stacks or temporal positions (one volume cannot hold them), or when a
        value cannot be read; naming the file and the tag.
    """
    path = header.path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise DicomError(
            f"cannot parse DICOM data ({type(exc).__name__}: {exc})", path=path
        ) from None
    frames = int(header.first("NumberOfFrames") or 1)
    per_frame = ds.get(_PER_FRAME)
    items = list(per_frame.value) if per_frame is not None and per_frame.VR == "SQ" else []
    if items and len(items) != frames:
        raise DicomError(
            f"has {len(items)} items but NumberOfFrames is {frames}",
            path=path,
            tag=tag_label("PerFrameFunctionalGroupsSequence"),
        )
    shared_elem = ds.get(_SHARED)
    shared = shared_elem.value[0] if shared_elem is not None and shared_elem.value else Dataset()
    top = Dataset()
    for elem in ds:
        if elem.tag not in (_SHARED, _PER_FRAME):
            top.add(elem)
    shared_unassigned, shared_macros = _split(shared)
    frame_bytes = _frame_bytes(header)
    length = header.pixel_length
    if header.pixel_offset is not None and length is not None and length < frames * frame_bytes:
        raise DicomError(
            f"PixelData holds {length} bytes, {frames * frame_bytes} expected for {frames} frames",
            path=path,
            tag=tag_label("PixelData"),
        )
    out = []
    stacks: set[str] = set()
    temporal: set[int] = set()
    for k in range(frames):
        own_unassigned, own_macros = _split(items[k]) if items else (Dataset(), Dataset())
        flat = Dataset()
        for part in (shared_unassigned, own_unassigned, top, shared_macros, own_macros):
            flat.update(part)
        for classic, enhanced in _CLASSIC_FROM_ENHANCED:
            if classic not in flat and enhanced in flat:
                flat.add_new(
                    classic, "DT" if classic.endswith("DateTime") else "DS", flat[enhanced].value
                )
        values: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values_from_dataset(flat, spec.tree, values, path)
        stack_id = flat.get("StackID")
        if stack_id is not None:
            stacks.add(str(stack_id))
        position_index = flat.get("TemporalPositionIndex")
        if position_index is not None:
            temporal.add(int(position_index))
        in_stack = flat.get("InStackPositionNumber")
        if in_stack is not None:
            values["InStackPositionNumber"] = (int(in_stack),)
        offset = None
        if header.pixel_offset is not None:
            offset = header.pixel_offset + k * frame_bytes
        out.append(
            Header(
                path,
                values,
                dataset_private_values(flat, spec.private_groups),
                header.transfer_syntax_uid,
                offset,
                frame_bytes if offset is not None else None,
                k,
            )
        )
    if len(stacks) > 1:
        raise DicomError(
            f"the {frames} frames form {len(stacks)} stacks ({', '.join(sorted(stacks))}); one "
            "volume holds one stack: split the object",
            path=path,
            tag=tag_label("StackID"),
        )
    if len(temporal) > 1:
        raise DicomError(
            f"the {frames} frames are {len(temporal)} time points; one volume holds one time "
            "point: split the object",
            path=path,
            tag=tag_label("TemporalPositionIndex"),
        )
    logger.debug("%s: %d frames read as slices", path, frames)
    return out


def _split(item: Dataset) -> tuple[Dataset, Dataset]:
    """The unassigned converted attributes, and every other macro's attributes, of one
    functional groups item (each macro is a one-item sequence)."""
    unassigned, macros = Dataset(), Dataset()
    for elem in item:
        if elem.VR != "SQ" or not elem.value:
            continue
        target = unassigned if elem.tag in _UNASSIGNED else macros
        target.update(elem.value[0])
    return unassigned, macros


def _frame_bytes(header: Header) -> int:
    rows = int(header.first("Rows") or 0)
    columns = int(header.first("Columns") or 0)
    bits = int(header.first("BitsAllocated") or 16)
    samples = int(header.first("SamplesPerPixel") or 1)
    return rows * columns * samples * (bits // 8)
