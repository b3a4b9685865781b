"""SUV arithmetic against published worked numbers (pet-suv-sr reference §1.10, §5.4)."""

from __future__ import annotations

import math

import pytest

from recistry.imaging import suv
from recistry.imaging.suv import SuvKind


def test_calculate_suv_unit_test_numbers() -> None:
    """cornerstonejs/calculate-suv unit test (75 kg, 1.85 m, M, dose 100 Bq, no decay):
    SUVbsa 198.14 (DuBois, cm²), SUVlbm Janmahasatian 609.15; James with 128 gives 614.6
    (calculate-suv's 627.78 is the 120-constant 'LBM', which recistry does not claim)."""
    w, h, dose = 75.0, 185.0, 100.0
    assert suv.normaliser(SuvKind.BW, w, h, "M")[0] / dose == pytest.approx(750.0)
    assert suv.normaliser(SuvKind.BSA, w, h, "M")[0] / dose == pytest.approx(198.14, abs=0.01)
    assert suv.normaliser(SuvKind.LBM_JANMA, w, h, "M")[0] / dose == pytest.approx(609.15, abs=0.01)
    assert suv.normaliser(SuvKind.LBM_JAMES128, w, h, "M")[0] / dose == pytest.approx(
        614.6, abs=0.05
    )


def test_qiba_dro_james128_ratios() -> None:
    """QIBA/UW PET DRO (Pierce et al., Radiology 2015): SUVlbm/SUVbw = 0.7500 (female, 59.94 kg,
    166.5 cm) and 0.7709 (male, 70 kg, 165 cm) with James-128."""
    assert suv.lean_body_mass_james128_kg(59.94, 166.5, "F") / 59.94 == pytest.approx(
        0.7500, abs=5e-5
    )
    assert suv.lean_body_mass_james128_kg(70.0, 165.0, "M") / 70.0 == pytest.approx(
        0.7709, abs=5e-5
    )


def test_ga68_decay_example() -> None:
    """70 kg, 150 MBq Ga-68 at 10:00, scan 11:00, T½ 4062.6 s: factor 8.625e-4 g/Bq."""
    factor = 70000 / (150e6 * suv.decay_factor(3600, 4062.6))
    assert factor == pytest.approx(8.625e-4, rel=2e-4)


def test_f18_half_life_on_ga68_would_be_21_percent_low_at_one_hour() -> None:
    """Why no default half-life: F-18's 6586.2 s on Ga-68 data underestimates SUV by ~21 %."""
    wrong = suv.decay_factor(3600, 4062.6) / suv.decay_factor(3600, 6586.2)
    assert wrong == pytest.approx(0.79, abs=0.01)


def test_frame_average_offset_is_just_under_half_the_frame() -> None:
    """T_ave = ln(λT/(1−e^(−λT)))/λ (IBSI/QIBA) ≈ T/2 − λT²/24 for short frames: 299.91 s
    for a 603 s F-18 frame."""
    lam = math.log(2) / 6586.2
    assert suv.frame_average_offset_s(603, 6586.2) == pytest.approx(
        603 / 2 - lam * 603**2 / 24, abs=0.01
    )
    assert suv.frame_average_offset_s(1e-3, 6586.2) == pytest.approx(0.5e-3, rel=1e-3)
    # the decay-correction factor is consistent with that offset
    assert suv.frame_decay_correction(603, 6586.2) == pytest.approx(
        math.exp(lam * suv.frame_average_offset_s(603, 6586.2))
    )


def test_ideal_body_weight_for_sex_o_is_the_mean() -> None:
    """IBSI: PatientSex O takes the mean of the male and female Devine weights."""
    male, female = suv.ideal_body_weight_kg(175, "M"), suv.ideal_body_weight_kg(175, "F")
    assert suv.ideal_body_weight_kg(175, "O") == pytest.approx((male + female) / 2)
    assert male == pytest.approx(48.0 + 1.06 * 23)


def test_lean_body_mass_needs_sex_and_refuses_a_negative_james_mass() -> None:
    with pytest.raises(ValueError, match="PatientSex M or F"):
        suv.normaliser(SuvKind.LBM_JAMES128, 70, 175, "O")
    with pytest.raises(ValueError, match="not positive"):
        suv.lean_body_mass_james128_kg(250, 150, "F")  # BMI 111: James breaks down
