"""Reading TID 1500 measurement reports back into measurements.

The reader walks the SR content tree with pydicom rather than highdicom's typed objects, so that
it accepts reports written by other tools: the retired SNOMED RT codes for long and short axis
(SRT G-A185 / G-A186, still written by dcmjs/OHIF) are read as synonyms of SCT 103339001 /
103340004, and a report without recistry's private evaluations is read with documented defaults
(a lesion with a long axis is a measured target, one without is a present non-target).

Every problem is a :class:`~recistry.errors.DicomError` naming the file and the DICOM attribute.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.coding import Code

from recistry.errors import DicomError
from recistry.recist.model import LesionState, Measurement, Role, Source
from recistry.sr import codes as rc
from recistry.store.readings import ENDPOINT_KEYS, UNSPECIFIED_READER, format_point_mm

IMAGE_POINT_KEYS = {"long": "long_axis_image_points", "short": "short_axis_image_points"}
"""``extra`` keys of an axis given in image coordinates only (2D SCOORD): ``"x1 y1 x2 y2"``,
column and row with (0, 0) at the top left corner of the top left pixel (PS3.3 C.18.6.1.2)."""

logger = logging.getLogger(__name__)

K = TypeVar("K")

SR_STORAGE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
        "1.2.840.10008.5.1.4.1.1.88.35",  # Extensible SR
    }
)
_TAG_CONTENT = "ContentSequence (0040,A730)"
_TAG_UNITS = "MeasurementUnitsCodeSequence (0040,08EA)"
_TAG_REF = "ReferencedSOPSequence (0008,1199)"
_TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
_TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
_FINDING = Code("121071", "DCM", "Finding")
_FINDING_SITE = Code("363698007", "SCT", "Finding Site")
_FINDING_CATEGORY = Code("276214006", "SCT", "Finding category")
_DERIVATION = Code("121401", "DCM", "Derivation")
_TIME_POINT = Code("C2348792", "UMLS", "Time Point")
_PERSON_OBSERVER = Code("121008", "DCM", "Person Observer Name")
_DEVICE_OBSERVER = Code("121013", "DCM", "Device Observer Name")
_MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
_CM = Code("cm", "UCUM", "cm")


def _concept(item: Dataset) -> Dataset | None:
    seq = item.get("ConceptNameCodeSequence")
    return seq[0] if seq else None


def _key(item: Dataset) -> tuple[str, str] | None:
    """(Code Value, Coding Scheme Designator) of an item's concept name, read once."""
    concept = _concept(item)
    if concept is None:
        return None
    return (concept.get("CodeValue"), concept.get("CodingSchemeDesignator"))


def _eq(key: tuple[str, str] | None, code: Code) -> bool:
    return key is not None and key[0] == code.value and key[1] == code.scheme_designator


def _is(item: Dataset, code: Code) -> bool:
    concept = _concept(item)
    return concept is not None and rc.same_code(concept, code)


def _children(item: Dataset) -> list[Dataset]:
    return list(item.get("ContentSequence", []))


def _walk(item: Dataset) -> Iterator[Dataset]:
    for child in _children(item):
        yield child
        yield from _walk(child)


def _code_value(item: Dataset) -> Dataset | None:
    seq = item.get("ConceptCodeSequence")
    return seq[0] if seq else None


@dataclass
class _Group:
    """What one measurement group says, before it becomes a Measurement."""

    tracking_id: str | None = None
    tracking_uid: str | None = None
    finding: Dataset | None = None
    sites: list[Dataset] = field(default_factory=list)
    recorded_site: str | None = None
    category: Dataset | None = None
    time_point: str | None = None
    axes: dict[str, Decimal] = field(default_factory=dict)
    endpoints: dict[str, tuple[list[float], str]] = field(default_factory=dict)
    image_points: dict[str, list[float]] = field(default_factory=dict)
    thickness: Decimal | None = None
    suv: dict[str, Decimal] = field(default_factory=dict)
    baseline_category: Dataset | None = None
    state: Dataset | None = None
    krenning: Dataset | None = None
    sop_instance_uid: str | None = None


def _decimal(item: Dataset, path: Path) -> Decimal:
    values = item.get("MeasuredValueSequence")
    if not values or "NumericValue" not in values[0]:
        raise DicomError(
            "NUM content item has no value", path=str(path), tag="NumericValue (0040,A30A)"
        )
    text = str(values[0].NumericValue).strip()
    try:
        return Decimal(text)
    except InvalidOperation:
        raise DicomError(
            f"'{text}' is not a number", path=str(path), tag="NumericValue (0040,A30A)"
        ) from None


def _unit(item: Dataset) -> Dataset | None:
    values = item.get("MeasuredValueSequence")
    if not values:
        return None
    units = values[0].get("MeasurementUnitsCodeSequence")
    return units[0] if units else None


def _length_mm(item: Dataset, path: Path, name: str) -> Decimal:
    value = _decimal(item, path)
    unit = _unit(item)
    if unit is not None and rc.same_code(unit, rc.MM):
        return value
    if unit is not None and rc.same_code(unit, _CM):
        return value * 10
    shown = "none" if unit is None else f"{unit.CodeValue} ({unit.CodingSchemeDesignator})"
    raise DicomError(f"{name} has unit {shown}; expected mm or cm", path=str(path), tag=_TAG_UNITS)


def _first_reference(item: Dataset) -> str | None:
    for node in [item, *_walk(item)]:
        refs = node.get("ReferencedSOPSequence")
        if refs and "ReferencedSOPInstanceUID" in refs[0]:
            return str(refs[0].ReferencedSOPInstanceUID)
    return None


def _read_group(container: Dataset, path: Path) -> _Group:
    g = _Group()
    for item in _children(container):
        vt = item.get("ValueType")
        key = _key(item)
        if _eq(key, _TRACKING_IDENTIFIER):
            g.tracking_id = str(item.TextValue)
        elif _eq(key, _TRACKING_UID):
            g.tracking_uid = str(item.UID)
        elif _eq(key, _FINDING):
            g.finding = _code_value(item)
        elif _eq(key, _FINDING_SITE):
            site = _code_value(item)
            if site is not None:
                g.sites.append(site)
        elif _eq(key, _FINDING_CATEGORY):
            g.category = _code_value(item)
        elif _eq(key, _TIME_POINT):
            g.time_point = str(item.TextValue)
        elif vt == "NUM" and (_eq(key, rc.LONG_AXIS) or _eq(key, rc.LEGACY_LONG_AXIS)):
            g.axes["long"] = _length_mm(item, path, "long axis")
            _read_endpoints(item, "long", g)
        elif vt == "NUM" and (_eq(key, rc.SHORT_AXIS) or _eq(key, rc.LEGACY_SHORT_AXIS)):
            g.axes["short"] = _length_mm(item, path, "short axis")
            _read_endpoints(item, "short", g)
        elif vt == "NUM" and _eq(key, rc.SLICE_THICKNESS):
            g.thickness = _length_mm(item, path, "slice thickness")
        elif vt == "NUM" and _eq(key, rc.SUVBW):
            unit = _unit(item)
            if unit is None or not rc.same_code(unit, rc.SUVBW_UNIT):
                raise DicomError(
                    "SUVbw value without the unit g/ml{SUVbw}", path=str(path), tag=_TAG_UNITS
                )
            derivation = next(
                (_code_value(c) for c in _children(item) if _is(c, _DERIVATION)), None
            )
            for name, code in (("max", rc.MAXIMUM), ("peak", rc.PEAK), ("mean", rc.MEAN)):
                if derivation is not None and rc.same_code(derivation, code):
                    g.suv[name] = _decimal(item, path)
        elif vt == "CODE" and _eq(key, rc.BASELINE_CATEGORY):
            g.baseline_category = _code_value(item)
        elif vt == "CODE" and _eq(key, rc.LESION_STATE):
            g.state = _code_value(item)
        elif vt == "CODE" and _eq(key, rc.KRENNING):
            g.krenning = _code_value(item)
        elif vt == "CODE" and _eq(key, rc.RECORDED_SITE):
            value = _code_value(item)
            g.recorded_site = None if value is None else str(value.CodeMeaning)
    g.sop_instance_uid = _first_reference(container)
    return g


def _read_endpoints(num: Dataset, axis: str, g: _Group) -> None:
    for child in _children(num):
        if child.get("ValueType") == "SCOORD3D" and child.get("GraphicType") == "POLYLINE":
            # Graphic Data is FL (float32): take the shortest decimal that is the same float32,
            # which recovers the coordinates as written (to float32's ~7 significant digits).
            data = [float(str(np.float32(v))) for v in child.GraphicData]
            if len(data) == 6:
                g.endpoints[axis] = (data, str(child.ReferencedFrameOfReferenceUID))
        elif child.get("ValueType") == "SCOORD" and child.get("GraphicType") == "POLYLINE":
            # Image coordinates (column, row) of the referenced image, as dcmjs/OHIF write them;
            # converted to patient mm on import when the image is in the store's index.
            data = [float(str(np.float32(v))) for v in child.GraphicData]
            if len(data) == 4:
                g.image_points[axis] = data


def _person(root: Dataset) -> str:
    for item in _children(root):
        if _is(item, _PERSON_OBSERVER) and item.get("PersonName"):
            name = str(item.PersonName).rstrip("^")
            return name or UNSPECIFIED_READER
    for item in _children(root):
        if _is(item, _DEVICE_OBSERVER) and item.get("TextValue"):
            return str(item.TextValue)
    return UNSPECIFIED_READER


def _series_of(ds: Dataset, sop_uid: str) -> str | None:
    for key in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(key, []):
            for series in study.get("ReferencedSeriesSequence", []):
                for ref in series.get("ReferencedSOPSequence", []):
                    if ref.get("ReferencedSOPInstanceUID") == sop_uid:
                        return str(series.SeriesInstanceUID)
    return None


def _code_lookup(value: Dataset | None, table: Mapping[K, Code]) -> K | None:
    if value is None:
        return None
    for key, code in table.items():
        if rc.same_code(value, code):
            return key
    return None


def is_tid1500(ds: Dataset) -> bool:
    """Whether a dataset is an SR document whose root is a TID 1500 Measurement Report."""
    if str(ds.get("SOPClassUID", "")) not in SR_STORAGE_CLASSES:
        return False
    for template in ds.get("ContentTemplateSequence", []):
        if str(template.get("TemplateIdentifier", "")) == "1500":
            return True
    concept = _concept(ds)
    return concept is not None and concept.get("CodeValue") in {"126000", "126001"}


def read_sr(path: str | Path, dataset: Dataset | None = None) -> list[Measurement]:
    """Read the lesion measurements of one TID 1500 measurement report.

    Parameters
    ----------
    path
        The SR file.
    dataset
        The file's dataset if already read.

    Returns
    -------
    list of Measurement
        One per lesion measurement group; sizes in mm, ``extra`` as the store documents it
        (reader, tracking_uid, image UIDs, endpoints in patient mm, SUVs, Krenning).

    Raises
    ------
    DicomError
        The file is not DICOM, not a TID 1500 report, lacks the patient or time point, has a
        lesion group that references no image, or a size in a unit other than mm/cm.
    """
    path = Path(path)
    if dataset is None:
        try:
            dataset = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError) as exc:
            raise DicomError(f"not a readable DICOM file ({exc})", path=str(path)) from None
    ds = dataset
    if not is_tid1500(ds):
        raise DicomError(
            "not a TID 1500 measurement report (SR with template 1500 / DCM 126000)",
            path=str(path),
            tag="ContentTemplateSequence (0040,A504)",
        )
    patient_id = str(ds.get("PatientID", "")).strip()
    if not patient_id:
        raise DicomError(
            "the report has no patient ID", path=str(path), tag="PatientID (0010,0020)"
        )
    reader = _person(ds)
    groups = [
        _read_group(item, path)
        for item in _walk(ds)
        if item.get("ValueType") == "CONTAINER" and _is(item, _MEASUREMENT_GROUP)
    ]
    references: dict[str, Decimal] = {}
    for g in groups:
        if g.finding is not None and "mean" in g.suv:
            for key, organ in (("liver_suv_mean", rc.LIVER), ("spleen_suv_mean", rc.SPLEEN)):
                if rc.same_code(g.finding, organ):
                    references[key] = g.suv["mean"]
    measurements = []
    for g in groups:
        is_lesion = (g.finding is not None and rc.same_code(g.finding, rc.LESION)) or bool(
            g.axes or g.baseline_category is not None or g.state is not None
        )
        if not is_lesion:
            continue
        measurements.append(_measurement(g, ds, path, patient_id, reader, references))
    if not measurements:
        raise DicomError(
            "the report holds no lesion measurement group", path=str(path), tag=_TAG_CONTENT
        )
    return measurements


def _scan_date(g: _Group, ds: Dataset, path: Path) -> dt.date:
    if g.time_point:
        try:
            return dt.date.fromisoformat(g.time_point.strip())
        except ValueError:
            logger.debug("time point %r is not a date; using the study date", g.time_point)
    study_date = str(ds.get("StudyDate", "")).strip()
    try:
        return dt.datetime.strptime(study_date, "%Y%m%d").date()
    except ValueError:
        raise DicomError(
            "no scan date: the time point is not a date and the Study Date is missing",
            path=str(path),
            tag="StudyDate (0008,0020)",
        ) from None


def _measurement(
    g: _Group,
    ds: Dataset,
    path: Path,
    patient_id: str,
    reader: str,
    references: dict[str, Decimal],
) -> Measurement:
    label = g.tracking_id or g.tracking_uid
    if not label:
        raise DicomError(
            "a measurement group has no tracking identifier",
            path=str(path),
            tag="Tracking Identifier (DCM 112039)",
        )
    if g.sop_instance_uid is None and g.axes:
        # A size must be traceable to the image it was measured on; a lesion without a size
        # (present, absent, not evaluable) may have no image.
        raise DicomError(
            f"measurement group of lesion {label} has a size but references no image",
            path=str(path),
            tag=_TAG_REF,
        )
    nodal = any(rc.same_code(site, rc.SITE_CODES["lymph node"]) for site in g.sites)
    role = _code_lookup(g.baseline_category, rc.BASELINE_CATEGORY_BY_ROLE)
    if role is None:
        role = Role.TARGET if g.axes else Role.NON_TARGET
    state = _code_lookup(g.state, rc.LESION_STATE_VALUES)
    if state is None:
        state = LesionState.MEASURED if role is Role.TARGET else LesionState.PRESENT
    site = g.recorded_site
    if site is None:
        site = str(g.sites[0].CodeMeaning).lower() if g.sites else "unspecified"
    extra: dict[str, str] = {"reader": reader, "study_uid": str(ds.StudyInstanceUID)}
    if g.sop_instance_uid is not None:
        extra["sop_instance_uid"] = g.sop_instance_uid
        series = _series_of(ds, g.sop_instance_uid)
        if series:
            extra["series_uid"] = series
    if g.tracking_uid:
        extra["tracking_uid"] = g.tracking_uid
    for axis, image_points in sorted(g.image_points.items()):
        extra[IMAGE_POINT_KEYS[axis]] = " ".join(repr(v) for v in image_points)
    for axis, (points, frame) in sorted(g.endpoints.items()):
        start_key, end_key = ENDPOINT_KEYS[axis]
        extra[start_key] = format_point_mm(points[:3])
        extra[end_key] = format_point_mm(points[3:])
        extra["frame_of_reference_uid"] = frame
    if "max" in g.suv:
        extra["suv_max"] = str(g.suv["max"])
    if "peak" in g.suv:
        extra["suv_peak"] = str(g.suv["peak"])
    grade = _code_lookup(g.krenning, rc.KRENNING_VALUES)
    if grade is not None:
        extra["krenning"] = str(grade)
    for key, value in references.items():
        extra[key] = str(value)
    if g.thickness is not None:
        extra["slice_thickness_mm"] = str(g.thickness)
    return Measurement(
        patient_id=patient_id,
        date=_scan_date(g, ds, path),
        lesion_id=label,
        role=role,
        site=site,
        nodal=nodal,
        state=state,
        long_axis_mm=g.axes.get("long"),
        short_axis_mm=g.axes.get("short"),
        slice_thickness_mm=g.thickness,
        extra=extra,
        source=Source(path=str(path)),
    )


def find_sr_files(root: str | Path) -> list[Path]:
    """DICOM SR files under ``root`` (recursively, sorted), recognised by their SOP Class UID."""
    found = []
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        if str(ds.get("SOPClassUID", "")) in SR_STORAGE_CLASSES:
            found.append(path)
    return found


def read_sr_tree(root: str | Path) -> list[Measurement]:
    """Read every TID 1500 report in a folder tree (stored studies), for ``recistry rescore DIR``.

    Raises
    ------
    DicomError
        The folder holds no SR file, or an SR file is invalid (named in the message).
    """
    files = find_sr_files(root)
    if not files:
        raise DicomError("no DICOM SR files found in this folder", path=str(root))
    measurements: list[Measurement] = []
    for path in files:
        measurements.extend(read_sr(path))
    return measurements
