"""SUVbw on the vendor cases of real scanners, each factor computed by hand from the QIBA
vendor-neutral SUV pseudo-code (QIBA wiki "Standardized Uptake Value", 2018 PDF).

The header numbers are those of the eight anonymised real-scanner metadata fixtures of
cornerstonejs/calculate-suv (``test/metadata/*-instances.json``, collected by Salim Kanoun); each
test writes them into real PET files with pydicom and loads them with :func:`load_pet_suv`. The
expected factor is written out below with the QIBA arithmetic (never recistry's own functions),
and the factor calculate-suv publishes for the same fixture is quoted as a second, independent
oracle where its rules agree with QIBA.

QIBA, in short: factor = W [g] / (D [Bq] · 2^(−Δt / T½)), Δt = scan reference − injection; the
scan reference is SeriesDate/Time unless it is after the acquisition, else the GE private scan
DateTime, else (FrameReferenceTime > 0 and ActualFrameDuration > 0) the time back-computed from
AcquisitionDateTime + T_ave − FrameReferenceTime, else the earliest AcquisitionDateTime. Units CNTS
(Philips): the SUV Scale Factor, else the Activity Concentration Scale Factor × the BQML factor.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from recistry.imaging.pet import load_pet_suv

from ._series_files import write_pet_series

SLOPES = [0.75, 1.5, 3.0]
_DAY = "20201217"


def _t(hhmmss: str) -> dt.datetime:
    """A time of the fixtures' day (HHMMSS[.ffffff])."""
    whole, _, frac = hhmmss.partition(".")
    return dt.datetime.strptime(_DAY + whole, "%Y%m%d%H%M%S") + dt.timedelta(
        microseconds=int((frac or "0").ljust(6, "0")[:6])
    )


def _qiba_factor(weight_kg: float, dose_bq: float, half_life_s: float, elapsed_s: float) -> float:
    return weight_kg * 1000.0 / (dose_bq * 2.0 ** (-elapsed_s / half_life_s))


def _t_ave_s(duration_s: float, half_life_s: float) -> float:
    """QIBA: T_ave = (1/λ) ln(λT / (1 − e^(−λT))), λ = ln 2 / T½."""
    lam = math.log(2.0) / half_life_s
    return math.log(lam * duration_s / (1.0 - math.exp(-lam * duration_s))) / lam


def _load(
    tmp_path: Path,
    header: Mapping[str, Any],
    *,
    units: str = "BQML",
    per_slice: Mapping[str, list[Any]] | None = None,
    private: Mapping[tuple[int, str, int], tuple[str, str]] | None = None,
    start_datetime: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Write a 3-slice series with ``header`` (top-level keywords, plus the radiopharmaceutical
    ones), load it; returns (SUV array, activity stored × slope, provenance)."""
    stored = np.random.default_rng(5).integers(0, 30000, size=(3, 6, 7)).astype(np.int16)
    radio = ("RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime")

    def edit(k: int, ds: pydicom.Dataset) -> None:
        item = ds.RadiopharmaceuticalInformationSequence[0]
        ds.SeriesDate = ds.AcquisitionDate = _DAY
        for keyword, value in header.items():
            setattr(item if keyword in radio else ds, keyword, value)
        if start_datetime:
            item.RadiopharmaceuticalStartDateTime = _DAY + header["RadiopharmaceuticalStartTime"]
        else:
            del item.RadiopharmaceuticalStartDateTime
        for keyword, values in (per_slice or {}).items():
            setattr(ds, keyword, values[k])
        for (group, creator, element), (vr, value) in (private or {}).items():
            ds.private_block(group, creator, create=True).add_new(element, vr, value)

    paths = write_pet_series(tmp_path, stored, slopes=SLOPES, units=units, edit=edit)
    vol = load_pet_suv(paths)
    return vol.array, stored * np.asarray(SLOPES)[:, None, None], vol.provenance


def test_siemens_series_time_before_acquisition(tmp_path: Path) -> None:
    """SIEMENS fixture: SeriesTime 10:48:29 is not after AcquisitionTime 10:48:30.35 → the
    SeriesTime is the reference (QIBA happy path). calculate-suv: 4.2748e-4."""
    header = {
        "Manufacturer": "SIEMENS",
        "PatientWeight": 67,
        "PatientSex": "M",
        "SeriesTime": "104829.000000",
        "AcquisitionTime": "104830.351370",
        "RadionuclideTotalDose": 374000000,
        "RadionuclideHalfLife": 6586.2,
        "RadiopharmaceuticalStartTime": "083045.000000",
    }
    per_slice = {
        "FrameReferenceTime": [38513.36, 39189.36, 39864.86],
        "ActualFrameDuration": [74324, 75676, 77027],
    }
    suv, activity, prov = _load(tmp_path, header, per_slice=per_slice)
    elapsed = (_t("104829") - _t("083045")).total_seconds()  # 8264 s
    expected = _qiba_factor(67, 374e6, 6586.2, elapsed)
    assert expected == pytest.approx(4.2748e-4, abs=1e-8)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["scan_time_rule"].startswith("SeriesDate/SeriesTime")


def test_ge_series_time_equal_to_acquisition(tmp_path: Path) -> None:
    """GE_MEDICAL_AND_BQML fixture, no private time needed: SeriesTime = AcquisitionTime =
    09:56:21, FrameReferenceTime 0. calculate-suv: 5.3674e-4."""
    header = {
        "Manufacturer": "GE MEDICAL SYSTEMS",
        "PatientWeight": 52,
        "PatientSex": "F",
        "SeriesTime": "095621",
        "AcquisitionTime": "095621",
        "FrameReferenceTime": 0,
        "ActualFrameDuration": 120000,
        "RadionuclideTotalDose": 152022720,
        "RadionuclideHalfLife": 6586.2001953125,
        "RadiopharmaceuticalStartTime": "084500.00",
    }
    suv, activity, prov = _load(tmp_path, header)
    expected = _qiba_factor(52, 152022720, 6586.2001953125, 71 * 60 + 21)
    assert expected == pytest.approx(5.3674e-4, abs=1e-8)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["scan_time_rule"].startswith("SeriesDate/SeriesTime")


def test_ge_private_scan_datetime_when_series_time_is_after_acquisition(tmp_path: Path) -> None:
    """The GE fixture re-written as a post-processed series (SeriesTime 10:30, after the
    acquisition) with GE's private scan DateTime (0009,xx0D) "GEMS_PETD_01" = 09:56:21: QIBA takes
    the private time, so the factor is the original series' 5.3674e-4."""
    header = {
        "Manufacturer": "GE MEDICAL SYSTEMS",
        "PatientWeight": 52,
        "PatientSex": "F",
        "SeriesTime": "103000",
        "AcquisitionTime": "095700",
        "FrameReferenceTime": 0,
        "ActualFrameDuration": 120000,
        "RadionuclideTotalDose": 152022720,
        "RadionuclideHalfLife": 6586.2001953125,
        "RadiopharmaceuticalStartTime": "084500.00",
    }
    private = {(0x0009, "GEMS_PETD_01", 0x0D): ("DT", _DAY + "095621")}
    suv, activity, prov = _load(tmp_path, header, private=private)
    expected = _qiba_factor(52, 152022720, 6586.2001953125, 71 * 60 + 21)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["scan_time_rule"].startswith("GE private scan DateTime")


def test_philips_bqml_uses_series_time_without_a_spurious_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PHILIPS_BQML fixture: SeriesTime 11:01:55 before AcquisitionTime 11:01:56 → SeriesTime.
    Philips' FrameReferenceTime (1328.7 s) is not measured from the decay reference: a
    back-computed time would be about 21 min earlier (14.3 % in SUV), yet Philips' own SUV Scale
    Factor / Activity Concentration Scale Factor (0.003515736 / 4.709921 = 7.4645e-4) agrees with
    the SeriesTime factor. So no disagreement is reported. calculate-suv: 7.4637e-4."""
    header = {
        "Manufacturer": "Philips Medical Systems",
        "PatientWeight": 64,
        "PatientSex": "F",
        "SeriesTime": "110155",
        "AcquisitionTime": "110156",
        "FrameReferenceTime": 1328700,
        "ActualFrameDuration": 120700,
        "RadionuclideTotalDose": 126000000,
        "RadionuclideHalfLife": 6586.199707,
        "RadiopharmaceuticalStartTime": "100058",
    }
    caplog.set_level(logging.WARNING)
    suv, activity, prov = _load(tmp_path, header)
    elapsed = (_t("110155") - _t("100058")).total_seconds()
    expected = _qiba_factor(64, 126e6, 6586.199707, elapsed)
    assert expected == pytest.approx(7.4637e-4, abs=1e-7)
    assert expected == pytest.approx(0.003515736 / 4.709921, rel=2e-4)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    back = _t("110156") + dt.timedelta(seconds=_t_ave_s(120.7, 6586.199707) - 1328.7)
    assert 2 ** ((_t("110155") - back).total_seconds() / 6586.199707) == pytest.approx(
        1.143, abs=1e-3
    )  # the 14.3 % the old cross-check warned about
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "scan_time_disagreement_percent" not in prov


def test_philips_cnts_with_suv_scale_factor(tmp_path: Path) -> None:
    """PHILIPS_CNTS_AND_SUV fixture: Units CNTS → SUVbw = counts × slope × SUV Scale Factor
    (7053,xx00) 0.000728; no time arithmetic. calculate-suv: 7.28e-4."""
    header = {
        "Manufacturer": "Philips Medical Systems",
        "PatientWeight": 47,
        "PatientSex": "F",
        "SeriesTime": "134551",
        "AcquisitionTime": "141336",
        "FrameReferenceTime": 1755000,
        "ActualFrameDuration": 180000,
        "RadionuclideTotalDose": 208230000,
        "RadionuclideHalfLife": 6588,
        "RadiopharmaceuticalStartTime": "123000",
    }
    private = {(0x7053, "Philips PET Private Group", 0x00): ("DS", "0.000728")}
    suv, activity, prov = _load(tmp_path, header, units="CNTS", private=private)
    np.testing.assert_allclose(suv, activity * 0.000728, rtol=2e-6)
    assert "SUV Scale Factor" in prov["suv_bw_method"]


def test_philips_cnts_with_only_the_activity_concentration_factor(tmp_path: Path) -> None:
    """PHILIPS_CNTS_AND_BQML_SUV fixture without its SUV Scale Factor: counts × slope ×
    Activity Concentration Scale Factor (7053,xx09) 1.602563 = Bq/ml, then the BQML factor with
    SeriesTime 09:35:56 (before the acquisition at 09:54:39). The product agrees with the SUV
    Scale Factor the same fixture carries (0.000551; calculate-suv 5.51e-4)."""
    header = {
        "Manufacturer": "Philips Medical Systems",
        "PatientWeight": 54,
        "PatientSex": "F",
        "SeriesTime": "093556",
        "AcquisitionTime": "095439",
        "FrameReferenceTime": 1183000,
        "ActualFrameDuration": 120000,
        "RadionuclideTotalDose": 238000000,
        "RadionuclideHalfLife": 6588,
        "RadiopharmaceuticalStartTime": "083000",
    }
    private = {(0x7053, "Philips PET Private Group", 0x09): ("DS", "1.602563")}
    suv, activity, prov = _load(tmp_path, header, units="CNTS", private=private)
    elapsed = (_t("093556") - _t("083000")).total_seconds()
    expected = 1.602563 * _qiba_factor(54, 238e6, 6588, elapsed)
    assert expected == pytest.approx(0.000551, rel=1e-3)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert "Activity Concentration Scale Factor" in prov["suv_bw_method"]


def test_series_after_acquisition_with_zero_frame_reference_time_uses_earliest_acquisition(
    tmp_path: Path,
) -> None:
    """CPS_AND_BQML_AC_DT_-_S_DT fixture, the issue's case: SeriesTime 13:49:18 after the
    acquisition at 13:03:48.234, FrameReferenceTime 0, 180 s frames. QIBA back-computes only when
    FrameReferenceTime > 0 and ActualFrameDuration > 0, so the reference is the earliest
    AcquisitionDateTime. Back-computing anyway (acquisition + T_ave − 0) put the scan 90 s late:
    an SUV 0.95 % too high. calculate-suv: 2.6503e-4."""
    header = {
        "Manufacturer": "SIEMENS",
        "PatientWeight": 69,
        "PatientSex": "M",
        "SeriesTime": "134918.000000",
        "AcquisitionTime": "130348.234000",
        "FrameReferenceTime": 0,
        "ActualFrameDuration": 180000,
        "RadionuclideTotalDose": 388000000,
        "RadionuclideHalfLife": 6586.2,
        "RadiopharmaceuticalStartTime": "120037.000000",
    }
    suv, activity, prov = _load(tmp_path, header, start_datetime=False)
    elapsed = (_t("130348.234") - _t("120037")).total_seconds()
    expected = _qiba_factor(69, 388e6, 6586.2, elapsed)
    assert expected == pytest.approx(2.6503e-4, abs=1e-8)
    wrong = _qiba_factor(69, 388e6, 6586.2, elapsed + _t_ave_s(180.0, 6586.2))
    assert wrong / expected == pytest.approx(1.0095, abs=1e-4)  # the 0.95 %
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["scan_time_rule"].startswith("earliest AcquisitionDateTime")
    assert "scan_time_back_computed" not in prov


def test_series_after_acquisition_back_computed_from_frame_reference_time(
    tmp_path: Path,
) -> None:
    """BQML_AC_DT_<_S_DT + SIEMENS fixture: SeriesTime 12:35:15.000000 is 5 µs after the
    acquisition (12:35:14.999995) and FrameReferenceTime 59936.85 ms > 0 with 120 s frames, so
    QIBA back-computes: reference = acquisition + T_ave − FrameReferenceTime. calculate-suv (which
    takes the earliest acquisition here, 60 ms away): 4.0692e-4."""
    header = {
        "Manufacturer": "SIEMENS",
        "PatientWeight": 65,
        "PatientSex": "M",
        "SeriesTime": "123515.000000",
        "AcquisitionTime": "123514.999995",
        "FrameReferenceTime": 59936.854672596,
        "ActualFrameDuration": 120000,
        "RadionuclideTotalDose": 225000000,
        "RadionuclideHalfLife": 6586.2,
        "RadiopharmaceuticalStartTime": "114100.000000",
    }
    suv, activity, prov = _load(tmp_path, header, start_datetime=False)
    reference = _t("123514.999995") + dt.timedelta(
        seconds=_t_ave_s(120.0, 6586.2) - 59.936854672596
    )
    expected = _qiba_factor(65, 225e6, 6586.2, (reference - _t("114100")).total_seconds())
    assert expected == pytest.approx(4.0692e-4, abs=1e-8)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["scan_time_rule"].startswith("back-computed")


def test_radiopharmaceutical_start_datetime_missing(tmp_path: Path) -> None:
    """RADIOPHARM_DATETIME_UNDEFINED fixture: only RadiopharmaceuticalStartTime 12:50:00, taken
    on the SeriesDate (QIBA); SeriesTime 13:54:31.843 before the acquisition at 14:15:55.687.
    calculate-suv: 3.7211e-4."""
    header = {
        "Manufacturer": "SIEMENS",
        "PatientWeight": 102,
        "PatientSex": "M",
        "SeriesTime": "135431.843000",
        "AcquisitionTime": "141555.687000",
        "FrameReferenceTime": 1372857.9232493,
        "ActualFrameDuration": 180000,
        "RadionuclideTotalDose": 412000000,
        "RadionuclideHalfLife": 6586.2,
        "RadiopharmaceuticalStartTime": "125000.000000",
    }
    suv, activity, prov = _load(tmp_path, header, start_datetime=False)
    elapsed = (_t("135431.843") - _t("125000")).total_seconds()
    expected = _qiba_factor(102, 412e6, 6586.2, elapsed)
    assert expected == pytest.approx(3.7211e-4, abs=1e-8)
    np.testing.assert_allclose(suv, activity * expected, rtol=2e-6)
    assert prov["injection_time_rule"].startswith("RadiopharmaceuticalStartTime on the SeriesDate")
