"""Reading TID 1500 measurement reports back into measurements: one strict reader.

``recistry import`` and ``recistry rescore FOLDER`` both read SR files here, by the same rules:
a report is read whole or refused whole, with one line naming the file, the content item (its
path of concept names) and the reason. The reader walks the content tree with pydicom, so that it
reads what other tools write:

- lesion identity is the Tracking Unique Identifier (DCM 112040); the Tracking Identifier
  (DCM 112039) is the label. Lesions that share a label (dcmjs gives every Bidirectional
  measurement the label of its tool) get distinct ids, see :func:`assign_lesion_ids`;
- SNOMED CT and the legacy SNOMED RT codes (:data:`recistry.sr.codes.LEGACY_SNOMED_RT`) for
  finding sites, axes and findings; a lymph-node site makes the lesion nodal either way;
- long and short axis (TID 300 in TID 1501, 1410 or 1411 groups), OHIF's Length (SCT 410668003,
  SRT G-D7FE) as the long axis, SUVbw in ``g/ml{SUVbw}`` or ``{SUVbw}g/ml``;
- a measurement with no RECIST meaning (an area, a volume, a mean HU) is kept as an extra value
  (:data:`EXTRA_VALUES_KEY`) and counted, never dropped or turned into a lesion state;
- a measurement that references a SEG resolves to the SEG's source image;
- a lesion without a RECIST role (OHIF and Slicer write none) is *unassigned*
  (:data:`recistry.store.readings.ROLE_UNASSIGNED_KEY`): imported and listed, refused by scoring.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from recistry.errors import DicomError, RecistryError
from recistry.recist.model import FRAGMENT_KEY, LesionState, Measurement, Role, Source
from recistry.sr import codes as rc
from recistry.store.readings import (
    ENDPOINT_KEYS,
    ROLE_UNASSIGNED_KEY,
    UNSPECIFIED_READER,
    format_point_mm,
    lesion_tracking_uid,
)

__all__ = [
    "EXTRA_VALUES_KEY",
    "IMAGE_POINT_KEYS",
    "LOCATION_KEY",
    "SEGMENTATION_KEY",
    "SEGMENTATION_STORAGE",
    "SEGMENT_NUMBER_KEY",
    "SR_STORAGE_CLASSES",
    "ExtraValue",
    "SegmentationSource",
    "SharedLabel",
    "SrReport",
    "assign_lesion_ids",
    "extra_values",
    "find_segmentations",
    "find_sr_files",
    "is_tid1500",
    "read_report",
    "read_segmentation_source",
    "read_sr",
    "read_sr_tree",
]

IMAGE_POINT_KEYS = {"long": "long_axis_image_points", "short": "short_axis_image_points"}
"""``extra`` keys of an axis given in image coordinates only (2D SCOORD): ``"x1 y1 x2 y2"``,
column and row with (0, 0) at the top left corner of the top left pixel (PS3.3 C.18.6.1.2)."""

LOCATION_KEY = "location_mm"
"""``extra`` key of a lesion's location (a point, LPS mm, :func:`format_point_mm` text)."""

EXTRA_VALUES_KEY = "sr_extra_values"
"""``extra`` key of the measurements without RECIST meaning, as JSON (see :class:`ExtraValue`)."""

SEGMENTATION_KEY = "segmentation_uid"
"""``extra`` key of the DICOM SEG a lesion's measurement group references."""

SEGMENT_NUMBER_KEY = "segment_number"

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"

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
_TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
_TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
_FINDING = Code("121071", "DCM", "Finding")
_FINDING_CATEGORY = Code("276214006", "SCT", "Finding category")
_DERIVATION = Code("121401", "DCM", "Derivation")
_TIME_POINT = Code("C2348792", "UMLS", "Time Point")
_TIME_POINT_ORDER = Code("126073", "DCM", "Time Point Order")
_PERSON_OBSERVER = Code("121008", "DCM", "Person Observer Name")
_DEVICE_OBSERVER = Code("121013", "DCM", "Device Observer Name")
_MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
_SOURCE_SERIES_FOR_SEGMENTATION = codes.DCM.SourceSeriesForSegmentation  # DCM 121232
_SOURCE_IMAGE_FOR_SEGMENTATION = codes.DCM.SourceImageForSegmentation  # DCM 121233
_CM = Code("cm", "UCUM", "cm")
_HAS_CONCEPT_NAME = frozenset(
    {"CONTAINER", "NUM", "CODE", "TEXT", "UIDREF", "DATE", "TIME", "DATETIME", "PNAME"}
)
_VALUE_TYPES = _HAS_CONCEPT_NAME | {
    "IMAGE",
    "COMPOSITE",
    "WAVEFORM",
    "SCOORD",
    "SCOORD3D",
    "TCOORD",
    "TABLE",
}
_DIAMETERS = {
    (rc.LONG_AXIS.value, "SCT"): "long",
    (rc.SHORT_AXIS.value, "SCT"): "short",
    (rc.LENGTH.value, "SCT"): "length",
    (rc.DIAMETER.value, "SCT"): "length",
}
_ONE_PER_GROUP = "one value per measurement group"

Key = tuple[str, str]
"""(Code Value, Coding Scheme Designator), legacy SNOMED RT already mapped to SNOMED CT."""


def _key_of(code: Dataset | None) -> Key | None:
    if code is None:
        return None
    value = code.get("CodeValue") or code.get("LongCodeValue") or code.get("URNCodeValue")
    scheme = str(code.get("CodingSchemeDesignator", ""))
    if not value:
        return None
    standard = rc.standard_code(str(value), scheme, str(code.get("CodeMeaning", "")))
    return (standard.value, standard.scheme_designator)


def _code(item: Dataset) -> Code:
    """A coded value as a Code, legacy SNOMED RT mapped to SNOMED CT."""
    key = _key_of(item)
    assert key is not None  # callers hold items that concept()/code_value() accepted
    return Code(key[0], key[1], _meaning(item))


def _is(key: Key | None, code: Code) -> bool:
    return key == (code.value, code.scheme_designator)


def _meaning(code: Dataset | None) -> str:
    return "" if code is None else str(code.get("CodeMeaning", code.get("CodeValue", "?")))


@dataclass(frozen=True, slots=True)
class ExtraValue:
    """A measurement of a lesion that has no RECIST meaning (area, volume, mean HU …).

    Attributes
    ----------
    name, unit, derivation
        The concept name, the UCUM unit and the derivation (e.g. SCT Mean), as written.
    value
        The number exactly as written, or ``None`` for a NUM that carries only a qualifier.
    """

    name: Code
    value: Decimal | None
    unit: Code | None
    derivation: Code | None = None

    def describe(self) -> str:
        what = self.name.meaning + (f" ({self.derivation.meaning})" if self.derivation else "")
        unit = f" {self.unit.value}" if self.unit else ""
        return f"{what} {self.value}{unit}"


def _code_json(code: Code | None) -> list[str] | None:
    return None if code is None else [code.value, code.scheme_designator, code.meaning]


def _json_code(data: list[str] | None) -> Code | None:
    return None if data is None else Code(data[0], data[1], data[2])


def _extra_values_text(values: Sequence[ExtraValue]) -> str:
    return json.dumps(
        [
            {
                "name": _code_json(v.name),
                "value": None if v.value is None else str(v.value),
                "unit": _code_json(v.unit),
                "derivation": _code_json(v.derivation),
            }
            for v in values
        ],
        ensure_ascii=False,
    )


def extra_values(m: Measurement) -> list[ExtraValue]:
    """The extra values a measurement carries (:data:`EXTRA_VALUES_KEY`), in report order."""
    text = m.extra.get(EXTRA_VALUES_KEY)
    if not text:
        return []
    return [
        ExtraValue(
            name=Code(*item["name"]),
            value=None if item["value"] is None else Decimal(item["value"]),
            unit=_json_code(item["unit"]),
            derivation=_json_code(item["derivation"]),
        )
        for item in json.loads(text)
    ]


@dataclass(frozen=True, slots=True)
class SegmentationSource:
    """The images a DICOM SEG was derived from, per segment (for resolving SR references)."""

    sop_instance_uid: str
    series_uid: str | None
    images_by_segment: Mapping[int, tuple[str, ...]]
    all_images: tuple[str, ...]


def read_segmentation_source(path: str | Path) -> SegmentationSource:
    """Source images of a DICOM SEG: per segment from its frames' Source Image Sequence,
    else the Referenced Series Sequence.

    Raises
    ------
    DicomError
        The file is not a readable DICOM Segmentation.
    """
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomError(f"not a readable DICOM file ({exc})", path=str(path)) from None
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise DicomError("not a DICOM Segmentation", path=str(path), tag="SOPClassUID (0008,0016)")
    by_segment: dict[int, list[str]] = defaultdict(list)
    for frame in ds.get("PerFrameFunctionalGroupsSequence", []):
        segment = None
        for ident in frame.get("SegmentIdentificationSequence", []):
            segment = int(ident.ReferencedSegmentNumber)
        for derivation in frame.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                uid = str(source.ReferencedSOPInstanceUID)
                if segment is not None and uid not in by_segment[segment]:
                    by_segment[segment].append(uid)
    all_images: list[str] = []
    series_uid = None
    for series in ds.get("ReferencedSeriesSequence", []):
        series_uid = str(series.SeriesInstanceUID)
        for ref in series.get("ReferencedInstanceSequence", []):
            all_images.append(str(ref.ReferencedSOPInstanceUID))
    return SegmentationSource(
        str(ds.SOPInstanceUID),
        series_uid,
        {k: tuple(v) for k, v in by_segment.items()},
        tuple(all_images),
    )


@dataclass
class _Group:
    """What one measurement group says, before it becomes a Measurement."""

    where: str
    tracking_id: str | None = None
    tracking_uid: str | None = None
    finding: Key | None = None
    category: Key | None = None
    sites: list[tuple[Key | None, str]] = field(default_factory=list)
    recorded_site: str | None = None
    fragment: str | None = None
    time_point: str | None = None
    axes: dict[str, Decimal] = field(default_factory=dict)
    endpoints: dict[str, tuple[list[float], str]] = field(default_factory=dict)
    image_points: dict[str, list[float]] = field(default_factory=dict)
    thickness: Decimal | None = None
    suv: dict[str, Decimal] = field(default_factory=dict)
    extras: list[ExtraValue] = field(default_factory=list)
    baseline_category: Key | None = None
    state: Key | None = None
    krenning: Key | None = None
    krenning_grade: int | None = None
    images: list[str] = field(default_factory=list)
    segmentations: list[tuple[str, int | None]] = field(default_factory=list)
    segmentation_sources: list[str] = field(default_factory=list)
    source_series: str | None = None
    location: tuple[list[float], str] | None = None
    evaluations: int = 0


@dataclass(frozen=True, slots=True)
class SrReport:
    """One SR file read whole.

    Attributes
    ----------
    path
        The file.
    content_datetime
        ``ContentDate`` + ``ContentTime`` text (orders amended reports).
    measurements
        One per lesion measurement group.
    extra_values
        How many measurements without RECIST meaning were kept as extra values.
    volume_only
        Of those, how many lesions have extra values but no diameter.
    """

    path: str
    content_datetime: str
    measurements: tuple[Measurement, ...]
    extra_values: int
    volume_only: int


@dataclass(frozen=True, slots=True)
class SharedLabel:
    """Lesions of one patient that share a Tracking Identifier, and the ids they were given."""

    patient_id: str
    label: str
    lesion_ids: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"patient {self.patient_id}: {len(self.lesion_ids)} lesions share the label "
            f"'{self.label}' (distinct Tracking Unique Identifiers); their ids are "
            + ", ".join(f"'{i}'" for i in self.lesion_ids)
        )


class _Reader:
    """Reads one report; every refusal names the file and the content item's concept path."""

    def __init__(
        self, path: Path, ds: Dataset, segmentations: Mapping[str, SegmentationSource]
    ) -> None:
        self.path = path
        self.ds = ds
        self.segmentations = segmentations

    def fail(self, where: str, reason: str) -> DicomError:
        return DicomError(f"content item {where}: {reason}", path=str(self.path))

    # -- generic content-item checks -------------------------------------------------------

    def concept(self, item: Dataset, where: str) -> Dataset | None:
        seq = item.get("ConceptNameCodeSequence")
        value_type = item.get("ValueType")
        if not seq:
            if value_type in _HAS_CONCEPT_NAME:
                raise self.fail(where, f"{value_type} content item has no concept name")
            return None
        code: Dataset = seq[0]
        if _key_of(code) is None or not code.get("CodingSchemeDesignator"):
            raise self.fail(where, "concept name without code value or coding scheme")
        return code

    def name(self, item: Dataset, index: int) -> str:
        seq = item.get("ConceptNameCodeSequence")
        label = _meaning(seq[0]) if seq else str(item.get("ValueType", "item"))
        return f"{label} [{index}]"

    def children(self, item: Dataset, where: str) -> Iterator[tuple[Dataset, str]]:
        for index, child in enumerate(item.get("ContentSequence", []), start=1):
            child_where = f"{where} > {self.name(child, index)}"
            if "ReferencedContentItemIdentifier" in child:
                continue  # by-reference relationship: the item it points to is read in place
            value_type = child.get("ValueType")
            if value_type not in _VALUE_TYPES:
                raise self.fail(child_where, f"unknown or missing Value Type {value_type!r}")
            self.concept(child, child_where)
            yield child, child_where

    def code_value(self, item: Dataset, where: str) -> Dataset:
        seq = item.get("ConceptCodeSequence")
        if not seq or _key_of(seq[0]) is None:
            raise self.fail(where, "CODE content item has no coded value")
        value: Dataset = seq[0]
        return value

    def text(self, item: Dataset, keyword: str, where: str) -> str:
        value = str(item.get(keyword, "") or "").strip()
        if not value:
            raise self.fail(where, f"{item.get('ValueType')} content item has no {keyword}")
        return value

    def number(self, item: Dataset, where: str) -> Decimal | None:
        values = item.get("MeasuredValueSequence")
        if not values:
            if item.get("NumericValueQualifierCodeSequence"):
                return None  # a NUM that says why it has no value (PS3.3 C.18.1.1)
            raise self.fail(where, "NUM content item has no value")
        if "NumericValue" not in values[0] or values[0].NumericValue in (None, ""):
            raise self.fail(where, "NUM content item has no Numeric Value")
        text = str(values[0].NumericValue).strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.fail(where, f"'{text}' is not a number") from None
        if not value.is_finite():
            raise self.fail(where, f"'{text}' is not a finite number")
        units = values[0].get("MeasurementUnitsCodeSequence")
        if not units or _key_of(units[0]) is None:
            raise self.fail(where, "NUM content item has no unit")
        return value

    def unit(self, item: Dataset) -> Dataset:
        unit: Dataset = item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0]
        return unit

    def length_mm(self, item: Dataset, where: str, name: str) -> Decimal:
        value = self.number(item, where)
        if value is None:
            raise self.fail(where, f"{name} has no value")
        unit = self.unit(item)
        key = _key_of(unit)
        if _is(key, rc.MM):
            mm = value
        elif _is(key, _CM):
            mm = value * 10
        else:
            raise self.fail(
                where,
                f"{name} has unit {unit.get('CodeValue')} ({unit.get('CodingSchemeDesignator')}); "
                "expected mm or cm",
            )
        if mm < 0:
            raise self.fail(where, f"{name} {value} is negative; a length is at least 0")
        return mm

    # -- references ---------------------------------------------------------------------------

    def image_refs(self, item: Dataset, where: str, g: _Group) -> None:
        """Collect IMAGE references (and SEG references) of an item and its descendants."""
        if item.get("ValueType") in {"IMAGE", "COMPOSITE"}:
            refs = item.get("ReferencedSOPSequence")
            if not refs or not refs[0].get("ReferencedSOPInstanceUID"):
                raise self.fail(where, "IMAGE content item references no SOP Instance")
            ref = refs[0]
            uid = str(ref.ReferencedSOPInstanceUID)
            key = _key_of(self.concept(item, where))
            if str(ref.get("ReferencedSOPClassUID", "")) == SEGMENTATION_STORAGE:
                numbers = ref.get("ReferencedSegmentNumber")
                number = None
                if numbers is not None:
                    number = int(numbers if not isinstance(numbers, list) else numbers[0])
                g.segmentations.append((uid, number))
            elif _is(key, _SOURCE_IMAGE_FOR_SEGMENTATION):
                g.segmentation_sources.append(uid)
            elif uid not in g.images:
                g.images.append(uid)
        for child, child_where in self.children(item, where):
            self.image_refs(child, child_where, g)

    # -- one measurement group ----------------------------------------------------------------

    def group(self, container: Dataset, where: str) -> _Group:
        g = _Group(where)
        for item, item_where in self.children(container, where):
            vt = item.get("ValueType")
            key = _key_of(self.concept(item, item_where))
            if _is(key, _TRACKING_IDENTIFIER):
                g.tracking_id = self.text(item, "TextValue", item_where)
            elif _is(key, _TRACKING_UID):
                g.tracking_uid = self.text(item, "UID", item_where)
            elif _is(key, _FINDING):
                g.finding = _key_of(self.code_value(item, item_where))
            elif _is(key, rc.FINDING_SITE):
                site = self.code_value(item, item_where)
                g.sites.append((_key_of(site), _meaning(site)))
            elif _is(key, _FINDING_CATEGORY):
                g.category = _key_of(self.code_value(item, item_where))
            elif _is(key, _TIME_POINT):
                g.time_point = self.text(item, "TextValue", item_where)
            elif _is(key, _TIME_POINT_ORDER):
                continue  # TID 1502 context (dcmqi re-saves it as a CONTAINS NUM)
            elif vt == "NUM" and item.get("RelationshipType") == "CONTAINS":
                # Measurements are CONTAINS; a NUM of observation context (Time Point Order,
                # HAS OBS CONTEXT) is not a measurement.
                self.num(item, item_where, key, g)
            elif vt == "CODE":
                self.evaluation(item, item_where, key, g)
            elif vt == "UIDREF" and _is(key, _SOURCE_SERIES_FOR_SEGMENTATION):
                g.source_series = self.text(item, "UID", item_where)
            elif vt in {"SCOORD", "SCOORD3D"}:
                self.region(item, item_where, g)
            self.image_refs(item, item_where, g)
        return g

    def num(self, item: Dataset, where: str, key: Key | None, g: _Group) -> None:
        assert key is not None  # concept() refused a NUM without one
        axis = _DIAMETERS.get(key)
        if axis is not None:
            if axis == "length":
                axis = "long" if "long" not in g.axes else "length"
            if axis in g.axes:
                raise self.fail(where, f"a second {axis} axis; {_ONE_PER_GROUP}")
            if axis != "length":
                g.axes[axis] = self.length_mm(item, where, f"{axis} axis")
                self.endpoints(item, where, axis, g)
                return
        if _is(key, rc.SLICE_THICKNESS):
            g.thickness = self.length_mm(item, where, "slice thickness")
            return
        if _is(key, rc.KRENNING):
            grade = self.number(item, where)
            if grade is None or grade not in range(5) or grade != grade.to_integral_value():
                raise self.fail(where, f"Krenning score {grade} is not a grade 0-4")
            g.krenning_grade = int(grade)
            return
        value = self.number(item, where)
        unit = self.unit(item) if value is not None else None
        derivation_item = next(
            (
                c
                for c, _ in self.children(item, where)
                if _is(_key_of(self.concept(c, where)), _DERIVATION)
            ),
            None,
        )
        derivation = None if derivation_item is None else self.code_value(derivation_item, where)
        if _is(key, rc.SUVBW) and value is not None:
            unit_key = _key_of(unit)
            if not (_is(unit_key, rc.SUVBW_UNIT) or _is(unit_key, rc.SUVBW_UNIT_DCMQI)):
                shown = "none" if unit is None else str(unit.get("CodeValue"))
                raise self.fail(
                    where, f"SUVbw value has unit {shown}; expected g/ml{{SUVbw}} or {{SUVbw}}g/ml"
                )
            for name, code in (("max", rc.MAXIMUM), ("peak", rc.PEAK), ("mean", rc.MEAN)):
                if _is(_key_of(derivation), code):
                    if name in g.suv:
                        raise self.fail(where, f"a second SUVbw {name}; {_ONE_PER_GROUP}")
                    g.suv[name] = value
                    return
        g.extras.append(
            ExtraValue(
                name=_code(item.ConceptNameCodeSequence[0]),
                value=value,
                unit=None if unit is None else _code(unit),
                derivation=None if derivation is None else _code(derivation),
            )
        )

    def graphic(self, item: Dataset, where: str, size: int | None = None) -> list[float]:
        data = item.get("GraphicData")
        if data is None:
            raise self.fail(where, f"{item.get('ValueType')} content item has no Graphic Data")
        # Graphic Data is FL (float32): the shortest decimal that is the same float32 recovers
        # the coordinates as written (to float32's ~7 significant digits).
        items = data if isinstance(data, list | tuple | np.ndarray) else [data]
        values = [float(str(np.float32(v))) for v in items]
        if size is not None and len(values) != size:
            raise self.fail(where, f"expected {size} coordinates, found {len(values)}")
        if not all(np.isfinite(values)):
            raise self.fail(where, "Graphic Data is not finite")
        return values

    def endpoints(self, num: Dataset, where: str, axis: str, g: _Group) -> None:
        for child, child_where in self.children(num, where):
            vt = child.get("ValueType")
            if vt == "SCOORD3D" and child.get("GraphicType") == "POLYLINE":
                frame = self.text(child, "ReferencedFrameOfReferenceUID", child_where)
                g.endpoints[axis] = (self.graphic(child, child_where, 6), frame)
            elif vt == "SCOORD" and child.get("GraphicType") == "POLYLINE":
                # Image coordinates (column, row) of the referenced image, as dcmjs/OHIF write
                # them; placed in patient mm on import when the image is in the store's index.
                g.image_points[axis] = self.graphic(child, child_where, 4)

    def region(self, item: Dataset, where: str, g: _Group) -> None:
        """An image region of a planar or volumetric group (TID 1410/1411)."""
        if item.get("ValueType") == "SCOORD3D" and item.get("GraphicType") == "POINT":
            frame = self.text(item, "ReferencedFrameOfReferenceUID", where)
            g.location = (self.graphic(item, where, 3), frame)
        elif item.get("ValueType") == "SCOORD" and item.get("GraphicType") == "POLYLINE":
            data = self.graphic(item, where)
            if len(data) == 4 and "long" not in g.image_points:
                g.image_points["region"] = data
        else:
            self.graphic(item, where)

    def evaluation(self, item: Dataset, where: str, key: Key | None, g: _Group) -> None:
        value = self.code_value(item, where)
        value_key = _key_of(value)
        if _is(key, rc.BASELINE_CATEGORY):
            g.baseline_category = value_key
        elif _is(key, rc.LESION_STATE):
            g.state = value_key
        elif _is(key, rc.KRENNING):
            g.krenning = value_key
        elif _is(key, rc.RECORDED_SITE):
            g.recorded_site = _meaning(value)
        elif _is(key, rc.FRAGMENT):
            g.fragment = _meaning(value)
        else:
            return
        g.evaluations += 1

    # -- the report ---------------------------------------------------------------------------

    def read(self) -> SrReport:
        ds, path = self.ds, self.path
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
        root = _meaning(ds.ConceptNameCodeSequence[0])
        reader = _person(ds)
        groups = [self.group(item, where) for item, where in self.groups(ds, root)]
        references: dict[str, Decimal] = {}
        for g in groups:
            if "mean" in g.suv and g.finding is not None:
                for key, organ in (("liver_suv_mean", rc.LIVER), ("spleen_suv_mean", rc.SPLEEN)):
                    if _is(g.finding, organ):
                        references[key] = g.suv["mean"]
        measurements: list[Measurement] = []
        uids: dict[tuple[str, str], str] = {}
        for g in groups:
            if not self.is_lesion(g):
                continue
            m = self.measurement(g, patient_id, reader, references)
            # The named fragments of a split lesion share its Tracking Unique Identifier.
            uid = (m.extra["tracking_uid"], m.extra.get(FRAGMENT_KEY, ""))
            if uid in uids:
                raise self.fail(
                    g.where,
                    f"lesion {m.lesion_id} (Tracking Unique Identifier {uid[0]}) appears twice "
                    f"in the report (first at {uids[uid]})",
                )
            uids[uid] = g.where
            measurements.append(m)
        if not measurements:
            raise DicomError(
                "the report holds no lesion measurement group",
                path=str(path),
                tag="ContentSequence (0040,A730)",
            )
        extras = sum(len(extra_values(m)) for m in measurements)
        volume_only = sum(
            1
            for m in measurements
            if m.long_axis_mm is None and m.short_axis_mm is None and extra_values(m)
        )
        stamp = f"{ds.get('ContentDate', '')}{ds.get('ContentTime', '')}"
        return SrReport(str(path), stamp, tuple(measurements), extras, volume_only)

    def groups(self, ds: Dataset, root: str) -> Iterator[tuple[Dataset, str]]:
        def walk(item: Dataset, where: str) -> Iterator[tuple[Dataset, str]]:
            for child, child_where in self.children(item, where):
                if child.get("ValueType") != "CONTAINER":
                    continue
                if _is(_key_of(self.concept(child, child_where)), _MEASUREMENT_GROUP):
                    yield child, child_where
                else:
                    yield from walk(child, child_where)

        return walk(ds, root)

    def is_lesion(self, g: _Group) -> bool:
        if g.category is not None and _is(g.category, rc.ANATOMICAL_STRUCTURE):
            return False  # a reference organ (liver, spleen SUV)
        if g.finding is None and not g.axes and not g.extras and not g.suv:
            return g.evaluations > 0 and g.baseline_category is not None
        return True

    def resolve_images(self, g: _Group, label: str) -> tuple[str | None, str | None]:
        """(SOP Instance UID, Series UID) of the image a group was measured on."""
        if g.images:
            return g.images[0], _series_of(self.ds, g.images[0])
        if not g.segmentations:
            return None, None
        seg_uid, segment = g.segmentations[0]
        sources = list(g.segmentation_sources)
        series = g.source_series
        seg = self.segmentations.get(seg_uid)
        if not sources and seg is not None:
            by_segment = seg.images_by_segment.get(segment or 1, ())
            sources = list(by_segment or seg.all_images)
            series = series or seg.series_uid
        if sources:
            # The middle source image of the segment: where a volume's largest extent usually is.
            chosen = sources[len(sources) // 2]
            return chosen, _series_of(self.ds, chosen) or series
        if series is None:
            raise self.fail(
                g.where,
                f"lesion {label} references segmentation {seg_uid}, which is not in the folder "
                "and the report names neither its source images nor its source series",
            )
        return None, series

    def measurement(
        self, g: _Group, patient_id: str, reader: str, references: Mapping[str, Decimal]
    ) -> Measurement:
        label = g.tracking_id or g.tracking_uid
        if not label:
            raise self.fail(g.where, "the measurement group has no Tracking Identifier")
        sop, series = self.resolve_images(g, label)
        if sop is None and g.axes:
            # A size must be traceable to the image it was measured on.
            raise DicomError(
                f"content item {g.where}: lesion {label} has a size but references no image",
                path=str(self.path),
                tag="ReferencedSOPSequence (0008,1199)",
            )
        nodal = any(
            _is(key, rc.SITE_CODES["lymph node"]) or "lymph node" in meaning.lower()
            for key, meaning in g.sites
        )
        role = _code_lookup(g.baseline_category, rc.BASELINE_CATEGORY_BY_ROLE)
        state = _code_lookup(g.state, rc.LESION_STATE_VALUES)
        extra: dict[str, str] = {"reader": reader, "study_uid": str(self.ds.StudyInstanceUID)}
        if role is None:
            # No RECIST role (OHIF, Slicer): never guessed. Stored as unassigned with a
            # placeholder role that no scoring accepts (see ROLE_UNASSIGNED_KEY).
            extra[ROLE_UNASSIGNED_KEY] = "1"
            role = Role.NON_TARGET
            state = LesionState.MEASURED if g.axes else LesionState.PRESENT
        elif state is None:
            state = LesionState.MEASURED if role is Role.TARGET else LesionState.PRESENT
        site = g.recorded_site
        if site is None:
            site = g.sites[0][1].lower() if g.sites else "unspecified"
        if sop is not None:
            extra["sop_instance_uid"] = sop
        if series:
            extra["series_uid"] = series
        if g.segmentations:
            extra[SEGMENTATION_KEY] = g.segmentations[0][0]
            if g.segmentations[0][1] is not None:
                extra[SEGMENT_NUMBER_KEY] = str(g.segmentations[0][1])
        extra["tracking_uid"] = g.tracking_uid or lesion_tracking_uid(patient_id, label)
        if g.fragment:
            extra[FRAGMENT_KEY] = g.fragment
        image_points = dict(g.image_points)
        region = image_points.pop("region", None)
        if region is not None and "long" in g.axes and "long" not in image_points:
            image_points["long"] = region
        for axis, points in sorted(image_points.items()):
            extra[IMAGE_POINT_KEYS[axis]] = " ".join(repr(v) for v in points)
        for axis, (points, frame) in sorted(g.endpoints.items()):
            start_key, end_key = ENDPOINT_KEYS[axis]
            extra[start_key] = format_point_mm(points[:3])
            extra[end_key] = format_point_mm(points[3:])
            extra["frame_of_reference_uid"] = frame
        if g.location is not None:
            extra[LOCATION_KEY] = format_point_mm(g.location[0])
            extra.setdefault("frame_of_reference_uid", g.location[1])
        if "max" in g.suv:
            extra["suv_max"] = str(g.suv["max"])
        if "peak" in g.suv:
            extra["suv_peak"] = str(g.suv["peak"])
        if "mean" in g.suv:
            g.extras.append(ExtraValue(rc.SUVBW, g.suv["mean"], rc.SUVBW_UNIT, rc.MEAN))
        grade = g.krenning_grade
        if grade is None:
            grade = _code_lookup(g.krenning, rc.KRENNING_VALUES)
        if grade is not None:
            extra["krenning"] = str(grade)
        for key, value in references.items():
            extra[key] = str(value)
        if g.thickness is not None:
            extra["slice_thickness_mm"] = str(g.thickness)
        if g.extras:
            extra[EXTRA_VALUES_KEY] = _extra_values_text(g.extras)
        return Measurement(
            patient_id=patient_id,
            date=self.scan_date(g),
            lesion_id=label,
            role=role,
            site=site,
            nodal=nodal,
            state=state,
            long_axis_mm=g.axes.get("long"),
            short_axis_mm=g.axes.get("short"),
            slice_thickness_mm=g.thickness,
            extra=extra,
            source=Source(path=str(self.path)),
        )

    def scan_date(self, g: _Group) -> dt.date:
        if g.time_point:
            try:
                return dt.date.fromisoformat(g.time_point.strip())
            except ValueError:
                logger.debug("time point %r is not a date; using the study date", g.time_point)
        study_date = str(self.ds.get("StudyDate", "")).strip()
        try:
            return dt.datetime.strptime(study_date, "%Y%m%d").date()
        except ValueError:
            raise DicomError(
                "no scan date: the time point is not a date and the Study Date is missing",
                path=str(self.path),
                tag="StudyDate (0008,0020)",
            ) from None


def _person(root: Dataset) -> str:
    items = list(root.get("ContentSequence", []))
    for item in items:
        seq = item.get("ConceptNameCodeSequence")
        if seq and _is(_key_of(seq[0]), _PERSON_OBSERVER) and item.get("PersonName"):
            return str(item.PersonName).rstrip("^") or UNSPECIFIED_READER
    for item in items:
        seq = item.get("ConceptNameCodeSequence")
        if seq and _is(_key_of(seq[0]), _DEVICE_OBSERVER) and item.get("TextValue"):
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


def _code_lookup(value: Key | None, table: Mapping[K, Code]) -> K | None:
    if value is None:
        return None
    for key, code in table.items():
        if _is(value, code):
            return key
    return None


def is_tid1500(ds: Dataset) -> bool:
    """Whether a dataset is an SR document whose root is a TID 1500 Measurement Report."""
    if str(ds.get("SOPClassUID", "")) not in SR_STORAGE_CLASSES:
        return False
    for template in ds.get("ContentTemplateSequence", []):
        if str(template.get("TemplateIdentifier", "")) == "1500":
            return True
    seq = ds.get("ConceptNameCodeSequence")
    return bool(seq) and seq[0].get("CodeValue") in {"126000", "126001"}


def _check_whole_file(path: Path, ds: Dataset) -> None:
    """Refuse a file that ends inside an element (pydicom reads a cut file without a word)."""
    size = path.stat().st_size
    # Top-level elements not yet accessed are still as read, with their declared lengths.
    for element in list(ds._dict.values()):
        length = getattr(element, "length", None)
        start = getattr(element, "value_tell", None)
        if length is None or start is None or length == 0xFFFFFFFF:
            continue
        if start + length > size:
            raise DicomError(
                f"the file is cut short: it ends at byte {size}, inside this element "
                f"(declared to end at byte {start + length}); nothing was read from it",
                path=str(path),
                tag=f"{pydicom.datadict.keyword_for_tag(element.tag) or 'element'} "
                f"({element.tag.group:04X},{element.tag.element:04X})",
            )


def read_report(
    path: str | Path,
    dataset: Dataset | None = None,
    *,
    segmentations: Mapping[str, SegmentationSource] | None = None,
) -> SrReport:
    """Read one TID 1500 measurement report, whole or not at all.

    Parameters
    ----------
    path
        The SR file.
    dataset
        The file's dataset if already read (then the file is not checked for truncation).
    segmentations
        DICOM SEG objects by SOP Instance UID, to resolve measurements referencing a segment to
        the segment's source images (see :func:`read_segmentation_source`).

    Raises
    ------
    DicomError
        One line naming the file, the content item (path of concept names) or tag, and the
        reason: not DICOM, cut short, not TID 1500, no patient, a content item without concept
        name or value, a negative length, a unit other than mm/cm, a lesion twice, a size
        without an image.
    """
    path = Path(path)
    try:
        if dataset is None:
            try:
                dataset = pydicom.dcmread(path)
            except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
                raise DicomError(f"not a readable DICOM file ({exc})", path=str(path)) from None
            _check_whole_file(path, dataset)
        return _Reader(path, dataset, segmentations or {}).read()
    except RecistryError:
        raise
    except Exception as exc:  # a malformed dataset: one line, never a traceback
        logger.debug("unexpected error reading %s", path, exc_info=True)
        raise DicomError(
            f"cannot be read as a TID 1500 report ({type(exc).__name__}: {exc})", path=str(path)
        ) from None


def read_sr(path: str | Path, dataset: Dataset | None = None) -> list[Measurement]:
    """Read the lesion measurements of one TID 1500 measurement report (see :func:`read_report`).

    Returns
    -------
    list of Measurement
        One per lesion measurement group; sizes in mm, ``extra`` as the store documents it
        (reader, tracking_uid, image UIDs, endpoints in patient mm, SUVs, Krenning, extra
        values, the unassigned-role flag).
    """
    return list(read_report(path, dataset).measurements)


def assign_lesion_ids(
    reports: Sequence[SrReport],
) -> tuple[list[SrReport], list[SharedLabel]]:
    """Give lesions that share a label (Tracking Identifier) distinct ids, per patient.

    Identity is the Tracking Unique Identifier. A label used by one identity stays the id; a
    label used by several becomes ``label #1``, ``label #2`` … in order of first appearance
    (reports in the given order, groups in report order), so the same folder always gives the
    same ids.

    Returns
    -------
    reports, shared
        The reports with their lesion ids assigned, and one :class:`SharedLabel` per label
        that needed numbering (to show the user).
    """
    uids_by_label: dict[tuple[str, str], list[str]] = defaultdict(list)
    for report in reports:
        for m in report.measurements:
            uids = uids_by_label[(m.patient_id, m.lesion_id)]
            if m.extra["tracking_uid"] not in uids:
                uids.append(m.extra["tracking_uid"])
    renamed: dict[tuple[str, str], str] = {}
    shared = []
    for (patient, label), uids in uids_by_label.items():
        if len(uids) < 2:
            continue
        ids = []
        for number, uid in enumerate(uids, start=1):
            renamed[(patient, uid)] = f"{label} #{number}"
            ids.append(f"{label} #{number}")
        shared.append(SharedLabel(patient, label, tuple(ids)))
    if not renamed:
        return list(reports), []
    out = []
    for report in reports:
        measurements = tuple(
            dataclasses.replace(m, lesion_id=renamed[(m.patient_id, m.extra["tracking_uid"])])
            if (m.patient_id, m.extra["tracking_uid"]) in renamed
            else m
            for m in report.measurements
        )
        out.append(dataclasses.replace(report, measurements=measurements))
    return out, shared


def _dicom_files(root: Path) -> Iterable[tuple[Path, Dataset]]:
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        try:
            ds = pydicom.dcmread(
                path,
                stop_before_pixels=True,
                specific_tags=["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"],
            )
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        yield path, ds


def find_sr_files(root: str | Path) -> list[Path]:
    """DICOM SR files under ``root`` (recursively, sorted), recognised by their SOP Class UID."""
    return [
        path
        for path, ds in _dicom_files(Path(root))
        if str(ds.get("SOPClassUID", "")) in SR_STORAGE_CLASSES
    ]


def find_segmentations(root: str | Path) -> dict[str, SegmentationSource]:
    """The DICOM SEG files under ``root``, by SOP Instance UID (unreadable ones are skipped)."""
    found = {}
    for path, ds in _dicom_files(Path(root)):
        if str(ds.get("SOPClassUID", "")) == SEGMENTATION_STORAGE:
            try:
                seg = read_segmentation_source(path)
            except DicomError as exc:
                logger.warning("%s", exc)
                continue
            found[seg.sop_instance_uid] = seg
    return found


def read_sr_tree(root: str | Path) -> list[Measurement]:
    """Read every TID 1500 report in a folder tree, all or nothing (``recistry rescore DIR``).

    The same reader as ``recistry import``: any bad file refuses the whole folder, and lesions
    sharing a label get distinct ids (:func:`assign_lesion_ids`).

    Raises
    ------
    DicomError
        The folder holds no SR file, or an SR file is invalid (named in the message).
    """
    files: list[Path] = []
    segmentations: dict[str, SegmentationSource] = {}
    for path, ds in _dicom_files(Path(root)):  # one pass over the tree for both kinds
        sop_class = str(ds.get("SOPClassUID", ""))
        if sop_class in SR_STORAGE_CLASSES:
            files.append(path)
        elif sop_class == SEGMENTATION_STORAGE:
            try:
                seg = read_segmentation_source(path)
            except DicomError as exc:
                logger.warning("%s", exc)
                continue
            segmentations[seg.sop_instance_uid] = seg
    if not files:
        raise DicomError("no DICOM SR files found in this folder", path=str(root))
    reports = [read_report(path, segmentations=segmentations) for path in files]
    reports.sort(key=lambda r: (r.content_datetime, r.path))
    reports, shared = assign_lesion_ids(reports)
    for label in shared:
        logger.warning("%s", label.describe())
    return [m for report in reports for m in report.measurements]
