"""Writing one reader's reading of one scan as a DICOM TID 1500 Measurement Report.

The report is a Comprehensive 3D SR (highdicom) whose evidence is the CT images measured on:

- one TID 1501 measurement group per lesion, with the lesion's tracking identifier and tracking
  UID (kept across time points), the time point (TID 1502), finding type *Lesion*, the finding
  site, the method *RECIST 1.1* (DCM 126081) and the image measured on as source image;
- in it, long axis (SCT 103339001) and short axis (SCT 103340004) in mm, each with its two-point
  POLYLINE in patient coordinates (SCOORD3D, LPS mm, the image's frame of reference) when the
  endpoints are known; slice thickness (DCM 112225); lesion SUVbw maximum and peak;
- qualitative evaluations: baseline category (DCM 112074/112075/112076), the RECIST lesion state
  and the Krenning score (private scheme ``99RECISTRY``), the site as the reader wrote it;
- liver and spleen reference groups (SUVbw mean) when recorded;
- a response group with the time point's RECIST call: target (DCM 112041–112044), non-target
  (DCM 112045–112047) and overall response, method DCM 126081;
- the reader as person observer (TID 1002).

Numbers are written with the exact decimal text the store holds, so an import reads back the
same values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import highdicom as hd
import numpy as np
import numpy.typing as npt
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid
from pydicom.valuerep import DS, DT

from recistry import __version__
from recistry.errors import InputError
from recistry.recist.model import (
    FRAGMENT_KEY,
    LesionState,
    Measurement,
    Role,
    TimepointAssessment,
)
from recistry.sr import codes as rc
from recistry.sr.reader import (
    IMAGE_POINT_KEYS,
    LOCATION_KEY,
    SEGMENT_NUMBER_KEY,
    SEGMENTATION_KEY,
    SEGMENTATION_STORAGE,
    extra_values,
)
from recistry.store.readings import (
    ENDPOINT_KEYS,
    ROLE_UNASSIGNED_KEY,
    lesion_tracking_uid,
    parse_point_mm,
)

logger = logging.getLogger(__name__)

MANUFACTURER = "recistry"
SERIES_NUMBER = 9001
SERIES_DESCRIPTION = "recistry RECIST 1.1 measurements"


@dataclass(frozen=True, slots=True)
class ScanReading:
    """One reader's measurements of one patient at one scan date, ready to be reported.

    Attributes
    ----------
    measurements
        The readings (all of one patient, reader and scan date).
    reader
        The reader's name (written as the person observer).
    time_point_order
        1 for the baseline scan, 2 for the first follow-up, and so on.
    assessment
        The engine's call for this time point (``None`` at baseline or when not scored).
    """

    measurements: tuple[Measurement, ...]
    reader: str
    time_point_order: int
    assessment: TimepointAssessment | None = None

    @property
    def patient_id(self) -> str:
        return self.measurements[0].patient_id

    @property
    def date(self) -> dt.date:
        return self.measurements[0].date


def _num(name: Code, value: Decimal | str, unit: Code, **kwargs: object) -> hd.sr.Measurement:
    text = str(value)
    if len(text) > 16:
        raise InputError(f"{name.meaning} value {text} does not fit DICOM DS (16 characters)")
    item = hd.sr.Measurement(name=name, value=float(text), unit=unit, **kwargs)  # type: ignore[arg-type]
    # highdicom formats the float; keep the store's exact decimal text instead (e.g. "23.40").
    item[0].MeasuredValueSequence[0].NumericValue = DS(text)
    return item


def _person_name(reader: str) -> str:
    # A single-component PN needs a trailing caret to be unambiguous (highdicom insists).
    return reader if "^" in reader else f"{reader}^"


def _uid(*parts: str) -> str:
    return str(generate_uid(entropy_srcs=["recistry-sr", *parts]))


def _image_points(
    extra: Mapping[str, str], axis: str, image: Dataset, points: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.float64] | None:
    """An axis in image coordinates (column, row; (0, 0) the top left corner of the top left
    pixel, PS3.3 C.18.6.1.2), as OHIF draws it: as read from another tool, else projected from
    the endpoints in patient mm onto the image plane."""
    known = extra.get(IMAGE_POINT_KEYS[axis])
    if known:
        return np.array([float(v) for v in known.split()], dtype=float).reshape(2, 2)
    if points is None or "ImagePositionPatient" not in image or "PixelSpacing" not in image:
        return None
    origin = np.array([float(v) for v in image.ImagePositionPatient])
    orientation = [float(v) for v in image.ImageOrientationPatient]
    row_dir, col_dir = np.array(orientation[:3]), np.array(orientation[3:])
    row_mm, column_mm = (float(v) for v in image.PixelSpacing)
    offsets = points - origin
    columns = offsets @ row_dir / column_mm + 0.5
    rows = offsets @ col_dir / row_mm + 0.5
    return np.round(np.stack([columns, rows], axis=1), 4)


def _site_codes(m: Measurement) -> tuple[Code | None, bool]:
    """The SNOMED CT finding site of a lesion, and whether it says the site text exactly."""
    text = m.site.strip()
    if m.nodal:
        return rc.SITE_CODES["lymph node"], text == "lymph node"
    code = {k: v for k, v in rc.SITE_CODES.items() if k != "lymph node"}.get(text.lower())
    return code, code is not None and text == text.lower()


def _lesion_group(
    m: Measurement,
    time_point: hd.sr.TimePointContext,
    images: Mapping[str, Dataset],
) -> (
    hd.sr.MeasurementsAndQualitativeEvaluations
    | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    | hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
):
    extra = m.extra
    sop = extra.get("sop_instance_uid")
    image = images[sop] if sop else None
    frame = extra.get("frame_of_reference_uid") or (
        str(image.FrameOfReferenceUID)
        if image is not None and "FrameOfReferenceUID" in image
        else None
    )
    seg_uid = extra.get(SEGMENTATION_KEY)
    # A lesion whose mask is a SEG segment (and the SEG is indexed): a volumetric group (TID
    # 1411) referencing the segment, which dcmqi/Slicer read. highdicom allows no coordinates
    # in its measurements there: the axes' lines in patient mm are added to the group after
    # (:func:`_with_axis_lines`), so a re-import keeps them.
    segmentation = images.get(seg_uid) if seg_uid else None
    seg_lines: dict[Code, np.ndarray] = {}
    measurements: list[hd.sr.Measurement] = []
    for axis, value, code in (
        ("long", m.long_axis_mm, rc.LONG_AXIS),
        ("short", m.short_axis_mm, rc.SHORT_AXIS),
    ):
        if value is None:
            continue
        start_key, end_key = ENDPOINT_KEYS[axis]
        coordinates: list[hd.sr.CoordinatesForMeasurement | hd.sr.CoordinatesForMeasurement3D] = []
        points = None
        if extra.get(start_key) and extra.get(end_key) and frame:
            points = np.array(
                [parse_point_mm(extra[start_key]), parse_point_mm(extra[end_key])], dtype=float
            )
        if segmentation is not None:
            if points is not None:
                seg_lines[code] = points
            points = None
        elif image is not None:
            # The line on the image (SCOORD), as OHIF/dcmjs read and draw it.
            pixels = _image_points(extra, axis, image, points)
            if pixels is not None:
                coordinates.append(
                    hd.sr.CoordinatesForMeasurement(
                        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                        graphic_data=pixels,
                        source_image=hd.sr.SourceImageForRegion.from_source_image(image),
                    )
                )
        if points is not None and frame:
            coordinates.append(
                hd.sr.CoordinatesForMeasurement3D(
                    graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                    graphic_data=points,
                    frame_of_reference_uid=frame,
                )
            )
        measurements.append(
            _num(
                code, value, rc.MM, method=rc.RECIST_1_1, referenced_coordinates=coordinates or None
            )
        )
    if m.slice_thickness_mm is not None:
        measurements.append(_num(rc.SLICE_THICKNESS, m.slice_thickness_mm, rc.MM))
    for key, derivation in (("suv_max", rc.MAXIMUM), ("suv_peak", rc.PEAK)):
        if extra.get(key):
            measurements.append(_num(rc.SUVBW, extra[key], rc.SUVBW_UNIT, derivation=derivation))
    for kept in extra_values(m):
        if kept.value is None or kept.unit is None:
            # A NUM read with only a qualifier (no value): highdicom writes no such item.
            logger.warning(
                "lesion %s on %s: extra value %s has no number and is not written to the SR",
                m.lesion_id,
                m.date,
                kept.name.meaning,
            )
            continue
        measurements.append(_num(kept.name, kept.value, kept.unit, derivation=kept.derivation))
    unassigned = bool(extra.get(ROLE_UNASSIGNED_KEY))
    evaluations = []
    if not unassigned:
        # No baseline category for a lesion imported without a role: it stays unassigned.
        evaluations.append(
            hd.sr.QualitativeEvaluation(rc.BASELINE_CATEGORY, rc.BASELINE_CATEGORY_BY_ROLE[m.role])
        )
    default_state = (
        LesionState.MEASURED
        if m.role is Role.TARGET
        or (unassigned and (m.long_axis_mm is not None or m.short_axis_mm is not None))
        else LesionState.PRESENT
    )
    if m.state is not default_state:
        # The state the reader reads when none is written is the role's default; only another
        # state needs the (private) lesion state code.
        evaluations.append(
            hd.sr.QualitativeEvaluation(rc.LESION_STATE, rc.LESION_STATE_VALUES[m.state])
        )
    site_code, site_exact = _site_codes(m)
    if not site_exact:
        evaluations.append(hd.sr.QualitativeEvaluation(rc.RECORDED_SITE, rc.site_text_code(m.site)))
    if extra.get(FRAGMENT_KEY):
        evaluations.append(
            hd.sr.QualitativeEvaluation(rc.FRAGMENT, rc.fragment_text_code(extra[FRAGMENT_KEY]))
        )
    if extra.get("krenning"):
        measurements.append(_num(rc.KRENNING, str(int(extra["krenning"])), rc.SCORE_UNIT))
    tracking = hd.sr.TrackingIdentifier(
        uid=extra.get("tracking_uid") or lesion_tracking_uid(m.patient_id, m.lesion_id),
        identifier=m.lesion_id,
    )
    if segmentation is not None and seg_uid is not None:
        source_series = extra.get("series_uid") or (
            str(image.SeriesInstanceUID) if image is not None else None
        )
        volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=SEGMENTATION_STORAGE,
                sop_instance_uid=seg_uid,
                segment_number=int(extra.get(SEGMENT_NUMBER_KEY) or 1),
                source_series=(
                    hd.sr.SourceSeriesForSegmentation(source_series) if source_series else None
                ),
            ),
            time_point_context=time_point,
            finding_type=rc.LESION,
            finding_sites=[hd.sr.FindingSite(site_code)] if site_code else None,
            method=rc.RECIST_1_1,
            measurements=measurements or None,
            qualitative_evaluations=evaluations or None,
        )
        if seg_lines and frame:
            _with_axis_lines(volumetric, seg_lines, frame)
        return volumetric
    location = extra.get(LOCATION_KEY)
    if location and frame and m.long_axis_mm is None and m.short_axis_mm is None:
        # A lesion without diameters but with a location (non-target, new): a planar group
        # (TID 1410) whose region is the point, in patient mm of the image's frame.
        planar = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_region=hd.sr.ImageRegion3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POINT,
                graphic_data=np.array([parse_point_mm(location)], dtype=float),
                frame_of_reference_uid=frame,
            ),
            time_point_context=time_point,
            finding_type=rc.LESION,
            finding_sites=[hd.sr.FindingSite(site_code)] if site_code else None,
            method=rc.RECIST_1_1,
            measurements=measurements or None,
            qualitative_evaluations=evaluations or None,
        )
        if image is not None:
            # TID 1410 has no row for the image of a 3D region: the group's source image (the
            # TID 1501 item, SCT 260753009 "Source") keeps the image the reader placed it on.
            planar[0].ContentSequence.append(
                hd.sr.SourceImageForMeasurementGroup.from_source_image(image)
            )
        return planar
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        time_point_context=time_point,
        finding_type=rc.LESION,
        finding_sites=[hd.sr.FindingSite(site_code)] if site_code else None,
        method=rc.RECIST_1_1,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
        source_images=(
            [hd.sr.SourceImageForMeasurementGroup.from_source_image(image)]
            if image is not None
            else None
        ),
    )


def _with_axis_lines(
    group: hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations,
    lines: Mapping[Code, np.ndarray],
    frame: str,
) -> None:
    """Give each axis NUM of a volumetric group its line (SCOORD3D POLYLINE, INFERRED FROM, in
    patient mm of ``frame``), as the other groups carry it (TID 300 row 8)."""
    for item in group[0].ContentSequence:
        if item.ValueType != "NUM":
            continue
        line = next(
            (
                points
                for code, points in lines.items()
                if rc.same_code(item.ConceptNameCodeSequence[0], code)
            ),
            None,
        )
        if line is None:
            continue
        coordinates = hd.sr.CoordinatesForMeasurement3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
            graphic_data=line,
            frame_of_reference_uid=frame,
        )
        item.ContentSequence = [*item.get("ContentSequence", []), coordinates]


def _reference_groups(
    reading: ScanReading, time_point: hd.sr.TimePointContext
) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    groups = []
    for key, organ, label in (
        ("liver_suv_mean", rc.LIVER, "REF-LIVER"),
        ("spleen_suv_mean", rc.SPLEEN, "REF-SPLEEN"),
    ):
        values = {m.extra[key] for m in reading.measurements if m.extra.get(key)}
        if not values:
            continue
        if len(values) > 1:
            raise InputError(
                f"patient {reading.patient_id} on {reading.date}: reader {reading.reader} "
                f"recorded several {key} values ({', '.join(sorted(values))}); one scan has "
                "one reference",
                column=key,
            )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=_uid(reading.patient_id, label), identifier=label
                ),
                time_point_context=time_point,
                finding_category=rc.ANATOMICAL_STRUCTURE,
                finding_type=organ,
                measurements=[
                    _num(rc.SUVBW, values.pop(), rc.SUVBW_UNIT, derivation=rc.MEAN),
                ],
            )
        )
    return groups


def _response_group(
    reading: ScanReading, time_point: hd.sr.TimePointContext
) -> hd.sr.MeasurementsAndQualitativeEvaluations | None:
    tp = reading.assessment
    if tp is None:
        return None
    evaluations = [
        hd.sr.QualitativeEvaluation(rc.RESPONSE_EVALUATION_METHOD, rc.RECIST_1_1),
    ]
    if tp.target_response is not None:
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                rc.CURRENT_RESPONSE,
                rc.TARGET_RESPONSE.get(tp.target_response, rc.TARGET_NOT_EVALUABLE),
            )
        )
    if tp.non_target_response is not None:
        evaluations.append(
            hd.sr.QualitativeEvaluation(
                rc.CURRENT_RESPONSE,
                rc.NON_TARGET_RESPONSE.get(tp.non_target_response, rc.NON_TARGET_NOT_EVALUABLE),
            )
        )
    evaluations.append(
        hd.sr.QualitativeEvaluation(
            rc.OVERALL_RESPONSE, rc.OVERALL_RESPONSE_VALUES[tp.overall_response]
        )
    )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=_uid(reading.patient_id, reading.reader, reading.date.isoformat(), "response"),
            identifier="RECIST 1.1 time point response",
        ),
        time_point_context=time_point,
        method=rc.RECIST_1_1,
        qualitative_evaluations=evaluations,
    )


def _content_datetime(reading: ScanReading) -> dt.datetime:
    """When the reading was made: the latest ``measured_at``, else the scan date at midnight.

    Taken from the data (never the clock) so that exporting the same store twice gives the same
    files.
    """
    stamps = []
    for m in reading.measurements:
        text = m.extra.get("measured_at")
        if text:
            try:
                stamps.append(dt.datetime.fromisoformat(text).replace(tzinfo=None))
            except ValueError:
                logger.warning("measured_at %r of lesion %s is not ISO 8601", text, m.lesion_id)
    return max(stamps) if stamps else dt.datetime.combine(reading.date, dt.time())


# Type 2 attributes of the Patient and General Study modules (PS3.3 C.7.1.1, C.7.2.1): they must
# be present, possibly empty. Some images omit them; highdicom copies them from the evidence.
_TYPE2_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def _with_type2_patient_study(image: Dataset) -> Dataset:
    """The image header, copied with any missing Type 2 patient/study attribute added empty."""
    missing = [k for k in _TYPE2_PATIENT_STUDY if k not in image]
    if not missing:
        return image
    # A new element dict (Dataset(image) and copy.copy share it): the caller's header is left as
    # it was, and pixel data are not copied.
    header = Dataset()
    for element in image:
        header.add(element)
    for keyword in missing:
        setattr(header, keyword, "")
    return header


def build_report(
    reading: ScanReading, images: Mapping[str, Dataset], *, digest_extra: Sequence[str] = ()
) -> hd.sr.Comprehensive3DSR:
    """Build the TID 1500 report of one scan reading.

    Parameters
    ----------
    reading
        The reader's measurements of one scan.
    images
        The headers (pixel data not needed) of the images measured on, by SOP Instance UID. They
        become the report's evidence; the patient and study modules are copied from them.
    digest_extra
        Extra text mixed into the report's UIDs (e.g. a pseudonymisation marker), so different
        renderings of one reading get different SOP Instance UIDs.

    Raises
    ------
    InputError
        The reading references no image, or an image that is not in ``images``.
    """
    where = f"patient {reading.patient_id} on {reading.date}, reader {reading.reader}"
    sops = sorted(
        {
            m.extra["sop_instance_uid"]
            for m in reading.measurements
            if m.extra.get("sop_instance_uid")
        }
    )
    if not sops:
        raise InputError(
            f"{where}: no measurement names the image it was made on (sop_instance_uid); "
            "a DICOM SR needs its evidence"
        )
    unreferenced = [
        m.lesion_id
        for m in reading.measurements
        if (m.long_axis_mm is not None or m.short_axis_mm is not None)
        and not m.extra.get("sop_instance_uid")
    ]
    if unreferenced:
        raise InputError(
            f"{where}: lesion {unreferenced[0]} has a size but no sop_instance_uid; every size "
            "in a DICOM SR must name the image it was measured on",
            column="sop_instance_uid",
        )
    missing = [uid for uid in sops if uid not in images]
    if missing:
        raise InputError(
            f"{where}: image {missing[0]} is not in the store's DICOM index; run "
            "'recistry index ROOT --store STORE' on the folder that holds it",
            column="sop_instance_uid",
        )
    baseline = reading.time_point_order == 1
    time_point = hd.sr.TimePointContext(
        time_point=reading.date.isoformat(),
        time_point_type=rc.BASELINE if baseline else rc.POSTTREATMENT,
        time_point_order=reading.time_point_order,
    )
    groups = [
        _lesion_group(m, time_point, images)
        for m in sorted(reading.measurements, key=lambda m: m.lesion_id)
    ]
    groups.extend(_reference_groups(reading, time_point))
    response = _response_group(reading, time_point)
    if response is not None:
        groups.append(response)
    has_suv = any(m.extra.get("suv_max") or m.extra.get("suv_peak") for m in reading.measurements)
    procedures = [codes.LN.CTUnspecifiedBodyRegion]
    if has_suv:
        procedures.append(codes.LN.PETWholeBody)
    observer = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=_person_name(reading.reader)
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=procedures,
        imaging_measurements=groups,
        title=rc.IMAGING_MEASUREMENT_REPORT,
    )
    digest = hashlib.sha256(
        repr(
            (
                [
                    (
                        m.lesion_id,
                        m.role,
                        m.site,
                        m.nodal,
                        m.state,
                        m.long_axis_mm,
                        m.short_axis_mm,
                        m.slice_thickness_mm,
                        sorted(m.extra.items()),
                    )
                    for m in reading.measurements
                ],
                reading.assessment.overall_response if reading.assessment else None,
                tuple(digest_extra),
            )
        ).encode()
    ).hexdigest()
    key = (reading.patient_id, reading.reader, reading.date.isoformat())
    content_dt = _content_datetime(reading)
    segmentations = sorted(
        {
            m.extra[SEGMENTATION_KEY]
            for m in reading.measurements
            if m.extra.get(SEGMENTATION_KEY) in images
        }
    )
    evidence = [_with_type2_patient_study(images[uid]) for uid in (*sops, *segmentations)]
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=_uid(*key, "series"),
        series_number=SERIES_NUMBER,
        sop_instance_uid=_uid(*key, digest),
        instance_number=reading.time_point_order,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description=SERIES_DESCRIPTION,
        content_date=content_dt.date(),
        content_time=content_dt.time(),
        coding_schemes=[
            CodingSchemeIdentificationItem(
                designator=rc.SCHEME, name=rc.SCHEME_NAME, version=rc.SCHEME_VERSION
            )
        ],
    )
    # Deterministic output: creation stamps follow the content, not the wall clock.
    sr.InstanceCreationDate = sr.ContentDate
    sr.InstanceCreationTime = sr.ContentTime
    for item in sr.get("ContributingEquipmentSequence", []):
        item.ContributionDateTime = DT(content_dt)
    sr.SoftwareVersions = f"recistry {__version__}"
    return sr
