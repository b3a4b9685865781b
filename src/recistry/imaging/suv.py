"""Standardised uptake value arithmetic: decay, frame averaging and body-size normalisers.

Pure functions of numbers (no DICOM); :mod:`recistry.imaging.pet` reads the headers and chooses
which to apply. Weights in kg, heights in cm unless the name says otherwise, times in seconds.

Sources
-------
- SUV definitions and DICOM SUV Types: DICOM PS3.3 C.8.9.1.1.3 (Units, SUV Type), PS3.16
  CID 85 "SUV Types" (codes DCM 126401–126406).
- James-128 lean body mass: James WPT, *Research on obesity*, HMSO 1976; the form used by
  PERCIST (Wahl et al., J Nucl Med 2009;50 Suppl 1) and DICOM ``LBMJAMES128``.
- Janmahasatian lean body mass: Janmahasatian S et al., Clin Pharmacokinet 2005;44:1051–65;
  recommended for SUL by Tahari et al., J Nucl Med 2014;55:1481 (DICOM ``LBMJANMA``).
- Body surface area: DuBois D, DuBois EF, Arch Intern Med 1916;17:863 (DICOM ``BSA``).
- Ideal body weight: Devine BJ, Drug Intell Clin Pharm 1974;8:650 (DICOM ``IBW``); for sex
  "O" the mean of the male and female values, as the IBSI SUV manual suggests.
- Frame-average decay: IBSI SUV manual (oncoray/suv_computation) and the QIBA vendor-neutral
  SUV pseudo-code: T_ave = ln(λT / (1 − e^(−λT))) / λ.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = [
    "SuvKind",
    "body_surface_area_dubois_m2",
    "decay_factor",
    "frame_average_offset_s",
    "frame_decay_correction",
    "ideal_body_weight_kg",
    "lean_body_mass_james128_kg",
    "lean_body_mass_janmahasatian_kg",
    "normaliser",
]


class SuvKind(StrEnum):
    """Which body-size normalisation an SUV uses (DICOM SUV Type in brackets)."""

    BW = "bw"  # body weight (BW), g/ml
    LBM_JAMES128 = "lbm_james128"  # lean body mass, James 1976 with 128 (LBMJAMES128), g/ml
    LBM_JANMA = "lbm_janma"  # lean body mass, Janmahasatian 2005 (LBMJANMA), g/ml
    BSA = "bsa"  # body surface area, DuBois (BSA), cm²/ml
    IBW = "ibw"  # ideal body weight (IBW), g/ml

    @property
    def units(self) -> str:
        """The label recistry gives the volume units, e.g. ``"SUVbw"``."""
        return _UNITS[self]

    @property
    def dicom_suv_type(self) -> str:
        """The DICOM SUV Type (0054,1006) defined term."""
        return _DICOM_TYPE[self]


_UNITS = {
    SuvKind.BW: "SUVbw",
    SuvKind.LBM_JAMES128: "SUVlbm(James128)",
    SuvKind.LBM_JANMA: "SUVlbm(Janma)",
    SuvKind.BSA: "SUVbsa",
    SuvKind.IBW: "SUVibw",
}
_DICOM_TYPE = {
    SuvKind.BW: "BW",
    SuvKind.LBM_JAMES128: "LBMJAMES128",
    SuvKind.LBM_JANMA: "LBMJANMA",
    SuvKind.BSA: "BSA",
    SuvKind.IBW: "IBW",
}


def decay_factor(elapsed_s: float, half_life_s: float) -> float:
    """Fraction of activity left after ``elapsed_s``: 2^(−t/T½)."""
    return float(2.0 ** (-elapsed_s / half_life_s))


def frame_average_offset_s(duration_s: float, half_life_s: float) -> float:
    """Time after the frame start at which the decaying count rate equals its frame average.

    T_ave = ln(λT / (1 − e^(−λT))) / λ with λ = ln 2 / T½ and T the frame duration; slightly
    less than T/2 because activity decays during the frame.
    """
    if duration_s <= 0:
        return 0.0
    lam = math.log(2.0) / half_life_s
    x = lam * duration_s
    return math.log(x / -math.expm1(-x)) / lam


def frame_decay_correction(duration_s: float, half_life_s: float) -> float:
    """λT / (1 − e^(−λT)): corrects a frame average to the activity at the frame start."""
    if duration_s <= 0:
        return 1.0
    x = math.log(2.0) / half_life_s * duration_s
    return x / -math.expm1(-x)


def _check_sex(sex: str, what: str) -> str:
    if sex not in ("M", "F"):
        raise ValueError(f"{what} needs PatientSex M or F, got {sex!r}")
    return sex


def lean_body_mass_james128_kg(weight_kg: float, height_cm: float, sex: str) -> float:
    """James (1976) lean body mass: ♂ 1.10 W − 128 (W/H)², ♀ 1.07 W − 148 (W/H)², H in cm.

    James' formula falls, then turns negative, for BMI above about 35–40; a non-positive result
    is refused rather than used.
    """
    ratio2 = (weight_kg / height_cm) ** 2
    if _check_sex(sex, "James-128 lean body mass") == "M":
        lbm = 1.10 * weight_kg - 128.0 * ratio2
    else:
        lbm = 1.07 * weight_kg - 148.0 * ratio2
    if lbm <= 0:
        raise ValueError(
            f"James-128 lean body mass is not positive ({lbm:.1f} kg) for this habitus"
        )
    return lbm


def lean_body_mass_janmahasatian_kg(weight_kg: float, height_cm: float, sex: str) -> float:
    """Janmahasatian (2005): ♂ 9270 W / (6680 + 216 BMI), ♀ 9270 W / (8780 + 244 BMI)."""
    bmi = weight_kg / (height_cm / 100.0) ** 2
    if _check_sex(sex, "Janmahasatian lean body mass") == "M":
        return 9270.0 * weight_kg / (6680.0 + 216.0 * bmi)
    return 9270.0 * weight_kg / (8780.0 + 244.0 * bmi)


def body_surface_area_dubois_m2(weight_kg: float, height_cm: float) -> float:
    """DuBois & DuBois (1916): 0.007184 · W^0.425 · H^0.725 m² (H in cm)."""
    return float(0.007184 * weight_kg**0.425 * height_cm**0.725)


def ideal_body_weight_kg(height_cm: float, sex: str) -> float:
    """Devine: ♂ 48.0 + 1.06 (H − 152), ♀ 45.5 + 0.91 (H − 152) kg; sex "O" (or unknown)
    takes the mean of both (IBSI SUV manual)."""
    male = 48.0 + 1.06 * (height_cm - 152.0)
    female = 45.5 + 0.91 * (height_cm - 152.0)
    if sex == "M":
        return male
    if sex == "F":
        return female
    return (male + female) / 2.0


def normaliser(
    kind: SuvKind, weight_kg: float, height_cm: float | None, sex: str | None
) -> tuple[float, str]:
    """The quantity that replaces body weight in SUV = C · N / D, and how it was computed.

    Returns
    -------
    (value, description)
        ``value`` in g (cm² for :attr:`SuvKind.BSA`); ``description`` for the audit trail.

    Raises
    ------
    ValueError
        When height or sex is needed and missing, or the formula gives a non-positive value.
    """
    if kind is SuvKind.BW:
        return weight_kg * 1000.0, f"body weight {weight_kg:g} kg"
    if height_cm is None:
        raise ValueError(f"{kind.units} needs the patient's height")
    if kind is SuvKind.BSA:
        bsa = body_surface_area_dubois_m2(weight_kg, height_cm)
        return bsa * 1e4, f"body surface area (DuBois) {bsa:.4f} m²"
    if kind is SuvKind.IBW:
        ibw = ideal_body_weight_kg(height_cm, sex or "O")
        return ibw * 1000.0, f"ideal body weight (Devine, sex {sex or 'O'}) {ibw:.3f} kg"
    if sex is None:
        raise ValueError(f"{kind.units} needs the patient's sex")
    if kind is SuvKind.LBM_JAMES128:
        lbm = lean_body_mass_james128_kg(weight_kg, height_cm, sex)
        return lbm * 1000.0, f"lean body mass (James-128, sex {sex}) {lbm:.3f} kg"
    lbm = lean_body_mass_janmahasatian_kg(weight_kg, height_cm, sex)
    return lbm * 1000.0, f"lean body mass (Janmahasatian, sex {sex}) {lbm:.3f} kg"
