"""PET series → SUV: the QIBA vendor-neutral rules on real files written with pydicom, and the
refusals (each names the file and the tag). QIBA SUV vendor-neutral pseudo-code (2018); IBSI SUV
manual for DecayCorrection NONE and doses in MBq."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recistry.errors import DicomError
from recistry.imaging import suv
from recistry.imaging.pet import load_pet_suv
from recistry.imaging.suv import SuvKind

from ._series_files import write_pet_series

SLOPES = [0.5, 0.25, 1.0, 2.0]


def _stored(seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 30000, size=(4, 10, 12)).astype(np.int16)


def _activity(stored: np.ndarray) -> np.ndarray:
    return stored * np.asarray(SLOPES)[:, None, None]


def test_bqml_start_is_weight_over_decayed_dose_with_per_slice_slopes(tmp_path: Path) -> None:
    """QIBA BQML path: SUVbw = C · W / (D · 2^(−Δt/T½)).

    70 kg, 150 MBq Ga-68, 1 h: 8.625e-4 g/Bq."""
    stored = _stored()
    paths = write_pet_series(tmp_path, stored, slopes=SLOPES)
    vol = load_pet_suv(reversed(paths))
    factor = 70000 / (150e6 * 2 ** (-3600 / 4062.6))
    assert factor == pytest.approx(8.625e-4, rel=2e-4)
    np.testing.assert_allclose(vol.array, _activity(stored) * factor, rtol=1e-5)
    assert vol.units == "SUVbw"
    assert vol.provenance["scan_time_rule"].startswith("SeriesDate/SeriesTime")
    assert vol.provenance["decay_time_s"] == "3600.0"
    assert vol.provenance["half_life_s"] == "4062.6"


@pytest.mark.parametrize("kind", list(SuvKind))
def test_every_suv_kind_scales_suvbw_by_its_normaliser(tmp_path: Path, kind: SuvKind) -> None:
    stored = _stored()
    paths = write_pet_series(tmp_path, stored, slopes=SLOPES, sex="F", weight_kg=64.0, size_m=1.62)
    bw = load_pet_suv(paths)
    other = load_pet_suv(paths, kind=kind.value)
    norm, _ = suv.normaliser(kind, 64.0, 162.0, "F")
    np.testing.assert_allclose(other.array, bw.array * norm / 64000.0, rtol=1e-5)
    assert other.units == kind.units


def test_admin_decay_correction_does_not_decay_the_dose(tmp_path: Path) -> None:
    """IBSI / horos#653: with DecayCorrection ADMIN the dose is used as injected."""
    stored = _stored()
    vol = load_pet_suv(write_pet_series(tmp_path, stored, slopes=SLOPES, decay_correction="ADMIN"))
    np.testing.assert_allclose(vol.array, _activity(stored) * 70000 / 150e6, rtol=1e-5)


def test_dose_in_mbq_is_recognised(tmp_path: Path) -> None:
    """IBSI: RadionuclideTotalDose below 1e5 is MBq written into a Bq attribute."""
    stored = _stored()
    a = load_pet_suv(write_pet_series(tmp_path / "a", stored, slopes=SLOPES))
    b = load_pet_suv(write_pet_series(tmp_path / "b", stored, slopes=SLOPES, dose_bq=150.0))
    np.testing.assert_allclose(a.array, b.array, rtol=1e-6)
    assert "MBq" in b.provenance["dose_rule"]


def test_ge_private_scan_time_with_its_creator_is_used_when_series_time_is_late(
    tmp_path: Path,
) -> None:
    """QIBA: SeriesTime after AcquisitionTime → GE (0009,xx0D) "GEMS_PETD_01" scan DateTime,
    found through its Private Creator even in block 0x11."""
    stored = _stored()

    def ge(k: int, ds: pydicom.Dataset) -> None:
        ds.SeriesTime = "113000"  # post-processed series, later than the acquisition
        ds.add_new(0x00090010, "LO", "OTHER_VENDOR")
        ds.add_new(0x0009100D, "DT", "20240301103000")  # another creator's element: ignored
        ds.private_block(0x0009, "GEMS_PETD_01", create=True).add_new(0x0D, "DT", "20240301110000")

    vol = load_pet_suv(write_pet_series(tmp_path, stored, slopes=SLOPES, edit=ge))
    assert vol.provenance["scan_time_rule"].startswith("GE private scan DateTime")
    assert vol.provenance["scan_time"] == "2024-03-01T11:00:00"
    np.testing.assert_allclose(
        vol.array, _activity(stored) * 70000 / (150e6 * 2 ** (-3600 / 4062.6)), rtol=1e-5
    )


def test_philips_cnts_suv_scale_factor(tmp_path: Path) -> None:
    stored = _stored()

    def philips(k: int, ds: pydicom.Dataset) -> None:
        ds.private_block(0x7053, "Philips PET Private Group", create=True).add_new(
            0x00, "DS", "0.000812"
        )

    vol = load_pet_suv(
        write_pet_series(tmp_path, stored, slopes=SLOPES, units="CNTS", edit=philips)
    )
    np.testing.assert_allclose(vol.array, _activity(stored) * 0.000812, rtol=1e-5)
    assert "SUV Scale Factor" in vol.provenance["suv_bw_method"]


def test_injection_datetime_with_utc_offset_is_converted_to_local_time(tmp_path: Path) -> None:
    """PS3.5 DT with a UTC offset vs TimezoneOffsetFromUTC (0008,0201) of the site."""
    stored = _stored()

    def utc(k: int, ds: pydicom.Dataset) -> None:
        ds.TimezoneOffsetFromUTC = "+0100"
        ds.RadiopharmaceuticalInformationSequence[
            0
        ].RadiopharmaceuticalStartDateTime = "20240301090000+0000"

    vol = load_pet_suv(write_pet_series(tmp_path, stored, slopes=SLOPES, edit=utc))
    assert vol.provenance["injection_time"] == "2024-03-01T10:00:00"


def _refusal(tmp_path: Path, **kwargs: object) -> str:
    paths = write_pet_series(tmp_path, _stored(), slopes=SLOPES, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DicomError) as exc:
        load_pet_suv(paths)
    message = str(exc.value)
    assert str(paths[0]) in message or any(str(p) in message for p in paths)
    return message


def test_missing_weight_is_refused_naming_the_tag(tmp_path: Path) -> None:
    assert "PatientWeight (0010,1030)" in _refusal(tmp_path, weight_kg=None)


def test_missing_dose_is_refused_naming_the_tag(tmp_path: Path) -> None:
    assert "RadionuclideTotalDose (0018,1074)" in _refusal(tmp_path, dose_bq=None)


def test_missing_half_life_is_refused_never_defaulted(tmp_path: Path) -> None:
    assert "RadionuclideHalfLife (0018,1075)" in _refusal(tmp_path, half_life_s=None)


def test_pet_without_decay_information_is_refused(tmp_path: Path) -> None:
    assert "DecayCorrection (0054,1102)" in _refusal(tmp_path, decay_correction=None)


@pytest.mark.parametrize("units", ["CPS", "PROPCNTS"])
def test_units_that_cannot_be_converted_are_refused(tmp_path: Path, units: str) -> None:
    message = _refusal(tmp_path, units=units)
    assert "Units (0054,1001)" in message and units in message


def test_missing_injection_time_is_refused(tmp_path: Path) -> None:
    def no_time(k: int, ds: pydicom.Dataset) -> None:
        item = ds.RadiopharmaceuticalInformationSequence[0]
        del item.RadiopharmaceuticalStartDateTime
        del item.RadiopharmaceuticalStartTime

    assert "RadiopharmaceuticalStartTime (0018,1072)" in _refusal(tmp_path, edit=no_time)


def test_not_attenuation_corrected_is_refused(tmp_path: Path) -> None:
    def no_attn(k: int, ds: pydicom.Dataset) -> None:
        ds.CorrectedImage = ["DECY"]

    assert "CorrectedImage (0028,0051)" in _refusal(tmp_path, edit=no_attn)


def test_injection_after_scan_is_refused(tmp_path: Path) -> None:
    message = _refusal(tmp_path, injection=dt.datetime(2024, 3, 1, 11, 30))
    assert "after the scan reference time" in message


def test_dose_differing_between_slices_is_refused(tmp_path: Path) -> None:
    def vary(k: int, ds: pydicom.Dataset) -> None:
        if k == 2:
            ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = 140e6

    assert "differs between slices" in _refusal(tmp_path, edit=vary)


def test_weight_differing_in_a_later_slice_is_refused(tmp_path: Path) -> None:
    """Same length as the others' value, so the file keeps the first file's layout."""

    def vary(k: int, ds: pydicom.Dataset) -> None:
        if k == 3:
            ds.PatientWeight = 71

    message = _refusal(tmp_path, edit=vary)
    assert "differs between slices" in message
    assert "PatientWeight (0010,1030)" in message


def test_back_computed_scan_time_is_the_median_over_beds(tmp_path: Path) -> None:
    """QIBA: SeriesTime after the first acquisition and no GE private time → reference time
    back-computed per slice; the median over slices acquired at two bed times is the later."""

    def beds(k: int, ds: pydicom.Dataset) -> None:
        ds.SeriesTime = "111000"
        ds.AcquisitionTime = "110000" if k < 2 else "110400"

    paths = write_pet_series(tmp_path, _stored(), slopes=SLOPES, edit=beds)
    vol = load_pet_suv(paths)
    assert vol.provenance["scan_time_rule"].startswith("back-computed")
    assert vol.provenance["scan_time"] == "2024-03-01T11:04:00"
    assert vol.provenance["decay_time_s"] == "3840.0"


def test_lbm_without_height_is_refused(tmp_path: Path) -> None:
    paths = write_pet_series(tmp_path, _stored(), slopes=SLOPES, size_m=None)
    load_pet_suv(paths)  # SUVbw does not need the height
    with pytest.raises(DicomError, match=r"PatientSize \(0010,1020\)"):
        load_pet_suv(paths, kind="lbm_james128")


def test_missing_units_is_refused_naming_the_tag(tmp_path: Path) -> None:
    assert "Units (0054,1001)" in _refusal(tmp_path, edit=lambda k, ds: delattr(ds, "Units"))


def test_weight_in_grams_is_refused(tmp_path: Path) -> None:
    """IBSI: weights above 1000 were probably entered in grams; refused rather than guessed."""
    assert "PatientWeight (0010,1030)" in _refusal(tmp_path, weight_kg=70000.0)


def test_missing_pixel_spacing_is_refused(tmp_path: Path) -> None:
    message = _refusal(tmp_path, edit=lambda k, ds: k == 2 and delattr(ds, "PixelSpacing"))
    assert "PixelSpacing (0028,0030)" in message
