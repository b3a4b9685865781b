"""The masks of accepted segmentations, written as DICOM SEG with the reading. No Qt.

At save, the masks accepted on each scan are written as one binary SEG
(:func:`recistry.sr.write_seg`) on that scan's CT series, into ``<store file>.seg/PATIENT/
YYYYMMDD/<SEG SOP Instance UID>.dcm`` (a new file per content, so a SEG an earlier save
referenced is never overwritten), and indexed into the store. Each lesion then carries the
SEG's UID and its segment number (``segmentation_uid``, ``segment_number``), so the SR written
with the reading references its segment (TID 1411) and ``recistry export`` ships the SEG with
the SR (:attr:`recistry.sr.export.ExportedReport.segmentations`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from recistry.errors import InputError
from recistry.imaging.segment import LesionMeasurement
from recistry.imaging.volume import Volume
from recistry_napari import _reading
from recistry_napari._proposal_layers import paste_mask
from recistry_napari._reading import Reading
from recistry_napari._study import Study

__all__ = ["seg_folder_for", "write_masks"]

logger = logging.getLogger(__name__)

MaskKey = tuple[dt.date, str]


def seg_folder_for(store_path: Path) -> Path:
    """Where a store's SEG files go: ``<store file name>.seg/`` beside it."""
    return store_path.with_name(store_path.name + ".seg")


def write_masks(
    reading: Reading,
    study: Study,
    store_path: Path,
    masks: Mapping[MaskKey, LesionMeasurement],
    ct_volumes: Mapping[dt.date, Volume],
) -> Reading:
    """Write the masks of the lesions measured from a segmentation as SEG, index them into the
    store and return the reading with each lesion's SEG reference.

    Only masks of lesions that are still measured at their scan are written (an undone or
    cleared measurement leaves its mask out). Where two masks overlap, the voxel stays with the
    lesion listed first.

    Raises
    ------
    recistry.errors.InputError
        The CT images of a scan cannot be read, or a mask does not fit them.
    """
    import pydicom

    from recistry.imaging.discovery import index_tree
    from recistry.sr import write_seg
    from recistry.sr.export import patient_folder_name
    from recistry.store import Store
    from recistry.store.dicom_index import save_dicom_index

    by_date: dict[dt.date, dict[str, LesionMeasurement]] = {}
    for (date, lesion_id), measurement in masks.items():
        try:
            lesion = reading.at(date).lesion(lesion_id)
        except KeyError:
            continue
        if lesion.long_axis is not None:
            by_date.setdefault(date, {})[lesion_id] = measurement
    for date, lesions in sorted(by_date.items()):
        ct = ct_volumes[date]
        headers = {}
        for path in study.scan(date).ct_paths:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            headers[str(ds.SOPInstanceUID)] = ds
        try:
            series = [headers[uid] for uid in ct.sop_instance_uids]
        except KeyError as exc:
            raise InputError(
                f"the CT of {date} has no image {exc.args[0]}; reopen the study",
                path=str(study.root),
            ) from None
        taken = np.zeros(ct.array.shape, dtype=bool)
        arrays = {}
        for lesion_id, measurement in lesions.items():
            full = np.zeros(ct.array.shape, dtype=np.uint8)
            paste_mask(full, measurement, 1)
            mask = full.astype(bool) & ~taken
            taken |= mask
            if mask.any():
                arrays[lesion_id] = mask
        if not arrays:
            continue
        folder = seg_folder_for(store_path) / patient_folder_name(reading.patient_id)
        folder = folder / date.strftime("%Y%m%d")
        folder.mkdir(parents=True, exist_ok=True)
        tp = reading.at(date)
        method = next(iter(lesions.values())).method.value
        written = write_seg(
            arrays,
            series,
            folder / "new-seg.dcm",
            tracking_uids={
                les.lesion_id: les.tracking_uid
                for les in tp.lesions
                if les.lesion_id in arrays and les.tracking_uid
            },
            algorithm=f"recistry one-click {method}",
        )
        final = folder / f"{written.sop_instance_uid}.dcm"
        written.path.replace(final)
        with Store(store_path) as store:
            save_dicom_index(store, index_tree(final))
        for lesion_id, number in written.segment_numbers.items():
            reading = _reading.update_lesion(
                reading,
                date,
                lesion_id,
                segmentation_uid=written.sop_instance_uid,
                segment_number=number,
            )
        logger.info("wrote %d lesion mask(s) of %s to %s", len(arrays), date, final)
    return reading
