"""Lesion metrics in patient space: line lengths, RECIST axes from masks, PET uptake.

Every result carries its geometry in DICOM patient coordinates (LPS, mm) together with the
frame of reference, never as voxel indices only, so it survives a change of reader or grid.

- :func:`line_on_slice` and :func:`line_on_volume`: a two-point line drawn on a CT slice.
- :func:`lesion_axes`: RECIST 1.1 long axis (longest in-plane diameter over all slices) and short
  axis (longest diameter perpendicular to it on the same slice) of a lesion mask; also from a DICOM
  SEG with :func:`volume_from_seg`.
- :func:`voi_uptake`: SUVmax, SUVmean and SUVpeak (PERCIST 1 cm³ sphere) of a PET volume of
  interest; :func:`sphere_uptake` for the liver (3 cm) and spleen reference SUVmean.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recistry.errors import DicomError, InputError
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

__all__ = [
    "LIVER_REFERENCE_DIAMETER_MM",
    "PEAK_SPHERE_ML",
    "SPLEEN_REFERENCE_DIAMETER_MM",
    "LesionAxes",
    "ReferenceUptake",
    "Segment",
    "VoiUptake",
    "lesion_axes",
    "line_on_slice",
    "line_on_volume",
    "mask_on_grid",
    "sphere_uptake",
    "sphere_voxels",
    "voi_uptake",
    "volume_from_seg",
]

PEAK_SPHERE_ML = 1.0
"""Volume of the SUVpeak sphere (PERCIST 1.0, Wahl et al. JNM 2009): 1 cm³, 12.4 mm across."""
LIVER_REFERENCE_DIAMETER_MM = 30.0
"""PERCIST liver reference: a 3 cm sphere in normal right lobe."""
SPLEEN_REFERENCE_DIAMETER_MM = 20.0
"""Spleen reference sphere (no PERCIST standard; 2 cm fits inside a normal spleen)."""

Point = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Segment:
    """A straight measurement between two points.

    Attributes
    ----------
    length_mm
        Euclidean distance between the end points (mm).
    start_lps_mm, end_lps_mm
        End points in patient coordinates (DICOM LPS, mm).
    slice_index
        Index ``k`` of the slice in the volume it was measured on, when measured on a volume.
    sop_instance_uid
        SOPInstanceUID of the image the line lies on, when known.
    frame_of_reference_uid
        Frame of reference of the end points.
    """

    length_mm: float
    start_lps_mm: Point
    end_lps_mm: Point
    slice_index: int | None = None
    sop_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True, slots=True)
class LesionAxes:
    """RECIST 1.1 diameters of one lesion (§3.1 and Appendix; both on the same axial slice).

    ``long_axis`` is the longest in-plane diameter over all slices; ``short_axis`` the longest
    chord perpendicular to it on that slice. ``voxel_count`` is the size of the mask.
    """

    long_axis: Segment
    short_axis: Segment
    voxel_count: int


@dataclass(frozen=True, slots=True)
class VoiUptake:
    """PET uptake of a volume of interest, in the units of the volume (SUV g/ml for SUVbw).

    Attributes
    ----------
    suv_max
        Hottest voxel in the VOI; ``max_lps_mm`` is its centre.
    suv_mean
        Mean over the VOI voxels.
    suv_peak
        Highest mean over a sphere of ``PEAK_SPHERE_ML`` centred on any VOI voxel (PERCIST);
        the sphere holds the voxels whose centres lie within its radius and may extend past the
        VOI. ``peak_center_lps_mm`` is its centre and ``peak_voxel_count`` its size in voxels.
    voxel_count, volume_ml
        Size of the VOI.
    """

    suv_max: float
    suv_mean: float
    suv_peak: float
    max_lps_mm: Point
    peak_center_lps_mm: Point
    peak_voxel_count: int
    voxel_count: int
    volume_ml: float


@dataclass(frozen=True, slots=True)
class ReferenceUptake:
    """Mean and standard deviation of a reference sphere (liver, spleen, blood pool).

    ``suv_mean`` and ``suv_sd`` (population SD) are over the voxels whose centres lie within
    ``diameter_mm / 2`` of ``center_lps_mm``.
    """

    suv_mean: float
    suv_sd: float
    voxel_count: int
    center_lps_mm: Point
    diameter_mm: float


# --- Lines ----------------------------------------------------------------------------------


def _tag_value(ds: Any, keyword: str, tag: str, count: int) -> list[float]:
    path = str(getattr(ds, "filename", "") or "") or None
    value = ds.get(keyword)
    if value is None or value == "":
        raise DicomError(f"missing {keyword}, needed to place points", path=path, tag=tag)
    try:
        values = [float(v) for v in (value if count > 1 else [value])]
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{keyword} is not numeric: {value!r}", path=path, tag=tag) from exc
    if len(values) != count:
        raise DicomError(
            f"{keyword} must have {count} values, has {len(values)}", path=path, tag=tag
        )
    return values


def line_on_slice(ds: Any, start_rc: Sequence[float], end_rc: Sequence[float]) -> Segment:
    """Length and patient-space end points of a line drawn on one image.

    Parameters
    ----------
    ds
        The image's pydicom Dataset (pixel data not needed): ImagePositionPatient,
        ImageOrientationPatient and PixelSpacing are read from it.
    start_rc, end_rc
        End points as (row, column) pixel coordinates, fractional allowed; (0, 0) is the centre
        of the top-left pixel.

    Returns
    -------
    Segment
        Length in mm and both end points in LPS mm (PS3.3 C.7.6.2.1.1: PixelSpacing is the
        (row, column) spacing, i.e. the distance between rows first), with the image's
        SOPInstanceUID and FrameOfReferenceUID.

    Raises
    ------
    DicomError
        When a geometry attribute is missing or malformed (names the file and tag).
    """
    position = np.array(_tag_value(ds, "ImagePositionPatient", "(0020,0032)", 3))
    orientation = np.array(_tag_value(ds, "ImageOrientationPatient", "(0020,0037)", 6))
    row_mm, col_mm = _tag_value(ds, "PixelSpacing", "(0028,0030)", 2)
    along_row, along_column = orientation[:3], orientation[3:]

    def to_lps(rc: Sequence[float]) -> npt.NDArray[np.float64]:
        r, c = float(rc[0]), float(rc[1])
        out: npt.NDArray[np.float64] = position + along_row * col_mm * c + along_column * row_mm * r
        return out

    start, end = to_lps(start_rc), to_lps(end_rc)
    return Segment(
        length_mm=float(np.linalg.norm(end - start)),
        start_lps_mm=_point(start),
        end_lps_mm=_point(end),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")) or None,
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")) or None,
    )


def line_on_volume(
    volume: Volume, slice_index: int, start_rc: Sequence[float], end_rc: Sequence[float]
) -> Segment:
    """Like :func:`line_on_slice` for a line on slice ``slice_index`` of a :class:`Volume`."""
    if not 0 <= slice_index < volume.array.shape[0]:
        raise InputError(
            f"slice {slice_index} is outside the volume (0–{volume.array.shape[0] - 1})",
            column="slice_index",
        )
    kji = np.array(
        [[slice_index, start_rc[0], start_rc[1]], [slice_index, end_rc[0], end_rc[1]]],
        dtype=np.float64,
    )
    start, end = volume.index_to_patient(kji)
    return Segment(
        length_mm=float(np.linalg.norm(end - start)),
        start_lps_mm=_point(start),
        end_lps_mm=_point(end),
        slice_index=slice_index,
        sop_instance_uid=_sop(volume, slice_index),
        frame_of_reference_uid=volume.frame_of_reference_uid,
    )


def _point(p: npt.ArrayLike) -> Point:
    a = np.asarray(p, dtype=np.float64)
    return (float(a[0]), float(a[1]), float(a[2]))


def _sop(volume: Volume, k: int) -> str | None:
    uids = volume.sop_instance_uids
    return uids[k] if len(uids) == volume.array.shape[0] else None


# --- RECIST axes from a mask -----------------------------------------------------------------


def _hull_candidates(mask2d: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Edge mid-points of a pixel mask that can be convex-hull vertices, as (row, column).

    The mid-points of the edges between mask and outside pixels lie on the 0.5 iso-contour
    between inside and outside pixel centres (what marching squares gives on a binary image), so
    a diameter between them is edge to edge, as a reader measures it, where pixel centres alone
    would fall a pixel short. Only the outer edge of the first and last pixel of each row and
    column can be a hull vertex (any other edge mid-point lies between two of those), which keeps
    O(rows + columns) points.
    """
    rows = np.nonzero(mask2d.any(axis=1))[0]
    cols = np.nonzero(mask2d.any(axis=0))[0]
    width, height = mask2d.shape[1], mask2d.shape[0]
    left = np.argmax(mask2d[rows], axis=1)
    right = width - 1 - np.argmax(mask2d[rows, ::-1], axis=1)
    top = np.argmax(mask2d[:, cols], axis=0)
    bottom = height - 1 - np.argmax(mask2d[::-1, cols], axis=0)
    return np.concatenate(
        [
            np.column_stack([rows, left - 0.5]),
            np.column_stack([rows, right + 0.5]),
            np.column_stack([top - 0.5, cols]),
            np.column_stack([bottom + 0.5, cols]),
        ]
    ).astype(np.float64)


def _hull(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Vertices of the 2-D convex hull in counter-clockwise order (Qhull).

    Degenerate input (fewer than three points, or all on one line) gives its two extremes.
    """
    from scipy.spatial import ConvexHull, QhullError

    if len(points) >= 3:
        try:
            out: npt.NDArray[np.float64] = points[ConvexHull(points).vertices]
            return out
        except QhullError:
            pass  # collinear or repeated: fall through to the extremes
    order = np.lexsort((points[:, 1], points[:, 0]))
    return points[[order[0], order[-1]]]


_ANGLES = np.arange(8) * math.pi / 8
_DIRECTIONS = np.vstack([np.cos(_ANGLES), np.sin(_ANGLES)])
_WIDTH_TO_DIAMETER = 1.0 / math.cos(math.pi / 16) + 1e-12


def _diameter(hull: npt.NDArray[np.float64]) -> tuple[float, int, int]:
    """Longest distance between hull vertices and the two vertex indices."""
    diff = hull[:, None, :] - hull[None, :, :]
    d2 = np.einsum("ijk,ijk->ij", diff, diff)
    flat = int(np.argmax(d2))
    a, b = divmod(flat, len(hull))
    return math.sqrt(float(d2[a, b])), a, b


def _perpendicular_chord(
    hull: npt.NDArray[np.float64], p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Longest chord of the convex polygon ``hull`` perpendicular to the segment p–q.

    The chord length across a convex polygon is a concave, piecewise-linear function of the
    position along p–q with breaks at the vertices, so its maximum lies at a vertex position.
    """
    u = (q - p) / np.linalg.norm(q - p)
    n = np.array([-u[1], u[0]])
    if len(hull) < 3:
        return p.copy(), p.copy()
    t_vertices = hull @ u
    a, b = hull, np.roll(hull, -1, axis=0)
    ta, tb = a @ u, b @ u
    best = (-1.0, p.copy(), p.copy())
    for t in t_vertices:
        crossing = (ta - t) * (tb - t) <= 0
        if not np.any(crossing):
            continue
        span = tb[crossing] - ta[crossing]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(span != 0, (t - ta[crossing]) / span, 0.0)
        points = a[crossing] + w[:, None] * (b[crossing] - a[crossing])
        s = points @ n
        length = float(s.max() - s.min())
        if length > best[0]:
            best = (length, points[int(np.argmin(s))], points[int(np.argmax(s))])
    return best[1], best[2]


def lesion_axes(mask: Volume, label: int | None = None) -> LesionAxes:
    """RECIST 1.1 long and short axis of a lesion mask.

    Parameters
    ----------
    mask
        A label or boolean volume on its grid (``array[k, j, i]``, slices assumed axial: the
        diameters are measured in the slice planes).
    label
        The label of the lesion; ``None`` takes every non-zero voxel.

    Returns
    -------
    LesionAxes
        Long axis: the longest diameter on any slice (RECIST 1.1 §3.1: "longest diameter in
        the plane of measurement"). Short axis: the longest chord perpendicular to the long axis
        on the same slice (§3.1, lymph nodes). End points in LPS mm, with the slice's
        SOPInstanceUID when the volume carries them.

    Notes
    -----
    Diameters are taken between the mid-points of the mask's boundary pixel edges, on their
    convex hull: O(boundary) per slice, not all pairs of voxels. Slices whose bounding box
    cannot beat the best diameter so far are skipped. For a non-convex lesion the short axis is
    the chord of the hull (a calliper across the concavity), as a reader's line would be.

    Raises
    ------
    InputError
        When the mask (or the label) is empty.
    """
    array = np.asarray(mask.array)
    selected: npt.NDArray[np.bool_]
    if label is None:
        selected = array if array.dtype == np.bool_ else np.not_equal(array, 0)
    else:
        selected = np.equal(array, label)
    rows_any: npt.NDArray[np.bool_] = np.any(selected, axis=2)
    if not rows_any.any():
        what = "the mask is empty" if label is None else f"label {label} is not in the mask"
        raise InputError(f"cannot measure a lesion: {what}", column="mask")
    # Crop to the lesion's slices and rows once; a lesion mask often spans a whole CT grid.
    ks = np.nonzero(rows_any.any(axis=1))[0]
    js = np.nonzero(rows_any.any(axis=0))[0]
    k0, j0 = int(ks[0]), int(js[0])
    selected = selected[k0 : int(ks[-1]) + 1, j0 : int(js[-1]) + 1]
    rows_any = rows_any[k0 : int(ks[-1]) + 1, j0 : int(js[-1]) + 1]
    cols_any: npt.NDArray[np.bool_] = np.any(selected, axis=1)
    voxel_count = int(np.count_nonzero(selected))
    row_mm, col_mm = mask.spacing_mm[1], mask.spacing_mm[2]
    # Bounding-box diagonal (edge to edge) bounds each slice's diameter: visit the slices from
    # the widest box down and stop when no box can beat the best diameter found.
    bounds: list[tuple[float, int, slice, slice]] = []
    for k in np.nonzero(rows_any.any(axis=1))[0].tolist():
        jj = np.nonzero(rows_any[k])[0]
        ii = np.nonzero(cols_any[k])[0]
        extent = math.hypot((jj[-1] - jj[0] + 1) * row_mm, (ii[-1] - ii[0] + 1) * col_mm)
        bounds.append(
            (extent, k, slice(int(jj[0]), int(jj[-1]) + 1), slice(int(ii[0]), int(ii[-1]) + 1))
        )
    bounds.sort(key=lambda b: (-b[0], b[1]))
    best: tuple[float, int, Any, Any, Any] | None = None
    for extent, slice_k, rows, cols in bounds:
        if best is not None and extent <= best[0]:
            break
        offset = np.array([rows.start + j0, cols.start], dtype=np.float64)
        pts = _hull_candidates(selected[slice_k, rows, cols]) + offset
        pts_mm = pts * (row_mm, col_mm)
        # Widths along 8 directions 22.5° apart: the diameter is at least the largest and at
        # most the largest / cos(11.25°), so most slices are dismissed before any hull.
        projected = pts_mm @ _DIRECTIONS
        width = float((projected.max(axis=0) - projected.min(axis=0)).max())
        if best is not None and width * _WIDTH_TO_DIAMETER <= best[0]:
            continue
        hull = _hull(pts_mm)
        length, a, b = _diameter(hull)
        if best is None or length > best[0]:
            best = (length, slice_k, hull, hull[a], hull[b])
    assert best is not None
    length, k, hull, p, q = best
    s0, s1 = _perpendicular_chord(hull, p, q)

    k += k0

    def segment(e0: npt.NDArray[np.float64], e1: npt.NDArray[np.float64]) -> Segment:
        kji = np.array([[k, e0[0] / row_mm, e0[1] / col_mm], [k, e1[0] / row_mm, e1[1] / col_mm]])
        start, end = mask.index_to_patient(kji)
        return Segment(
            length_mm=float(np.linalg.norm(end - start)),
            start_lps_mm=_point(start),
            end_lps_mm=_point(end),
            slice_index=k,
            sop_instance_uid=_sop(mask, k),
            frame_of_reference_uid=mask.frame_of_reference_uid,
        )

    return LesionAxes(segment(p, q), segment(s0, s1), voxel_count)


def volume_from_seg(path: str | Path, segment_number: int) -> Volume:
    """One segment of a DICOM SEG as a binary :class:`Volume` (via highdicom).

    Parameters
    ----------
    path
        The Segmentation file.
    segment_number
        SegmentNumber (0062,0004) of the lesion.

    Returns
    -------
    Volume
        Boolean ``array[k, j, i]`` with the SEG's geometry (LPS mm) and frame of reference. It
        carries no SOPInstanceUIDs: find the source slice of a measured point with
        ``ct.patient_to_index(point)`` on the CT volume of the same frame.

    Raises
    ------
    DicomError
        When the file is not a readable SEG, the segment does not exist, or its frames do not
        form a regular volume.
    """
    import highdicom as hd

    name = str(path)
    try:
        seg = hd.seg.segread(name)
    except Exception as exc:  # pydicom and highdicom raise many types for unreadable files
        raise DicomError(f"not a readable DICOM Segmentation: {exc}", path=name) from exc
    numbers = [int(s.SegmentNumber) for s in seg.SegmentSequence]
    if segment_number not in numbers:
        raise DicomError(
            f"segment {segment_number} not found (segments: {numbers})",
            path=name,
            tag="SegmentNumber (0062,0004)",
        )
    try:
        volume = seg.get_volume(segment_numbers=[segment_number], combine_segments=True)
    except (RuntimeError, ValueError) as exc:
        raise DicomError(f"segment frames do not form a volume: {exc}", path=name) from exc
    affine = np.asarray(volume.affine, dtype=np.float64)
    # highdicom's affine maps array indices (axis 0, 1, 2) to LPS; ours orders columns (i, j, k).
    spacing = tuple(float(np.linalg.norm(affine[:3, axis])) for axis in range(3))
    direction = np.column_stack([affine[:3, axis] / spacing[axis] for axis in (2, 1, 0)])
    return Volume(
        array=np.asarray(volume.array) != 0,
        spacing_mm=(spacing[0], spacing[1], spacing[2]),
        origin_mm=_point(affine[:3, 3]),
        direction=direction,
        frame_of_reference_uid=str(seg.FrameOfReferenceUID),
        sop_instance_uids=(),
        series_instance_uid=str(seg.SeriesInstanceUID),
        study_instance_uid=str(seg.StudyInstanceUID),
        modality="SEG",
        units="mask",
        provenance={"segment_number": str(segment_number)},
    )


# --- PET uptake ------------------------------------------------------------------------------


def _check_same_frame(a: Volume, b: Volume) -> None:
    if a.frame_of_reference_uid != b.frame_of_reference_uid:
        raise InputError(
            "mask and PET are in different frames of reference "
            f"({a.frame_of_reference_uid} vs {b.frame_of_reference_uid}); register them first",
            column="FrameOfReferenceUID",
        )


def mask_on_grid(mask: Volume, grid: Volume) -> npt.NDArray[np.bool_]:
    """Carry a mask (e.g. drawn on CT) onto another grid of the same frame (e.g. PET).

    A voxel of ``grid`` is set when the centre of at least one mask voxel falls inside it, so a
    lesion smaller than a PET voxel still selects the voxel that holds its uptake.
    """
    _check_same_frame(mask, grid)
    kji = np.argwhere(np.asarray(mask.array) != 0)
    target = np.rint(grid.patient_to_index(mask.index_to_patient(kji))).astype(np.int64)
    shape = np.asarray(grid.array.shape)
    inside = np.all((target >= 0) & (target < shape), axis=1)
    out = np.zeros(grid.array.shape, dtype=bool)
    out[tuple(target[inside].T)] = True
    return out


def _sphere_offsets(spacing_mm: Sequence[float], radius_mm: float) -> npt.NDArray[np.int64]:
    """(dk, dj, di) of the voxels whose centres lie within ``radius_mm`` of a voxel centre."""
    reach = [math.floor(radius_mm / s) for s in spacing_mm]
    grids = np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    d2 = ((offsets * np.asarray(spacing_mm)) ** 2).sum(axis=1)
    out: npt.NDArray[np.int64] = offsets[d2 <= radius_mm**2 + 1e-9]
    return out


def voi_uptake(suv: Volume, voi: npt.NDArray[np.bool_]) -> VoiUptake:
    """SUVmax, SUVmean and SUVpeak of a volume of interest on the PET grid.

    Parameters
    ----------
    suv
        PET volume in SUV (g/ml); any units work, the results are in the same units.
    voi
        Boolean mask with the shape of ``suv.array`` (use :func:`mask_on_grid` for a mask drawn
        on another grid).

    Notes
    -----
    SUVpeak follows PERCIST 1.0 (Wahl et al., JNM 2009;50:122S; O et al., Radiology 2016): the
    highest mean over a 1 cm³ sphere (radius 6.2 mm) placed anywhere its centre is a VOI voxel
    centre; sphere membership is whole voxels whose centres lie inside, and the sphere may reach
    beyond the VOI but not beyond the image. At 4 mm voxels the sphere holds about 14 voxels.

    Raises
    ------
    InputError
        When the VOI is empty or its shape differs from the volume's.
    """
    from scipy import ndimage

    array = np.asarray(suv.array)
    voi = np.asarray(voi, dtype=bool)
    if voi.shape != array.shape:
        raise InputError(
            f"VOI shape {voi.shape} differs from PET shape {array.shape}", column="voi"
        )
    # Work on the VOI's bounding box padded by the sphere, never on the whole body: the PET
    # may be a whole-body volume and this runs on every click.
    extent = [
        np.nonzero(voi.any(axis=tuple(a for a in range(3) if a != axis)))[0] for axis in range(3)
    ]
    if any(len(e) == 0 for e in extent):
        raise InputError("the volume of interest is empty", column="voi")
    radius = (3.0 * PEAK_SPHERE_ML * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
    offsets = _sphere_offsets(suv.spacing_mm, radius)
    reach = offsets.max(axis=0)
    lo = np.maximum(np.array([e[0] for e in extent]) - reach, 0)
    hi = np.minimum(np.array([e[-1] for e in extent]) + reach + 1, array.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    values = array[box].astype(np.float64)
    voi_box = voi[box]
    count = int(voi_box.sum())
    kernel = np.zeros(tuple(2 * reach + 1), dtype=np.float64)
    kernel[tuple((offsets + reach).T)] = 1.0
    sums = ndimage.correlate(values, kernel, mode="constant", cval=0.0)
    counts = ndimage.correlate(np.ones_like(values), kernel, mode="constant", cval=0.0)
    means = np.where(voi_box, sums / counts, -np.inf)
    peak_local = np.unravel_index(int(np.argmax(means)), means.shape)
    peak_index = np.asarray(peak_local) + lo
    in_voi = np.where(voi_box, values, -np.inf)
    max_local = np.unravel_index(int(np.argmax(in_voi)), values.shape)
    max_index = np.asarray(max_local) + lo
    voxel_ml = float(np.prod(suv.spacing_mm)) / 1000.0
    return VoiUptake(
        suv_max=float(values[max_local]),
        suv_mean=float(values[voi_box].mean()),
        suv_peak=float(means[peak_local]),
        max_lps_mm=_point(suv.index_to_patient(max_index)[0]),
        peak_center_lps_mm=_point(suv.index_to_patient(peak_index)[0]),
        peak_voxel_count=int(counts[peak_local]),
        voxel_count=count,
        volume_ml=count * voxel_ml,
    )


def sphere_voxels(
    volume: Volume, center_lps_mm: npt.ArrayLike, diameter_mm: float
) -> npt.NDArray[np.int64]:
    """Indices ``(k, j, i)`` (N×3) of the voxels whose centres lie within a sphere.

    Parameters
    ----------
    volume
        The image whose grid is searched; voxels outside it are never returned.
    center_lps_mm
        Sphere centre in patient coordinates (LPS, mm).
    diameter_mm
        Sphere diameter (mm).
    """
    radius = diameter_mm / 2.0
    center = np.asarray(center_lps_mm, dtype=np.float64)
    centre_index = volume.patient_to_index(center)[0]
    reach = np.array([radius / s for s in volume.spacing_mm])
    shape = np.asarray(volume.array.shape)
    lo = np.clip(np.floor(centre_index - reach).astype(int), 0, shape)
    hi = np.clip(np.ceil(centre_index + reach).astype(int) + 1, 0, shape)
    grids = np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi, strict=True)), indexing="ij")
    kji = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    dist = np.linalg.norm(volume.index_to_patient(kji) - center, axis=1)
    inside: npt.NDArray[np.int64] = kji[dist <= radius + 1e-9]
    return inside


def sphere_uptake(
    suv: Volume, center_lps_mm: Sequence[float], diameter_mm: float
) -> ReferenceUptake:
    """Mean and SD of the voxels within a sphere, for reference regions.

    Use ``LIVER_REFERENCE_DIAMETER_MM`` (30 mm, PERCIST: normal right lobe, away from lesions and
    vessels) for the liver and ``SPLEEN_REFERENCE_DIAMETER_MM`` for the spleen.

    Parameters
    ----------
    suv
        PET volume in SUV (g/ml).
    center_lps_mm
        Sphere centre in patient coordinates (LPS, mm).
    diameter_mm
        Sphere diameter (mm); voxels whose centres lie within its radius count.

    Raises
    ------
    InputError
        When the sphere is not entirely inside the volume or holds no voxel centre.
    """
    if diameter_mm <= 0:
        raise InputError(
            f"sphere diameter must be positive, got {diameter_mm}", column="diameter_mm"
        )
    radius = diameter_mm / 2.0
    center = np.asarray(center_lps_mm, dtype=np.float64)
    centre_index = suv.patient_to_index(center)[0]
    reach = np.array([radius / s for s in suv.spacing_mm])
    shape = np.asarray(suv.array.shape)
    if np.any(centre_index - reach < -0.5) or np.any(centre_index + reach > shape - 0.5):
        raise InputError(
            f"the {diameter_mm:g} mm sphere at {tuple(round(float(c), 1) for c in center)} mm "
            "reaches outside the PET volume",
            column="center_lps_mm",
        )
    inside = sphere_voxels(suv, center, diameter_mm)
    if len(inside) == 0:
        raise InputError(
            f"the {diameter_mm:g} mm sphere holds no voxel centre", column="diameter_mm"
        )
    values = np.asarray(suv.array, dtype=np.float64)[tuple(inside.T)]
    return ReferenceUptake(
        suv_mean=float(values.mean()),
        suv_sd=float(values.std()),
        voxel_count=len(values),
        center_lps_mm=_point(center),
        diameter_mm=float(diameter_mm),
    )
