"""PET series → SUV volume, following the QIBA vendor-neutral SUV logic.

Order of decisions (QIBA "Standardized Uptake Value" vendor-neutral pseudo-code, 2018, with the
IBSI SUV manual for what QIBA leaves out):

1. Preconditions: CorrectedImage (0028,0051) holds ATTN, and DECY unless DecayCorrection is NONE;
   DecayCorrection (0054,1102) is START, ADMIN or NONE; anything missing is refused, naming the tag.
2. Units (0054,1001):
   - BQML: SUVbw = C · W / D_ref, C = stored × RescaleSlope + RescaleIntercept, per slice;
   - CNTS (Philips): the private SUV Scale Factor (7053,xx00) gives SUVbw directly, else the
     Activity Concentration Scale Factor (7053,xx09) gives Bq/ml and then as BQML;
   - GML: already SUV of the SUV Type (0054,1006) (BW when empty), rescaled to SUVbw;
   - CM2ML: SUVbsa, rescaled to SUVbw;
   - CPS, PROPCNTS and the rest cannot be converted and are refused.
3. Scan reference time (DecayCorrection START): SeriesDate/Time when it is not after the earliest
   acquisition; else the GE private scan DateTime (0009,xx0D) "GEMS_PETD_01"; else, when
   FrameReferenceTime > 0 and ActualFrameDuration > 0 in every slice, the reference time
   back-computed from AcquisitionDateTime, FrameReferenceTime and ActualFrameDuration; else the
   earliest acquisition. Philips' FrameReferenceTime is not measured from the decay reference and
   is never back-computed from. DecayCorrection ADMIN: images are decay-corrected to the injection,
   so the dose is not decayed. DecayCorrection NONE: each slice is decay-corrected from its own
   acquisition start over its frame (IBSI).
4. Injection: RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime on the scan
   date, the day before when that time is after the scan (midnight crossing).
5. Dose: RadionuclideTotalDose in Bq; values below 10⁵ are taken as MBq (IBSI). The half-life is
   the header's RadionuclideHalfLife, never a default.

Which rule chose the scan time, and every input, are recorded in ``Volume.provenance``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from recistry.errors import DicomError
from recistry.imaging import suv
from recistry.imaging._dicom import (
    Header,
    HeaderSpec,
    resolve_private,
    tag_label,
    varying_keywords,
)
from recistry.imaging._stack import (
    GEOMETRY_KEYWORDS,
    make_volume,
    rescaled_slices,
    series_headers,
    series_label,
    stack_slices,
)
from recistry.imaging.suv import SuvKind
from recistry.imaging.volume import Volume

logger = logging.getLogger(__name__)

_RADIO = "RadiopharmaceuticalInformationSequence."
_PET_SPEC = HeaderSpec(
    (
        *GEOMETRY_KEYWORDS,
        "SOPClassUID",
        "Manufacturer",
        "Units",
        "SUVType",
        "DecayCorrection",
        "CorrectedImage",
        "SeriesDate",
        "SeriesTime",
        "AcquisitionDate",
        "AcquisitionTime",
        "AcquisitionDateTime",
        "FrameReferenceTime",
        "ActualFrameDuration",
        "TimezoneOffsetFromUTC",
        "PatientWeight",
        "PatientSize",
        "PatientSex",
        _RADIO + "Radiopharmaceutical",
        _RADIO + "RadiopharmaceuticalStartTime",
        _RADIO + "RadiopharmaceuticalStartDateTime",
        _RADIO + "RadionuclideTotalDose",
        _RADIO + "RadionuclideHalfLife",
    ),
    private_groups=(0x0009, 0x7053),
    lazy=True,
)

# Attributes that describe the acquisition as a whole and must not vary between slices.
_SERIES_CONSTANT = (
    "Units",
    "SUVType",
    "DecayCorrection",
    "CorrectedImage",
    "SeriesDate",
    "SeriesTime",
    "PatientWeight",
    "PatientSize",
    "PatientSex",
    _RADIO + "RadiopharmaceuticalStartTime",
    _RADIO + "RadiopharmaceuticalStartDateTime",
    _RADIO + "RadionuclideTotalDose",
    _RADIO + "RadionuclideHalfLife",
)
_GE_CREATOR = "GEMS_PETD_01"
_PHILIPS_CREATOR = "Philips PET Private Group"
# Doses below this are MBq written into a Bq attribute (IBSI: values cluster near 4e2 and 4e8).
_MBQ_THRESHOLD = 1e5
_T = TypeVar("_T")


def load_pet_suv(paths: Iterable[str | os.PathLike[str]], kind: str | SuvKind = "bw") -> Volume:
    """Load one PET series as an SUV volume.

    Parameters
    ----------
    paths
        The files of one PET series, in any order: single-frame PET Image Storage slices, or
        Enhanced PET / Legacy Converted Enhanced PET multi-frame images (per-frame
        RescaleSlope from the Pixel Value Transformation functional group).
    kind
        ``"bw"`` (body weight, g/ml), ``"lbm_james128"``, ``"lbm_janma"`` (lean body mass,
        g/ml), ``"bsa"`` (body surface area, cm²/ml) or ``"ibw"`` (ideal body weight, g/ml).

    Returns
    -------
    Volume
        float32 ``[slice, row, column]`` SUV; geometry in LPS mm; ``units`` e.g. ``"SUVbw"``;
        ``provenance`` records the Units, decay correction, scan and injection times and the rule
        that chose each, dose, half-life, weight and the normaliser.

    Raises
    ------
    DicomError
        Naming the file and the tag: not PET, irregular geometry, Units that cannot be
        converted (CPS, PROPCNTS …), missing or implausible weight, height, sex, dose,
        half-life, decay correction or times, or attributes that differ between slices.
    """
    kind = SuvKind(kind)
    headers = series_headers(list(paths), _PET_SPEC)
    if not headers:
        raise DicomError("no DICOM files were given for the PET series")
    label = series_label(headers)
    for h in headers:
        modality = h.require("Modality")
        if modality != "PT":
            raise DicomError(
                f"modality is {modality!r}, not PT ({series_label(h)})",
                path=h.location,
                tag=tag_label("Modality"),
            )
    stack = stack_slices(headers)
    slices = stack.headers
    _check_constant(slices, label)
    h0 = slices[0]
    provenance: dict[str, str] = {"suv_kind": kind.units}
    per_slice_factor = _suv_bw_factors(slices, label, provenance)
    kind_scale = 1.0
    if kind is not SuvKind.BW:
        weight_kg = _weight_kg(h0)
        norm, how = _normaliser(h0, kind)
        kind_scale = norm / (weight_kg * 1000.0)
        provenance["normaliser"] = how
    provenance["suv_definition"] = (
        f"{kind.units} = activity concentration (Bq/ml) x normaliser / decay-corrected dose (Bq)"
    )

    scale_offset = []
    for k, h in enumerate(slices):
        slope = _number(h, "RescaleSlope")
        intercept = h.first("RescaleIntercept") or 0.0
        if intercept != 0:
            logger.warning("%s: RescaleIntercept %g (PET requires 0); applied", h.path, intercept)
        factor = per_slice_factor[k] * kind_scale
        scale_offset.append((slope * factor, intercept * factor))
    out = rescaled_slices(stack, scale_offset)
    return make_volume(stack, out, kind.units, provenance)


# -- per-slice factor to SUVbw ----------------------------------------------------------------


def _suv_bw_factors(
    slices: Sequence[Header], label: str, provenance: dict[str, str]
) -> list[float]:
    """For each slice, the factor from rescaled pixel values to SUVbw (g/ml)."""
    h0 = slices[0]
    units = str(h0.require("Units"))
    provenance["units"] = units
    if units in ("GML", "CM2ML"):
        provenance["scan_time_rule"] = f"none: Units {units} values are already decay-corrected SUV"
    if units == "GML":
        suv_type = h0.get("SUVType") or "BW"
        provenance["suv_bw_method"] = (
            f"Units GML: values are SUV of SUV Type {suv_type}, rescaled to SUVbw"
        )
        if suv_type == "BW":
            return [1.0] * len(slices)
        kinds = {k.dicom_suv_type: k for k in SuvKind}
        if suv_type not in kinds:
            raise DicomError(
                f"SUV Type {suv_type!r} cannot be converted to SUVbw ({label})",
                path=h0.path,
                tag=tag_label("SUVType"),
            )
        norm, how = _normaliser(h0, kinds[suv_type])
        provenance["stored_normaliser"] = how
        return [_weight_kg(h0) * 1000.0 / norm] * len(slices)
    if units == "CM2ML":
        norm, how = _normaliser(h0, SuvKind.BSA)
        provenance["suv_bw_method"] = "Units CM2ML: values are SUVbsa, rescaled to SUVbw"
        provenance["stored_normaliser"] = how
        return [_weight_kg(h0) * 1000.0 / norm] * len(slices)
    if units == "CNTS":
        philips = [_private(h, 0x7053, _PHILIPS_CREATOR, 0x00, provenance) for h in slices]
        if all(_positive(v) for v in philips):
            provenance["suv_bw_method"] = "Units CNTS: Philips SUV Scale Factor (7053,xx00)"
            provenance["scan_time_rule"] = "none: the Philips SUV Scale Factor includes the decay"
            return [float(v) for v in philips]  # type: ignore[arg-type]
        activity = [_private(h, 0x7053, _PHILIPS_CREATOR, 0x09, provenance) for h in slices]
        if not all(_positive(v) for v in activity):
            bad = slices[[_positive(v) for v in activity].index(False)]
            raise DicomError(
                "Units CNTS without a usable Philips SUV Scale Factor (7053,xx00) or Activity "
                f"Concentration Scale Factor (7053,xx09) cannot be converted to SUV ({label})",
                path=bad.path,
                tag="(7053,xx00) Philips PET Private Group",
            )
        provenance["suv_bw_method"] = (
            "Units CNTS: Philips Activity Concentration Scale Factor (7053,xx09) to Bq/ml, "
            "then as BQML"
        )
        to_bqml = [float(v) for v in activity]  # type: ignore[arg-type]
        return [
            a * f for a, f in zip(to_bqml, _bqml_factors(slices, label, provenance), strict=True)
        ]
    if units == "BQML":
        provenance["suv_bw_method"] = "Units BQML: body weight / decay-corrected injected dose"
        return _bqml_factors(slices, label, provenance)
    raise DicomError(
        f"Units {units!r} cannot be converted to SUV (only BQML, CNTS, GML and CM2ML can) "
        f"({label})",
        path=h0.path,
        tag=tag_label("Units"),
    )


def _bqml_factors(slices: Sequence[Header], label: str, provenance: dict[str, str]) -> list[float]:
    """W / D_ref (g/Bq) per slice for activity-concentration images."""
    h0 = slices[0]
    corrections = h0.get("CorrectedImage")
    if corrections is None:
        raise DicomError(
            "missing: SUV needs to know the image is attenuation and decay corrected",
            path=h0.path,
            tag=tag_label("CorrectedImage"),
        )
    decay_correction = h0.get("DecayCorrection")
    if decay_correction is None:
        raise DicomError(
            "missing: the images' decay reference is unknown, SUV cannot be computed",
            path=h0.path,
            tag=tag_label("DecayCorrection"),
        )
    if "ATTN" not in corrections:
        raise DicomError(
            f"lacks ATTN ({'/'.join(corrections)}): not attenuation corrected, SUV is meaningless",
            path=h0.path,
            tag=tag_label("CorrectedImage"),
        )
    if decay_correction != "NONE" and "DECY" not in corrections:
        raise DicomError(
            f"lacks DECY although DecayCorrection is {decay_correction}",
            path=h0.path,
            tag=tag_label("CorrectedImage"),
        )
    if decay_correction not in ("START", "ADMIN", "NONE"):
        raise DicomError(
            f"DecayCorrection {decay_correction!r} is not START, ADMIN or NONE",
            path=h0.path,
            tag=tag_label("DecayCorrection"),
        )
    provenance["decay_correction"] = decay_correction
    weight_g = _weight_kg(h0) * 1000.0
    dose_bq = _dose_bq(h0, provenance)
    if decay_correction == "ADMIN":
        provenance["scan_time_rule"] = (
            "DecayCorrection ADMIN: images are decay-corrected to the administration time; "
            "the dose is not decayed"
        )
        provenance["decay_time_s"] = "0"
        return [weight_g / dose_bq] * len(slices)
    half_life = _half_life_s(h0, provenance)
    injection = _injection_time(h0, _series_datetime(h0), provenance)
    if decay_correction == "NONE":
        provenance["scan_time_rule"] = (
            "DecayCorrection NONE: each slice decay-corrected from its AcquisitionDateTime over "
            "its ActualFrameDuration (IBSI SUV manual)"
        )
        factors = []
        for h in slices:
            start = _acquisition_datetime(h)
            if start is None:
                raise DicomError(
                    "missing: needed to decay-correct an uncorrected (DecayCorrection NONE) slice",
                    path=h.path,
                    tag=tag_label("AcquisitionTime"),
                )
            duration_s = _number(h, "ActualFrameDuration") / 1000.0
            elapsed = _elapsed_s(injection, start, h)
            factors.append(
                weight_g
                / (dose_bq * suv.decay_factor(elapsed, half_life))
                * suv.frame_decay_correction(duration_s, half_life)
            )
        return factors
    scan, rule = _scan_reference_time(slices, half_life, label, provenance)
    provenance["scan_time_rule"] = rule
    provenance["scan_time"] = scan.isoformat()
    elapsed = _elapsed_s(injection, scan, h0)
    provenance["decay_time_s"] = f"{elapsed:.1f}"
    if elapsed > 50 * half_life:  # under 1e-15 of the dose left: a wrong date, not a scan
        raise DicomError(
            f"injection ({injection.isoformat()}) is {elapsed / 86400:.1f} days before the scan "
            f"reference time ({scan.isoformat()}), {elapsed / half_life:.0f} half-lives; check "
            "the dates",
            path=h0.path,
            tag=tag_label("RadiopharmaceuticalStartDateTime"),
        )
    factor = weight_g / (dose_bq * suv.decay_factor(elapsed, half_life))
    provenance["suv_bw_factor_g_per_bq"] = f"{factor:.6e}"
    return [factor] * len(slices)


def _scan_reference_time(
    slices: Sequence[Header], half_life_s: float, label: str, provenance: dict[str, str]
) -> tuple[dt.datetime, str]:
    """QIBA order for the time the dose is decayed to (DecayCorrection START)."""
    h0 = slices[0]
    series = _series_datetime(h0)
    per_slice = _per_slice(slices, _ACQUISITION_KEYWORDS, _acquisition_datetime)
    acquisitions = [a for a in per_slice if a is not None]
    back = _back_computed_reference(slices, half_life_s)
    if back is not None and _is_philips(h0):
        # Philips writes FrameReferenceTime from another origin than the decay reference (its
        # own SUV Scale Factor agrees with SeriesTime, the back-computed time is ~20 min off):
        # not a scan time, and not a cross-check.
        provenance["scan_time_back_computed"] = (
            "not used: Philips FrameReferenceTime is not relative to the decay reference time"
        )
        back = None
    elif back is not None:
        provenance["scan_time_back_computed"] = back.isoformat()  # IBSI option B, for the audit
    if not acquisitions:
        return series, "SeriesDate/SeriesTime (no AcquisitionTime to compare with)"
    earliest = min(acquisitions)
    if series <= earliest:
        chosen, rule = (
            series,
            "SeriesDate/SeriesTime (not after the earliest AcquisitionDateTime; QIBA)",
        )
    else:
        ge = _private(h0, 0x0009, _GE_CREATOR, 0x0D, provenance)
        if ge:
            chosen = _parse_dt(ge, h0, "(0009,xx0D) GEMS_PETD_01")
            rule = "GE private scan DateTime (0009,xx0D) (SeriesTime after AcquisitionTime; QIBA)"
        elif back is not None:
            chosen = back
            rule = (
                "back-computed from AcquisitionDateTime, FrameReferenceTime and "
                "ActualFrameDuration (SeriesTime after AcquisitionTime; QIBA)"
            )
        else:
            chosen = earliest
            rule = (
                "earliest AcquisitionDateTime (SeriesTime after AcquisitionTime, no GE private "
                "time, FrameReferenceTime or ActualFrameDuration not above zero; QIBA)"
            )
            logger.warning(
                "%s: SeriesTime is after AcquisitionTime; using the earliest acquisition", label
            )
    if back is not None:
        # IBSI's "option B" (always back-compute) as a cross-check: flag disagreements > 1 %.
        ratio = 2.0 ** (abs((chosen - back).total_seconds()) / half_life_s)
        if ratio > 1.01:
            logger.warning(
                "%s: scan time by %s (%s) and back-computed (%s) differ by %.1f%% in SUV",
                label,
                rule,
                chosen.isoformat(),
                back.isoformat(),
                (ratio - 1) * 100,
            )
            provenance["scan_time_disagreement_percent"] = f"{(ratio - 1) * 100:.2f}"
    return chosen, rule


def _back_computed_reference(slices: Sequence[Header], half_life_s: float) -> dt.datetime | None:
    """Series reference time = acquisition start + T_ave − FrameReferenceTime, per slice (the
    median over slices), or ``None`` when an input is missing or not above zero in any slice.

    QIBA back-computes only when FrameReferenceTime > 0 and ActualFrameDuration > 0: a zero
    FrameReferenceTime (GE, and many Siemens post-processed series) does not say where in the
    frame the reference lies, and back-computing from it puts the scan T_ave (about half the frame)
    late, 0.95 % too high an SUV for a 3-minute F-18 frame.
    """

    def reference(h: Header) -> dt.datetime | None:
        start = _acquisition_datetime(h)
        frt = h.first("FrameReferenceTime")
        duration = h.first("ActualFrameDuration")
        if start is None or frt is None or duration is None or frt <= 0 or duration <= 0:
            return None
        t_ave = suv.frame_average_offset_s(duration / 1000.0, half_life_s)
        return start + dt.timedelta(seconds=t_ave - frt / 1000.0)

    keywords = (*_ACQUISITION_KEYWORDS, "FrameReferenceTime", "ActualFrameDuration")
    refs = _per_slice(slices, keywords, reference)
    known = sorted(r for r in refs if r is not None)
    if len(known) < len(refs):
        return None
    return known[len(known) // 2]


def _injection_time(h: Header, scan: dt.datetime, provenance: dict[str, str]) -> dt.datetime:
    start_dt = h.get(_RADIO + "RadiopharmaceuticalStartDateTime")
    if start_dt:
        provenance["injection_time_rule"] = "RadiopharmaceuticalStartDateTime"
        injection = _parse_dt(start_dt, h, tag_label("RadiopharmaceuticalStartDateTime"))
    else:
        start_tm = h.get(_RADIO + "RadiopharmaceuticalStartTime")
        if not start_tm:
            raise DicomError(
                "missing (and no RadiopharmaceuticalStartDateTime): the injection time is unknown",
                path=h.path,
                tag=tag_label("RadiopharmaceuticalStartTime"),
            )
        injection = dt.datetime.combine(
            scan.date(), _parse_tm(start_tm, h, "RadiopharmaceuticalStartTime")
        )
        rule = "RadiopharmaceuticalStartTime on the SeriesDate"
        if injection > scan:
            injection -= dt.timedelta(days=1)
            rule += "; previous day (injection time after scan time: midnight crossing)"
        provenance["injection_time_rule"] = rule
    provenance["injection_time"] = injection.isoformat()
    return injection


def _elapsed_s(injection: dt.datetime, scan: dt.datetime, h: Header) -> float:
    elapsed = (scan - injection).total_seconds()
    if elapsed < 0:
        raise DicomError(
            f"injection ({injection.isoformat()}) is after the scan reference time "
            f"({scan.isoformat()}); check the clocks",
            path=h.path,
            tag=tag_label("RadiopharmaceuticalStartDateTime"),
        )
    return elapsed


# -- header values ----------------------------------------------------------------------------


def _private(
    h: Header, group: int, creator: str, element: int, provenance: dict[str, str]
) -> str | None:
    value, creator_missing = resolve_private(h, group, creator, element)
    if creator_missing:
        key = f"private_creator_missing_{group:04X}"
        if key not in provenance:
            logger.warning(
                "%s: private element (%04X,10%02X) has no Private Creator; read as %r",
                h.path,
                group,
                element,
                creator,
            )
        provenance[key] = f"(%04X,10%02X) read as {creator} without a Private Creator" % (
            group,
            element,
        )
    return value


def _is_philips(h: Header) -> bool:
    return "PHILIPS" in str(h.get("Manufacturer") or "").upper()


def _check_constant(slices: Sequence[Header], label: str) -> None:
    h0 = slices[0]
    varying = varying_keywords(slices)
    # Attributes whose bytes are the first file's in every file need no comparison.
    keywords = [k for k in _SERIES_CONSTANT if varying is None or _root(k) in varying]
    for h in slices[1:]:
        for keyword in keywords:
            if not h.same(h0, keyword):
                raise DicomError(
                    f"differs between slices of {label}: {h0.get(keyword)!r} in {h0.path}, "
                    f"{h.get(keyword)!r} here",
                    path=h.path,
                    tag=tag_label(keyword),
                )


def _root(keyword: str) -> str:
    return keyword.split(".", 1)[0]


def _per_slice(
    slices: Sequence[Header], keywords: Iterable[str], value: Callable[[Header], _T]
) -> list[_T]:
    """``value(h)`` for every slice, computed once when ``value`` reads only ``keywords`` and no
    slice differs from the first in them (the same result, and the same first error)."""
    varying = varying_keywords(slices)
    if varying is not None and varying.isdisjoint(_root(k) for k in keywords):
        return [value(slices[0])] * len(slices)
    return [value(h) for h in slices]


def _number(h: Header, keyword: str) -> float:
    value = h.first(keyword)
    if value is None:
        raise DicomError(
            "required attribute is missing or empty", path=h.path, tag=tag_label(keyword)
        )
    return float(value)


def _positive(value: str | None) -> bool:
    try:
        return value is not None and float(value) > 0 and math.isfinite(float(value))
    except ValueError:
        return False


def _required_positive(h: Header, keyword: str, purpose: str) -> float:
    """A number of the header that must be present and above zero; the error names its tag
    (``keyword`` may be a path into a sequence, ``Sequence.Keyword``)."""
    value = h.first(keyword)
    if value is None or value <= 0:
        raise DicomError(
            f"missing or zero: {purpose}", path=h.path, tag=tag_label(keyword.rsplit(".", 1)[-1])
        )
    return float(value)


def _weight_kg(h: Header) -> float:
    weight = _required_positive(h, "PatientWeight", "SUV needs the patient's weight (kg)")
    if weight > 500:
        raise DicomError(
            f"{weight:g} kg is implausible (grams entered as kg?)",
            path=h.path,
            tag=tag_label("PatientWeight"),
        )
    return weight


def _normaliser(h: Header, kind: SuvKind) -> tuple[float, str]:
    weight = _weight_kg(h)
    height_cm = None
    if kind is not SuvKind.BW:
        size = _required_positive(h, "PatientSize", f"{kind.units} needs the patient's height (m)")
        if not 0.3 <= size <= 3.0:
            raise DicomError(
                f"{size:g} m is implausible (PatientSize is in metres)",
                path=h.path,
                tag=tag_label("PatientSize"),
            )
        height_cm = size * 100.0
    sex = h.get("PatientSex")
    try:
        return suv.normaliser(kind, weight, height_cm, sex)
    except ValueError as exc:
        raise DicomError(str(exc), path=h.path, tag=tag_label("PatientSex")) from None


def _dose_bq(h: Header, provenance: dict[str, str]) -> float:
    dose = _required_positive(h, _RADIO + "RadionuclideTotalDose", "SUV needs the injected dose")
    if dose < _MBQ_THRESHOLD:
        provenance["dose_rule"] = f"RadionuclideTotalDose {dose:g} < 1e5: taken as MBq (IBSI)"
        dose *= 1e6
    provenance["dose_bq"] = f"{dose:.6g}"
    return dose


def _half_life_s(h: Header, provenance: dict[str, str]) -> float:
    half_life = _required_positive(
        h,
        _RADIO + "RadionuclideHalfLife",
        "the dose cannot be decay-corrected (no default half-life is assumed)",
    )
    provenance["half_life_s"] = f"{half_life:g}"
    return half_life


def _series_datetime(h: Header) -> dt.datetime:
    date = h.get("SeriesDate")
    time = h.get("SeriesTime")
    if not date or not time:
        raise DicomError(
            "missing (PET Series module, Type 1): the scan time is unknown",
            path=h.path,
            tag=tag_label("SeriesDate" if not date else "SeriesTime"),
        )
    return dt.datetime.combine(_parse_da(date, h, "SeriesDate"), _parse_tm(time, h, "SeriesTime"))


# What _acquisition_datetime reads.
_ACQUISITION_KEYWORDS = (
    "AcquisitionDateTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "SeriesDate",
    "TimezoneOffsetFromUTC",
)


def _acquisition_datetime(h: Header) -> dt.datetime | None:
    value = h.get("AcquisitionDateTime")
    if value:
        return _parse_dt(value, h, tag_label("AcquisitionDateTime"))
    time = h.get("AcquisitionTime")
    if not time:
        return None
    date = h.get("AcquisitionDate") or h.get("SeriesDate")
    if not date:
        return None
    return dt.datetime.combine(
        _parse_da(date, h, "AcquisitionDate"), _parse_tm(time, h, "AcquisitionTime")
    )


_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def _parse_da(value: str, h: Header, keyword: str) -> dt.date:
    parsed = _date_from_text(value)
    if parsed is None:
        raise DicomError(f"invalid date {value!r}", path=h.path, tag=tag_label(keyword))
    return parsed


@functools.lru_cache(maxsize=256)
def _date_from_text(value: str) -> dt.date | None:
    # Every slice of a series repeats the same few dates: parse each once.
    text = value.replace(".", "").strip()
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def _parse_tm(value: str, h: Header, keyword: str) -> dt.time:
    match = _TM.match(value.strip())
    if match is None:
        raise DicomError(f"invalid time {value!r}", path=h.path, tag=tag_label(keyword))
    hh, mm, ss, frac = match.groups()
    try:
        return dt.time(int(hh), int(mm or 0), int(ss or 0), int((frac or "0").ljust(6, "0")))
    except ValueError:
        raise DicomError(f"invalid time {value!r}", path=h.path, tag=tag_label(keyword)) from None


def _parse_dt(value: str, h: Header, label: str) -> dt.datetime:
    """A DICOM DT as naive local time. A UTC offset in the value is converted to the offset of
    TimezoneOffsetFromUTC (0008,0201) when the file has one, else dropped (same site clock)."""
    match = _DT.match(value.strip())
    if match is None:
        raise DicomError(f"invalid date-time {value!r}", path=h.path, tag=label)
    y, mo, d, hh, mi, ss, frac, offset = match.groups()
    try:
        result = dt.datetime(
            int(y),
            int(mo or 1),
            int(d or 1),
            int(hh or 0),
            int(mi or 0),
            int(ss or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError:
        raise DicomError(f"invalid date-time {value!r}", path=h.path, tag=label) from None
    local = h.get("TimezoneOffsetFromUTC")
    if offset and local and _TZ.match(local):
        result += _offset(local) - _offset(offset)
    return result


_TZ = re.compile(r"^[+-]\d{4}$")


def _offset(text: str) -> dt.timedelta:
    sign = -1 if text[0] == "-" else 1
    return sign * dt.timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))
