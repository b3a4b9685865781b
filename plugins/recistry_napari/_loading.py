"""Study folders and scans through the core's imaging API (discovery, CT, PET SUV)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from pathlib import Path

from recistry.errors import InputError
from recistry.imaging.discovery import SeriesEntry, StudyEntry, index_tree
from recistry_napari._study import Scan, ScanImages, Study

logger = logging.getLogger(__name__)


def _largest(series: list[SeriesEntry]) -> SeriesEntry | None:
    # Several series of a modality on one date (scouts, thin and thick reconstructions): read the
    # one with the most slices, the diagnostic volume.
    return max(series, key=lambda s: s.slice_count, default=None)


def _date(study: StudyEntry) -> dt.date | None:
    try:
        return dt.datetime.strptime(study.study_date or "", "%Y%m%d").date()
    except ValueError:
        return None


def load_study(root: Path) -> Study:
    """Index the DICOM files under ``root`` into one patient's scans by date.

    Each scan date gets its CT (the CT series with the most slices) and, when present, its PET
    series; dates without a CT are skipped with a log message.

    Raises
    ------
    recistry.errors.InputError
        ``root`` holds no CT study with a StudyDate, or holds several patients.
    """
    index = index_tree(root)
    for problem in index.errors:
        logger.warning("%s: skipped: %s", problem.path, problem.reason)
    if len(index.patients) != 1:
        found = ", ".join(p.patient_id for p in index.patients) or "none"
        raise InputError(
            f"a study folder must hold one patient's DICOM files; found patients: {found}",
            path=str(root),
        )
    patient = index.patients[0]
    by_date: dict[dt.date, list[StudyEntry]] = defaultdict(list)
    for study in patient.studies:
        date = _date(study)
        if date is None:
            logger.warning("study %s has no valid StudyDate; skipped", study.study_instance_uid)
            continue
        by_date[date].append(study)
    scans = []
    for date in sorted(by_date):
        series = [(st, se) for st in by_date[date] for se in st.series]
        ct = _largest([se for _, se in series if se.modality == "CT"])
        pet = _largest([se for _, se in series if se.modality == "PT"])
        if ct is None:
            logger.warning("%s: no CT series on %s; that date is not offered", root, date)
            continue
        study = next(st for st, se in series if se is ct)
        scans.append(
            Scan(
                date=date,
                study_instance_uid=study.study_instance_uid,
                ct_paths=tuple(Path(p) for p in ct.paths),
                pet_paths=() if pet is None else tuple(Path(p) for p in pet.paths),
                description=study.description,
                ct_slice_thickness_mm=ct.slice_thickness_mm,
            )
        )
    if not scans:
        raise InputError("no CT series with a StudyDate was found", path=str(root))
    return Study(root=Path(root), patient_id=patient.patient_id, scans=tuple(scans), index=index)


def load_images(study: Study, date: dt.date) -> ScanImages:
    """Load the CT (HU) and PET (SUVbw) volumes of the scan of ``date``, the PET on a second
    thread while the CT is read (file reads and numpy arithmetic release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from recistry.imaging.ct import load_ct
    from recistry.imaging.pet import load_pet_suv

    scan = study.scan(date)
    if not scan.pet_paths:
        return ScanImages(ct=load_ct(scan.ct_paths), pet=None)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recistry-pet") as pool:
        pet = pool.submit(load_pet_suv, scan.pet_paths)
        ct = load_ct(scan.ct_paths)
        return ScanImages(ct=ct, pet=pet.result())
