"""Lesion masks as DICOM Segmentation (SEG) objects that 3D Slicer (dcmqi) and OHIF read.

:func:`write_seg` takes one boolean mask per lesion on a CT series' voxel grid and writes one
binary SEG (highdicom) with a segment per lesion: segmented property category *Morphologically
abnormal structure* (SCT 49755003), type *Lesion* (SCT 52988006), the lesion id as the segment
label and its tracking UID, so that the TID 1500 report can reference each lesion's segment
(TID 1411 *Referenced Segment*) and a reader resolves it to the CT images it was drawn on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from recistry import __version__
from recistry.errors import InputError

__all__ = ["WrittenSegmentation", "write_seg"]

SEG_SERIES_NUMBER = 9002


@dataclass(frozen=True, slots=True)
class WrittenSegmentation:
    """A SEG file written by :func:`write_seg`.

    Attributes
    ----------
    path
        The file.
    sop_instance_uid, series_instance_uid
        The SEG's UIDs (reference them from the SR).
    segment_numbers
        Segment number of each lesion id (1-based, in the order the masks were given).
    source_series_uid
        The CT series the masks are on.
    """

    path: Path
    sop_instance_uid: str
    series_instance_uid: str
    segment_numbers: Mapping[str, int]
    source_series_uid: str


def write_seg(
    masks: Mapping[str, npt.ArrayLike],
    series: Sequence[Dataset],
    path: str | Path,
    *,
    tracking_uids: Mapping[str, str] | None = None,
    algorithm: str | None = None,
) -> WrittenSegmentation:
    """Write lesion masks on a CT series' geometry as one binary DICOM SEG.

    Parameters
    ----------
    masks
        Lesion id → boolean array of shape (slices, rows, columns): ``mask[k, r, c]`` is pixel
        (row r, column c) of image ``series[k]``. Empty slices are left out of the SEG.
    series
        The CT images (headers with pixel data, or at least the image pixel and plane modules),
        one per mask slice, of one series and frame of reference.
    path
        Output file (written whole: to a temporary name, then renamed).
    tracking_uids
        Lesion id → the lesion's Tracking Unique Identifier, written as the segment's tracking
        UID.
    algorithm
        Name of the segmentation algorithm for a semi-automatic mask; ``None`` for a manual one.

    Raises
    ------
    InputError
        No mask, a mask whose shape is not (len(series), rows, columns), an empty mask, or
        images of several series.
    """
    if not masks:
        raise InputError("write_seg needs at least one lesion mask")
    if not series:
        raise InputError("write_seg needs the CT images the masks are on")
    series_uids = {str(ds.SeriesInstanceUID) for ds in series}
    if len(series_uids) != 1:
        raise InputError(f"the masks' images belong to {len(series_uids)} series; give one series")
    shape = (len(series), int(series[0].Rows), int(series[0].Columns))
    labels = np.zeros(shape, dtype=np.uint16)
    numbers: dict[str, int] = {}
    descriptions = []
    for number, (lesion_id, mask) in enumerate(masks.items(), start=1):
        array = np.asarray(mask, dtype=bool)
        if array.shape != shape:
            raise InputError(
                f"mask of lesion {lesion_id} has shape {array.shape}; the series is {shape} "
                "(slices, rows, columns)"
            )
        if not array.any():
            raise InputError(f"mask of lesion {lesion_id} is empty")
        if (labels[array] != 0).any():
            raise InputError(f"mask of lesion {lesion_id} overlaps another lesion's mask")
        labels[array] = number
        numbers[lesion_id] = number
        uid = (tracking_uids or {}).get(lesion_id)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=lesion_id[:64],
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Lesion,
                algorithm_type=(
                    hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
                    if algorithm
                    else hd.seg.SegmentAlgorithmTypeValues.MANUAL
                ),
                algorithm_identification=(
                    hd.AlgorithmIdentificationSequence(
                        name=algorithm,
                        # CID 7162: the family of a semi-automatic image segmentation method
                        family=codes.cid7162.NeighborhoodAnalysis,
                        version=__version__,
                    )
                    if algorithm
                    else None
                ),
                tracking_uid=uid,
                tracking_id=lesion_id[:64] if uid else None,
            )
        )
    entropy = [str(ds.SOPInstanceUID) for ds in series] + sorted(numbers)
    seg = hd.seg.Segmentation(
        source_images=list(series),
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=str(generate_uid(entropy_srcs=["recistry-seg-series", *entropy])),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=str(generate_uid(entropy_srcs=["recistry-seg", *entropy])),
        instance_number=1,
        manufacturer="recistry",
        manufacturer_model_name="recistry",
        software_versions=f"recistry {__version__}",
        device_serial_number="0",
        series_description="recistry lesion masks",
    )
    out = Path(path)
    partial = out.with_name(out.name + ".partial")
    seg.save_as(partial, enforce_file_format=True)
    partial.replace(out)
    return WrittenSegmentation(
        out,
        str(seg.SOPInstanceUID),
        str(seg.SeriesInstanceUID),
        numbers,
        series_uids.pop(),
    )
