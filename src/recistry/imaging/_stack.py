"""Stack single-frame slices of one series into a volume: geometry checks and pixel reading.

Shared by the CT and PET loaders. A multi-frame image (Enhanced or Legacy Converted Enhanced CT and
PET) is read as one header per frame (:mod:`recistry.imaging._frames`) and stacked like single-frame
slices, with the same checks. Slices are sorted by the projection of ImagePositionPatient on
the slice normal (row direction × column direction), as GDCM does; InstanceNumber is not trusted
(PS3.3 C.7.6.2.1.1: the position and orientation attributes define the geometry). A series whose
slices do not form one regular grid is refused with a message naming the series, never stacked
into a silently wrong volume.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recistry.errors import DicomError
from recistry.imaging._decode import DecodeFailure, FrameRequest, decode_in_parallel
from recistry.imaging._dicom import (
    Header,
    HeaderSpec,
    read_series_headers,
    tag_label,
    varying_keywords,
)
from recistry.imaging._frames import frame_headers, is_multi_frame
from recistry.imaging.pixels import ENHANCED_IMAGE_STORAGE, transfer_syntax_name
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

#: Attributes every image slice must carry to be placed in patient space (PS3.3 C.7.6.2, C.7.6.3).
GEOMETRY_KEYWORDS = (
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "FrameOfReferenceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "Modality",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "NumberOfFrames",
    "RescaleSlope",
    "RescaleIntercept",
    "InstanceNumber",
    "SeriesDescription",
    "SeriesNumber",
)

# Checked in every slice before any pixel is read: the geometry (PS3.3 C.7.6.2, C.7.6.3) and the
# identity a volume records (PS3.3 C.7.4.1, C.12.1).
_REQUIRED = (
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "FrameOfReferenceUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
)
# What must be the same in every slice of a volume.
_PLANE = frozenset(
    {"ImageOrientationPatient", "Rows", "Columns", "PixelSpacing", "FrameOfReferenceUID"}
)

# Orientation cosines are written with limited precision; 1e-4 is far below any real difference
# between two orientations yet above DS rounding.
_ORIENTATION_TOLERANCE = 1e-4


@dataclass(frozen=True, slots=True)
class SliceStack:
    """Sorted slices of one series and the grid they form.

    Attributes
    ----------
    headers
        The slice headers in volume order (increasing position along the slice normal).
    origin_mm
        LPS position (mm) of the centre of the first voxel of the first slice.
    spacing_mm
        ``(slice, row, column)`` spacing in mm.
    direction
        3×3, columns are the LPS directions of increasing column index, row index and slice
        index. With gantry tilt the third column is the (oblique) step between slice origins,
        so :meth:`Volume.index_to_patient` stays exact.
    tilt_deg
        Angle between the slice step and the slice normal (0 without gantry tilt).
    """

    headers: tuple[Header, ...]
    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    direction: npt.NDArray[np.float64]
    tilt_deg: float


def series_headers(paths: Sequence[str | os.PathLike[str]], spec: HeaderSpec) -> list[Header]:
    """The headers of the files of one series, one per frame for multi-frame images, in file
    (then frame) order. ``spec`` must read NumberOfFrames, SOPClassUID and the pixel layout."""
    headers = read_series_headers(paths, spec)
    if not any(is_multi_frame(h, tuple(ENHANCED_IMAGE_STORAGE)) for h in headers):
        return headers
    out: list[Header] = []
    for h in headers:
        if is_multi_frame(h, tuple(ENHANCED_IMAGE_STORAGE)):
            out.extend(frame_headers(h, spec))
        else:
            out.append(h)
    return out


def series_label(headers: Header | Sequence[Header]) -> str:
    """How messages name a series: description, number and UID (of the first header given; pass
    the header a message is about, so that it names that file's own series)."""
    first = headers if isinstance(headers, Header) else headers[0]
    desc = first.get("SeriesDescription") or "(no description)"
    number = first.first("SeriesNumber")
    uid = first.get("SeriesInstanceUID", "?")
    return f"series {desc!r} #{number if number is not None else '?'} ({uid})"


def stack_slices(headers: Sequence[Header]) -> SliceStack:
    """Sort the slices of one series along their normal and check they form a regular grid.

    Raises
    ------
    DicomError
        For files of several series, mixed orientations, pixel spacings or matrix sizes,
        duplicate slice positions, missing slices, non-uniform spacing, multi-frame or colour
        images, or a missing geometry attribute (named with its tag).
    """
    if not headers:
        raise DicomError("no DICOM files were given for the series")
    first = headers[0]
    label = series_label(first)
    uid = first.get("SeriesInstanceUID")
    for h in headers:
        if h.get("SeriesInstanceUID") != uid:
            uids = {str(h.get("SeriesInstanceUID")) for h in headers}
            raise DicomError(
                f"belongs to {series_label(h)}, not to {label} of {first.path}: the files belong "
                f"to {len(uids)} different series; load one series at a time",
                path=h.location,
                tag=tag_label("SeriesInstanceUID"),
            )
    varying = varying_keywords(headers)
    # Attributes whose bytes are the first file's in every file are checked in the first only.
    per_file = [k for k in _REQUIRED if varying is None or k in varying]
    for h in headers:
        for keyword in _REQUIRED if h is first else per_file:
            value = h.get(keyword)
            if value is None or value == "" or value == ():
                raise DicomError(
                    f"required attribute is missing or empty ({label})",
                    path=h.location,
                    tag=tag_label(keyword),
                )
            expected = {
                "ImagePositionPatient": 3,
                "ImageOrientationPatient": 6,
                "PixelSpacing": 2,
            }.get(keyword)
            if expected is not None and len(value) != expected:
                raise DicomError(
                    f"has {len(value)} values, expected {expected} ({label})",
                    path=h.location,
                    tag=tag_label(keyword),
                )
        frames = h.first("NumberOfFrames")
        if h.frame is None and frames is not None and frames > 1:
            raise DicomError(  # series_headers reads such files frame by frame
                f"multi-frame image ({frames} frames) read as one slice ({label})",
                path=h.location,
                tag=tag_label("NumberOfFrames"),
            )
        samples = h.first("SamplesPerPixel")
        if samples is not None and samples != 1:
            raise DicomError(
                f"colour images cannot be loaded as a volume ({label})",
                path=h.location,
                tag=tag_label("SamplesPerPixel"),
            )

    iop0 = np.asarray(first.values["ImageOrientationPatient"], dtype=np.float64)
    for h in headers[1:] if varying is None or not varying.isdisjoint(_PLANE) else ():
        if h.same(first, "ImageOrientationPatient"):
            iop = iop0
        else:
            iop = np.asarray(h.values["ImageOrientationPatient"], dtype=np.float64)
        if iop is not iop0 and np.max(np.abs(iop - iop0)) > _ORIENTATION_TOLERANCE:
            raise DicomError(
                f"mixed orientations in {label}: {_fmt(iop0)} in {first.location} but "
                f"{_fmt(iop)} here; split the series by orientation",
                path=h.location,
                tag=tag_label("ImageOrientationPatient"),
            )
        for keyword in ("Rows", "Columns", "PixelSpacing", "FrameOfReferenceUID"):
            if not h.same(first, keyword):
                raise DicomError(
                    f"differs within {label}: {first.values[keyword]} in {first.location}, "
                    f"{h.values[keyword]} here",
                    path=h.location,
                    tag=tag_label(keyword),
                )
    row_dir = iop0[:3] / np.linalg.norm(iop0[:3])  # direction of increasing column index
    col_dir = iop0[3:] / np.linalg.norm(iop0[3:])  # direction of increasing row index
    if abs(float(row_dir @ col_dir)) > 1e-3:
        raise DicomError(
            f"row and column directions are not orthogonal in {label}",
            path=first.path,
            tag=tag_label("ImageOrientationPatient"),
        )
    normal = np.cross(row_dir, col_dir)
    positions = np.asarray([h.values["ImagePositionPatient"] for h in headers], dtype=np.float64)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    positions = positions[order]
    along = along[order]
    sorted_headers = tuple(headers[int(i)] for i in order)
    row_mm, col_mm = (float(v) for v in first.values["PixelSpacing"])

    if len(sorted_headers) == 1:
        thickness = first.first("SliceThickness")
        step = float(thickness) if thickness else 1.0
        direction = np.column_stack([row_dir, col_dir, normal])
        origin = (float(positions[0][0]), float(positions[0][1]), float(positions[0][2]))
        return SliceStack(sorted_headers, origin, (step, row_mm, col_mm), direction, 0.0)

    steps = np.diff(along)
    tolerance = max(1e-3, 0.01 * float(np.median(steps)))
    duplicates = np.flatnonzero(steps < tolerance)
    if duplicates.size:
        i = int(duplicates[0])
        raise DicomError(
            f"duplicate slice position {along[i]:.3f} mm along the normal in {label}: "
            f"{sorted_headers[i].location} and {sorted_headers[i + 1].location}; remove the "
            "duplicate",
            path=sorted_headers[i + 1].location,
            tag=tag_label("ImagePositionPatient"),
        )
    step = float(np.median(steps))
    off = np.flatnonzero(np.abs(steps - step) > tolerance)
    if off.size:
        i = int(off[0])
        ratio = steps[i] / step
        if abs(ratio - round(ratio)) < 0.05 and round(ratio) >= 2:
            what = f"{round(ratio) - 1} missing slice(s)"
        else:
            what = "non-uniform slice spacing"
        raise DicomError(
            f"{what} in {label}: step {steps[i]:.3f} mm between {sorted_headers[i].location} "
            f"and {sorted_headers[i + 1].location}, {step:.3f} mm elsewhere; the series cannot "
            "be stacked into a regular volume",
            path=sorted_headers[i + 1].location,
            tag=tag_label("ImagePositionPatient"),
        )
    # Slice origins should advance along the normal; an in-plane drift is gantry tilt (or a
    # sheared reconstruction). The oblique step keeps index-to-patient mapping exact.
    step_vec = (positions[-1] - positions[0]) / (len(positions) - 1)
    residual = positions - (positions[0] + np.outer(np.arange(len(positions)), step_vec))
    if float(np.max(np.abs(residual))) > tolerance:
        raise DicomError(
            f"slice positions of {label} do not lie on a straight line; the series cannot be "
            "stacked into a regular volume",
            path=sorted_headers[0].location,
            tag=tag_label("ImagePositionPatient"),
        )
    _check_in_stack_order(sorted_headers, label)
    step_len = float(np.linalg.norm(step_vec))
    cos_tilt = min(1.0, abs(float(step_vec @ normal)) / step_len)
    tilt_deg = math.degrees(math.acos(cos_tilt))
    if tilt_deg > 0.01:
        logger.warning(
            "%s: gantry tilt of %.2f degrees; the volume keeps the sheared geometry (slice "
            "direction along the tilted step)",
            label,
            tilt_deg,
        )
        slice_dir = step_vec / step_len
    else:
        slice_dir = normal
        step_len = step
    direction = np.column_stack([row_dir, col_dir, slice_dir])
    return SliceStack(
        sorted_headers,
        (float(positions[0][0]), float(positions[0][1]), float(positions[0][2])),
        (step_len, row_mm, col_mm),
        direction,
        tilt_deg,
    )


def _check_in_stack_order(headers: Sequence[Header], label: str) -> None:
    """Frames of one stack are numbered along it: In-Stack Position Number (0020,9057) must run
    consecutively, up or down, in the order of their positions (PS3.3 C.7.6.16.2.2.4)."""
    numbers = [h.first("InStackPositionNumber") for h in headers]
    if len(numbers) < 2 or any(n is None for n in numbers):
        return
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    if steps not in ({1}, {-1}):
        k = next(i for i, (a, b) in enumerate(itertools.pairwise(numbers)) if abs(b - a) != 1)
        raise DicomError(
            f"In-Stack Position Numbers {numbers[k]} and {numbers[k + 1]} are neighbours along "
            f"the slice normal in {label}: the dimension index does not follow the frame "
            "positions",
            path=headers[k + 1].location,
            tag=tag_label("InStackPositionNumber"),
        )


def _fmt(values: npt.NDArray[np.float64]) -> str:
    return "\\".join(f"{v:g}" for v in values)


_STORED_LAYOUT = frozenset({"BitsAllocated", "PixelRepresentation", "BitsStored"})


def stored_dtype(header: Header) -> np.dtype[np.integer]:
    """The numpy dtype of the stored pixel values of a slice (PS3.5 §8.1.1)."""
    bits = header.first("BitsAllocated")
    signed = header.first("PixelRepresentation") == 1
    if bits not in (8, 16, 32):
        raise DicomError(
            f"BitsAllocated {bits} is not supported for volumes",
            path=header.path,
            tag=tag_label("BitsAllocated"),
        )
    return np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")


def read_native_pixels(
    header: Header, out: npt.NDArray[np.integer], bits_stored: int | None
) -> None:
    """Read the native stored values of one slice (or frame) straight from the file into ``out``
    (Rows × Columns, dtype from :func:`stored_dtype`); ``header.pixel_offset`` must be known.

    Bits above ``bits_stored`` (the slice's BitsStored) are masked (and sign-extended for signed
    data), as PS3.5 §8.1.1 requires.
    """
    assert header.pixel_offset is not None
    rows, cols = out.shape
    expected = rows * cols * out.dtype.itemsize
    if header.pixel_length is not None and header.pixel_length < expected:
        raise DicomError(
            f"PixelData holds {header.pixel_length} bytes, {expected} expected for "
            f"{rows}×{cols} pixels",
            path=header.location,
            tag=tag_label("PixelData"),
        )
    with open(header.path, "rb", buffering=0) as fp:
        fp.seek(header.pixel_offset)
        got = fp.readinto(memoryview(out).cast("B"))  # type: ignore[arg-type]
    if got != expected:
        raise DicomError(
            f"file is truncated: PixelData has {got} of {expected} bytes",
            path=header.location,
            tag=tag_label("PixelData"),
        )
    bits = out.dtype.itemsize * 8
    if bits_stored is not None and bits_stored < bits:
        shift = bits - int(bits_stored)
        if out.dtype.kind == "i":
            np.left_shift(out, shift, out=out)
            np.right_shift(out, shift, out=out)  # arithmetic shift: sign extension
        else:
            np.bitwise_and(out, (1 << int(bits_stored)) - 1, out=out)


def make_volume(
    stack: SliceStack, array: npt.NDArray[np.floating], units: str, provenance: dict[str, str]
) -> Volume:
    """The :class:`Volume` of a stacked series holding ``array`` in ``units``."""
    first = stack.headers[0]
    return Volume(
        array=array,
        spacing_mm=stack.spacing_mm,
        origin_mm=stack.origin_mm,
        direction=stack.direction,
        frame_of_reference_uid=str(first.require("FrameOfReferenceUID")),
        sop_instance_uids=tuple(str(h.require("SOPInstanceUID")) for h in stack.headers),
        frame_numbers=tuple(h.frame + 1 for h in stack.headers if h.frame is not None),
        series_instance_uid=str(first.require("SeriesInstanceUID")),
        study_instance_uid=str(first.require("StudyInstanceUID")),
        modality=str(first.require("Modality")),
        units=units,
        provenance=provenance,
    )


def rescaled_slices(
    stack: SliceStack, scale_offset: Sequence[tuple[float, float]]
) -> npt.NDArray[np.float32]:
    """``out[k] = stored_k × scale_k + offset_k`` as float32 ``[slice, row, column]``.

    Native slices are read by a few threads (file reads and numpy arithmetic release the GIL),
    each into its own one-slice buffer; compressed slices are decoded in worker processes
    (:mod:`recistry.imaging._decode`) and rescaled here as they arrive. Peak memory is the output
    plus a few slices.
    """
    headers = stack.headers
    first = headers[0]
    rows, cols = int(first.first("Rows")), int(first.first("Columns"))
    out = np.empty((len(headers), rows, cols), dtype=np.float32)
    # Looked up once when no file of the series differs in these attributes.
    varying = varying_keywords(headers)
    shared = None
    if varying is not None and varying.isdisjoint(_STORED_LAYOUT):
        shared = (stored_dtype(first), first.first("BitsStored"))

    def store(k: int, stored: npt.NDArray[np.integer]) -> None:
        scale, offset = scale_offset[k]
        # A plain cast first (the one pass that writes fresh memory, near memory speed), then
        # the rescale in place while the slice is in cache; the same float32 results as
        # computing stored × scale + offset in float32.
        slice_out = out[k]
        np.copyto(slice_out, stored, casting="unsafe")
        if scale != 1.0:
            slice_out *= np.float32(scale)
        if offset:
            slice_out += np.float32(offset)

    def fill(ks: Sequence[int]) -> None:
        buf: npt.NDArray[np.integer] | None = None
        for k in ks:
            h = headers[k]
            dtype, bits_stored = shared or (stored_dtype(h), h.first("BitsStored"))
            if buf is None or buf.dtype != dtype:
                buf = np.empty((rows, cols), dtype=dtype)
            read_native_pixels(h, buf, bits_stored)
            store(k, buf)

    native = [k for k, h in enumerate(headers) if h.pixel_offset is not None]
    coded = [k for k, h in enumerate(headers) if h.pixel_offset is None]
    if coded:
        _decode_slices(headers, coded, (rows, cols), store)
    n = len(native)
    workers = max(1, min(4, os.cpu_count() or 1, n // 8))
    if workers == 1:
        fill(native)
        return out
    bounds = [n * w // workers for w in range(workers + 1)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recistry-slices") as pool:
        futures = [pool.submit(fill, native[a:b]) for a, b in itertools.pairwise(bounds)]
        for future in futures:
            future.result()
    return out


def _decode_slices(
    headers: Sequence[Header],
    coded: Sequence[int],
    shape: tuple[int, int],
    store: Callable[[int, npt.NDArray[np.integer]], None],
) -> None:
    """Decode the compressed slices ``coded`` (or native ones pydicom must read: big endian,
    deflated, bare data sets) and hand each to ``store``; pydicom applies BitsStored."""
    requests = [
        FrameRequest(headers[k].path, headers[k].frame, headers[k].transfer_syntax_uid)
        for k in coded
    ]
    try:
        for position, frame in decode_in_parallel(requests):
            k = coded[position]
            if frame.shape != shape:
                raise DicomError(
                    f"pixel array has shape {frame.shape}, expected {shape}",
                    path=headers[k].location,
                    tag=tag_label("PixelData"),
                )
            store(k, frame)
    except DecodeFailure as failure:
        h = headers[coded[failure.index]]
        raise DicomError(
            f"cannot decode the pixel data ({failure.reason}; transfer syntax "
            f"{transfer_syntax_name(h.transfer_syntax_uid)})",
            path=h.location,
            tag=tag_label("PixelData"),
        ) from None
