"""Synthetic CT and Ga-68 DOTATATE PET studies whose lesions are known exactly.

A synthetic patient is an elliptic abdomen (fat) holding a liver, a spleen, a pancreas and a
vertebra, with ellipsoid lesions in the liver, a lymph node, the pancreas and the bone. Every
lesion is a uniform ellipsoid, so its RECIST long axis (``2a``) and short axis (``2b``) on the
axial slice through its centre and its SUV (uniform, so SUVmax = SUVmean = SUVpeak when the lesion
holds a 1 cm³ sphere) are known analytically and written to a ground-truth JSON beside the DICOM
files. Sizes change over the time points along a scripted response (PR, SD, PD, a new lesion), and
lesion uptake relative to the patient's liver and spleen covers every Krenning grade 0–4.

Geometry
--------
Patient coordinates are DICOM LPS in mm (x to the patient's left, y posterior, z superior). Axial
slices, head first supine: ImageOrientationPatient ``1\\0\\0\\0\\1\\0``, so the column index i
runs along +x and the row index j along +y. CT and PET of one time point share one study and one
frame of reference, cover the same 360 mm field of view and the same slice positions, with
different pixel sizes.

The files are written with pydicom following the single-frame CT Image and PET Image IODs
(PS3.3 A.3 and A.21) and checked with ``dciodvfy`` in the test suite. Everything, UIDs included,
is derived from the seed, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import format_number_as_ds

from recistry import __version__, tables
from recistry.errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "FIELD_OF_VIEW_MM",
    "GA68_HALF_LIFE_S",
    "MEASUREMENT_COLUMNS",
    "SLICE_SPACING_MM",
    "SynthPatient",
    "write_synthetic_studies",
]

FIELD_OF_VIEW_MM = 360.0
"""Side of the square axial field of view of CT and PET (mm)."""
SLICE_SPACING_MM = 5.0
"""Distance between slice centres, and slice thickness, of CT and PET (mm)."""
N_SLICES = 30
"""Slices per series: 150 mm cranio-caudal, z from −72.5 to +72.5 mm."""
GA68_HALF_LIFE_S = 4062.6
"""Ga-68 half-life written to RadionuclideHalfLife (s; 67.71 min, ENSDF)."""
GA68_POSITRON_FRACTION = 0.889
UPTAKE_S = 3600
"""Injection to PET series start (s)."""
FOLLOW_UP_DAYS = 56
"""Days between consecutive scans of a patient (8 weeks)."""
BASELINE_DATE = dt.date(2024, 1, 15)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
AXIAL_ORIENTATION = ["1", "0", "0", "0", "1", "0"]
CT_RESCALE_INTERCEPT = -1024
PET_MAX_STORED = 32767
CT_NOISE_SD_HU = 4.0
"""Gaussian CT noise (HU). PET is written noise-free so that SUVs are exact."""

MEASUREMENT_COLUMNS = (
    *tables.MEASUREMENT_COLUMNS,
    "study_uid",
    "series_uid",
    "sop_instance_uid",
    "slice_thickness_mm",
    "krenning",
    "suv_max",
)
"""Columns of the measurement table written beside the images (see ``recistry rescore``)."""

# --- Anatomy (LPS mm). Organs are painted in this order, lesions last. --------------------------


@dataclass(frozen=True, slots=True)
class _Ellipsoid:
    """An ellipsoid with its first two semi-axes in the axial plane.

    ``angle_deg`` is the angle of the ``a`` semi-axis from +x (patient left) towards +y
    (posterior); ``c`` is along z.
    """

    center: tuple[float, float, float]
    a: float
    b: float
    c: float
    angle_deg: float = 0.0

    def inside(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        z: float | npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        """Mask of the points ``(x, y, z)`` (mm) inside the ellipsoid, boundary included.

        ``z`` is one slice position, or an array like ``x`` on a repositioned scan.
        """
        dz = (z - self.center[2]) / self.c
        if isinstance(dz, float) and abs(dz) > 1.0:
            return np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
        theta = math.radians(self.angle_deg)
        dx = x - self.center[0]
        dy = y - self.center[1]
        u = (dx * math.cos(theta) + dy * math.sin(theta)) / self.a
        v = (-dx * math.sin(theta) + dy * math.cos(theta)) / self.b
        out: npt.NDArray[np.bool_] = u * u + v * v <= 1.0 - dz * dz
        return out


_BODY = _Ellipsoid((0.0, 0.0, 0.0), 165.0, 115.0, 1e9)
_LIVER = _Ellipsoid((-70.0, -10.0, 10.0), 70.0, 60.0, 80.0)
_SPLEEN = _Ellipsoid((105.0, 40.0, 20.0), 28.0, 40.0, 50.0)
_PANCREAS = _Ellipsoid((45.0, 20.0, -7.5), 28.0, 12.0, 15.0)
_VERTEBRA = _Ellipsoid((0.0, 75.0, 0.0), 18.0, 18.0, 1e9)
# Reference sphere centres in normal tissue, clear of every lesion at its largest.
_LIVER_REFERENCE = (-90.0, 0.0, -30.0)
_SPLEEN_REFERENCE = _SPLEEN.center

# Optional (``lung=True``): a right lung base behind and above the liver dome, painted before
# the liver so that the liver overwrites it where they meet, like the diaphragm.
_LUNG = _Ellipsoid((-60.0, 50.0, 75.0), 60.0, 50.0, 70.0)

_HU = {"air": -1000.0, "body": -90.0, "liver": 60.0, "spleen": 50.0, "pancreas": 40.0}
_HU_LUNG = -850.0
_SUV_LUNG = 0.3
_HU_BONE = 400.0
# Background SUVs (g/ml) of Ga-68 DOTATATE-like uptake; liver and spleen vary per patient.
_SUV_BODY = 0.8
_SUV_PANCREAS = 2.0
_SUV_BONE = 1.2


@dataclass(frozen=True, slots=True)
class _LesionPlan:
    lesion_id: str
    role: str
    site: str
    nodal: bool
    center: tuple[float, float, float]
    long_mm: float
    short_mm: float
    height_mm: float
    angle_deg: float
    hu: float
    krenning: int


# Baseline lesions: three targets (liver, node, pancreas), two non-targets (bone, small node),
# one new liver lesion. Krenning grades 4, 3, 2, 1, 0 at baseline and 4 for the new lesion.
_LESIONS = (
    _LesionPlan("L1", "target", "liver", False, (-70.0, -10.0, 12.5), 40.0, 28.0, 30.0, 30.0,
                20.0, 4),
    _LesionPlan("N1", "target", "lymph node", True, (30.0, 55.0, -22.5), 26.0, 20.0, 20.0, 60.0,
                45.0, 3),
    _LesionPlan("P1", "target", "pancreas", False, (45.0, 20.0, -7.5), 25.0, 18.0, 16.0, 0.0,
                0.0, 2),
    _LesionPlan("B1", "non_target", "bone", False, (0.0, 75.0, 27.5), 14.0, 12.0, 12.0, 0.0,
                150.0, 1),
    _LesionPlan("N2", "non_target", "lymph node", True, (-30.0, 55.0, -37.5), 14.0, 12.0, 12.0,
                20.0, 45.0, 0),
    _LesionPlan("NEW1", "new", "liver", False, (-85.0, 30.0, 42.5), 14.0, 14.0, 14.0, 0.0,
                20.0, 4),
)  # fmt: skip
# A lung nodule, written only with ``lung=True`` (non-target: the scripted responses hold).
_LUNG_LESION = _LesionPlan("LU1", "non_target", "lung", False, (-75.0, 70.0, 52.5), 18.0, 15.0,
                           16.0, 30.0, 30.0, 3)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Script:
    """A scripted course: size factor per scan (baseline first) and when the new lesion shows."""

    name: str
    factors: tuple[float, ...]
    new_lesion_at: int | None
    responses: tuple[str, ...]
    """The RECIST 1.1 overall response the sizes were designed to give at each follow-up."""

    def factor(self, timepoint: int) -> float:
        return self.factors[min(timepoint, len(self.factors) - 1)]

    def response(self, timepoint: int) -> str:
        return self.responses[min(timepoint, len(self.responses) - 1)]


# Sum of target diameters at baseline: L1 40 + N1 short axis 20 + P1 25 = 85 mm.
_SCRIPTS = (
    # 0.6 × 85 = 51 mm (−40 %, PR), then unchanged targets but a new lesion (PD).
    _Script("PR then new lesion", (1.0, 0.6, 0.6), 2, ("", "PR", "PD")),
    # 55 mm (−35 %) then 46.8 mm (−45 %).
    _Script("PR", (1.0, 0.65, 0.55), None, ("", "PR", "PR")),
    # 78.2 mm (−8 %), then 89.3 mm (+14 % from the nadir, < +20 %).
    _Script("SD", (1.0, 0.92, 1.05), None, ("", "SD", "SD")),
    # 93.5 mm (+10 %, SD), then 110.5 mm (+30 % and +25.5 mm from the 85 mm nadir, PD).
    _Script("PD", (1.0, 1.1, 1.3), None, ("", "SD", "PD")),
)


@dataclass(frozen=True, slots=True)
class SynthPatient:
    """Where one synthetic patient was written.

    Attributes
    ----------
    patient_id
        DICOM PatientID and table patient_id.
    directory
        The patient's folder (one sub-folder per scan date, each with ``CT/`` and ``PT/``).
    measurement_table
        The patient's RECIST measurement table (CSV).
    """

    patient_id: str
    directory: Path
    measurement_table: Path


def _uid(*parts: object) -> str:
    """A UUID-derived UID (``2.25.<int>``, PS3.5 B.2) fixed by ``parts`` (so by the seed)."""
    name = "/".join(str(p) for p in parts)
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'recistry-synth:' + name).int}"


def _ds(value: float) -> str:
    """A valid DICOM DS string (at most 16 characters) for ``value``."""
    return format_number_as_ds(float(value))


def _mm(value: float) -> Decimal:
    """A diameter rounded to 0.1 mm, the precision of the measurement table."""
    return Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


@dataclass(frozen=True, slots=True)
class _Grid:
    """Pixel centres of one series: x along columns, y along rows, z per slice (LPS mm)."""

    size: int
    pixel_mm: float

    @property
    def first_center_mm(self) -> float:
        return -FIELD_OF_VIEW_MM / 2 + self.pixel_mm / 2

    def axes(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        centers = self.first_center_mm + self.pixel_mm * np.arange(self.size, dtype=np.float64)
        return centers[np.newaxis, :], centers[:, np.newaxis]

    def snap(self, value_mm: float) -> float:
        """The pixel centre nearest to ``value_mm``."""
        index = round((value_mm - self.first_center_mm) / self.pixel_mm)
        return self.first_center_mm + index * self.pixel_mm


def _slice_z(k: int) -> float:
    return (k - (N_SLICES - 1) / 2) * SLICE_SPACING_MM


def _grid(size: int) -> _Grid:
    # The spacing is rounded the way DS will store it, so pixels are where the header says.
    return _Grid(size, float(_ds(FIELD_OF_VIEW_MM / size)))


@dataclass(frozen=True, slots=True)
class _ScanUids:
    """UIDs of one scan (study): CT and PET share the study and the frame of reference."""

    study: str
    frame: str
    ct_series: str
    pet_series: str
    ct_sops: tuple[str, ...]
    pet_sops: tuple[str, ...]

    @classmethod
    def derive(cls, *key: object) -> _ScanUids:
        return cls(
            study=_uid(*key, "study"),
            frame=_uid(*key, "frame"),
            ct_series=_uid(*key, "ct"),
            pet_series=_uid(*key, "pet"),
            ct_sops=tuple(_uid(*key, "ct", k) for k in range(N_SLICES)),
            pet_sops=tuple(_uid(*key, "pet", k) for k in range(N_SLICES)),
        )


@dataclass(frozen=True, slots=True)
class _Lesion:
    plan: _LesionPlan
    shape: _Ellipsoid
    long_mm: Decimal
    short_mm: Decimal
    suv: float
    krenning: int

    @property
    def slice_index(self) -> int:
        """The slice through the centre (every lesion centre lies on a slice of the slab)."""
        return round((self.shape.center[2] - _slice_z(0)) / SLICE_SPACING_MM)


@dataclass(frozen=True, slots=True)
class _PatientParams:
    index: int
    patient_id: str
    name: str
    sex: str
    birth_date: str
    weight_kg: float
    height_m: float
    dose_bq: float
    liver_suv: float
    spleen_suv: float
    script: _Script


def _patient_params(seed: int, index: int) -> _PatientParams:
    rng = np.random.default_rng([seed, index])
    liver = round(float(rng.uniform(5.0, 8.0)), 2)
    spleen = round(float(rng.uniform(18.0, 26.0)), 2)
    return _PatientParams(
        index=index,
        patient_id=f"SYN{seed}-{index + 1:03d}",
        name=f"Synthetic^Patient{index + 1:03d}^^^S{seed}",
        sex="F" if index % 2 else "M",
        birth_date=f"{1950 + int(rng.integers(0, 30))}0101",
        weight_kg=round(float(rng.uniform(55.0, 95.0)), 1),
        height_m=round(float(rng.uniform(1.55, 1.90)), 2),
        dose_bq=round(float(rng.uniform(120.0, 180.0)), 1) * 1e6,
        liver_suv=liver,
        spleen_suv=spleen,
        script=_SCRIPTS[index % len(_SCRIPTS)],
    )


def _lesion_suv(krenning: int, liver: float, spleen: float) -> float:
    """Uptake (SUVbw) that puts a lesion in the middle of its Krenning grade.

    4: above spleen; 3: between liver and spleen; 2: about liver; 1: half the liver; 0: the
    body background (no visible uptake).
    """
    values = {
        4: 1.5 * spleen,
        3: (liver + spleen) / 2,
        2: 0.97 * liver,
        1: 0.5 * liver,
        0: _SUV_BODY,
    }
    return round(values[krenning], 2)


def _lesions_at(
    params: _PatientParams, timepoint: int, pet: _Grid, lung: bool = False
) -> list[_Lesion]:
    """The lesions visible at ``timepoint`` (0 = baseline), with their sizes and uptake."""
    lesions = []
    for plan in (*_LESIONS, _LUNG_LESION) if lung else _LESIONS:
        if plan.role == "new":
            if params.script.new_lesion_at is None or timepoint < params.script.new_lesion_at:
                continue
            factor = 1.0
        else:
            # Non-target lesions keep their size; the script drives the target sum.
            factor = params.script.factor(timepoint) if plan.role == "target" else 1.0
        long_mm = _mm(plan.long_mm * factor)
        short_mm = _mm(plan.short_mm * factor)
        # Centres sit on a PET voxel centre in-plane and on a slice in z, so the PET samples
        # the lesion's uptake even when it is small and the centre CT slice holds its axes.
        center = (pet.snap(plan.center[0]), pet.snap(plan.center[1]), plan.center[2])
        shape = _Ellipsoid(
            center,
            float(long_mm) / 2,
            float(short_mm) / 2,
            plan.height_mm * factor / 2,
            plan.angle_deg,
        )
        suv = _lesion_suv(plan.krenning, params.liver_suv, params.spleen_suv)
        lesions.append(_Lesion(plan, shape, long_mm, short_mm, suv, plan.krenning))
    return lesions


@dataclass(frozen=True, slots=True)
class _Pose:
    """Where the patient lies on a repositioned scan, relative to the baseline.

    A body point ``q`` (baseline LPS mm) is seen at ``p = R (q + u(q)) + t`` on this scan:
    ``u`` is a small smooth deformation, ``u = A (sin(2π y/λ), sin(2π z/λ), sin(2π x/λ))``, and
    ``R = Rz Ry Rx`` a rotation about the field-of-view centre followed by the translation ``t``.
    """

    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    amplitude_mm: float
    wavelength_mm: float

    @classmethod
    def draw(cls, seed: int, index: int, timepoint: int) -> _Pose:
        rng = np.random.default_rng([seed, index, timepoint, 7919])
        sign = rng.choice([-1.0, 1.0], size=6)
        rot = (
            round(float(sign[0] * rng.uniform(0.5, 2.0)), 2),
            round(float(sign[1] * rng.uniform(0.5, 2.0)), 2),
            round(float(sign[2] * rng.uniform(2.0, 5.0)), 2),
        )
        shift = (
            round(float(sign[3] * rng.uniform(5.0, 15.0)), 2),
            round(float(sign[4] * rng.uniform(5.0, 15.0)), 2),
            round(float(sign[5] * rng.uniform(2.0, 8.0)), 2),
        )
        return cls(rot, shift, 3.0, 200.0)

    @property
    def matrix(self) -> npt.NDArray[np.float64]:
        ax, ay, az = (math.radians(a) for a in self.rotation_deg)
        rx = np.array(
            [[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]]
        )
        ry = np.array(
            [[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]]
        )
        rz = np.array(
            [[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]]
        )
        out: npt.NDArray[np.float64] = rz @ ry @ rx
        return out

    def _u(self, q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        k = 2.0 * math.pi / self.wavelength_mm
        out: npt.NDArray[np.float64] = self.amplitude_mm * np.sin(k * q[..., [1, 2, 0]])
        return out

    def to_scanner(self, q: Sequence[float]) -> tuple[float, float, float]:
        """Where body point ``q`` (mm) lies on this scan (LPS mm)."""
        qa = np.asarray(q, dtype=np.float64)
        p = self.matrix @ (qa + self._u(qa)) + np.asarray(self.translation_mm)
        return (round(float(p[0]), 4), round(float(p[1]), 4), round(float(p[2]), 4))

    def to_body(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], z: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Body coordinates of the scan points ``(x, y, z)``: the inverse of
        :meth:`to_scanner`, by fixed-point iteration (|∇u| = 2πA/λ ≈ 0.09, so 6 steps leave
        under 1e-5 mm)."""
        xx, yy = np.broadcast_arrays(x, y)
        p = np.stack([xx, yy, np.full(xx.shape, z)], axis=-1) - np.asarray(self.translation_mm)
        r = p @ self.matrix  # R^T p for row vectors
        q = r
        for _ in range(6):
            q = r - self._u(q)
        return q[..., 0], q[..., 1], q[..., 2]

    def as_truth(self) -> dict[str, Any]:
        return {
            "body_to_scan": "p = R (q + u(q)) + t, R = Rz Ry Rx about the LPS origin",
            "rotation_deg_xyz": list(self.rotation_deg),
            "translation_mm": list(self.translation_mm),
            "deformation": "u(q) = A (sin(2 pi y / L), sin(2 pi z / L), sin(2 pi x / L))",
            "deformation_amplitude_mm": self.amplitude_mm,
            "deformation_wavelength_mm": self.wavelength_mm,
        }


def _render_ct_slice(
    grid: _Grid,
    z: float,
    lesions: Sequence[_Lesion],
    *,
    lung: bool = False,
    pose: _Pose | None = None,
) -> npt.NDArray[np.float64]:
    x, y = grid.axes()
    zz: float | npt.NDArray[np.float64] = z
    if pose is not None:
        x, y, zz = pose.to_body(x, y, z)
    hu = np.full((grid.size, grid.size), _HU["air"])
    hu[_BODY.inside(x, y, zz)] = _HU["body"]
    if lung:
        hu[_LUNG.inside(x, y, zz)] = _HU_LUNG
    hu[_LIVER.inside(x, y, zz)] = _HU["liver"]
    hu[_SPLEEN.inside(x, y, zz)] = _HU["spleen"]
    hu[_PANCREAS.inside(x, y, zz)] = _HU["pancreas"]
    hu[_VERTEBRA.inside(x, y, zz)] = _HU_BONE
    for lesion in lesions:
        hu[lesion.shape.inside(x, y, zz)] = lesion.plan.hu
    return hu


def _render_pet_slice(
    grid: _Grid,
    z: float,
    lesions: Sequence[_Lesion],
    params: _PatientParams,
    *,
    lung: bool = False,
    pose: _Pose | None = None,
) -> npt.NDArray[np.float64]:
    x, y = grid.axes()
    zz: float | npt.NDArray[np.float64] = z
    if pose is not None:
        x, y, zz = pose.to_body(x, y, z)
    suv = np.zeros((grid.size, grid.size))
    suv[_BODY.inside(x, y, zz)] = _SUV_BODY
    if lung:
        suv[_LUNG.inside(x, y, zz)] = _SUV_LUNG
    suv[_LIVER.inside(x, y, zz)] = params.liver_suv
    suv[_SPLEEN.inside(x, y, zz)] = params.spleen_suv
    suv[_PANCREAS.inside(x, y, zz)] = _SUV_PANCREAS
    suv[_VERTEBRA.inside(x, y, zz)] = _SUV_BONE
    for lesion in lesions:
        suv[lesion.shape.inside(x, y, zz)] = lesion.suv
    return suv


def _decayed_dose_bq(params: _PatientParams) -> float:
    """Injected activity decayed to the PET series start, the DecayCorrection START reference."""
    return float(params.dose_bq * 2.0 ** (-UPTAKE_S / GA68_HALF_LIFE_S))


def _suv_factor(params: _PatientParams) -> float:
    """SUVbw per Bq/ml: weight (g) / decayed dose (Bq) (QIBA vendor-neutral pseudo-code)."""
    return params.weight_kg * 1000.0 / _decayed_dose_bq(params)


def _base_dataset(
    params: _PatientParams, study_uid: str, frame_uid: str, date: dt.date, tp: int
) -> Dataset:
    """Patient, General Study, Frame of Reference and General Equipment modules."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = params.name
    ds.PatientID = params.patient_id
    ds.PatientBirthDate = params.birth_date
    ds.PatientSex = params.sex
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Synthetic data (recistry synth)"
    ds.PatientAge = f"{date.year - int(params.birth_date[:4]):03d}Y"
    ds.PatientWeight = _ds(params.weight_kg)
    ds.PatientSize = _ds(params.height_m)
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = date.strftime("%Y%m%d")
    ds.StudyTime = "103000"
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"T{tp}"
    ds.AccessionNumber = f"A{params.index + 1:03d}{tp:02d}"
    ds.StudyDescription = "Synthetic CT and Ga-68 DOTATATE PET"
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "recistry"
    ds.ManufacturerModelName = "recistry synth"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = __version__
    ds.InstitutionName = "Synthetic"
    ds.BodyPartExamined = "ABDOMEN"
    return ds


def _plane(ds: Dataset, grid: _Grid, k: int) -> None:
    """Image Plane module of slice ``k``."""
    z = _slice_z(k)
    ds.ImagePositionPatient = [_ds(grid.first_center_mm), _ds(grid.first_center_mm), _ds(z)]
    ds.ImageOrientationPatient = AXIAL_ORIENTATION
    ds.PixelSpacing = [_ds(grid.pixel_mm), _ds(grid.pixel_mm)]
    ds.SliceThickness = _ds(SLICE_SPACING_MM)
    ds.SpacingBetweenSlices = _ds(SLICE_SPACING_MM)
    ds.SliceLocation = _ds(z)


def _pixels(ds: Dataset, stored: npt.NDArray[Any], *, bits_stored: int, signed: bool) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = stored.astype("<i2" if signed else "<u2").tobytes()


def _save(ds: Dataset, path: Path) -> None:
    # enforce_file_format fills in the rest of the file meta (SOP class and instance UIDs).
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def _write_ct(
    folder: Path,
    base: Dataset,
    grid: _Grid,
    lesions: Sequence[_Lesion],
    uids: _ScanUids,
    rng: np.random.Generator,
    *,
    lung: bool = False,
    pose: _Pose | None = None,
) -> None:
    folder.mkdir(parents=True)
    for k in range(N_SLICES):
        hu = _render_ct_slice(grid, _slice_z(k), lesions, lung=lung, pose=pose)
        hu += rng.normal(0.0, CT_NOISE_SD_HU, hu.shape)
        stored = np.clip(np.rint(hu) - CT_RESCALE_INTERCEPT, 0, 4095)
        ds = Dataset()
        ds.update(base)
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = uids.ct_sops[k]
        ds.Modality = "CT"
        ds.SeriesInstanceUID = uids.ct_series
        ds.SeriesNumber = 2
        ds.SeriesDescription = "Synthetic abdomen CT"
        ds.SeriesDate = base.StudyDate
        ds.SeriesTime = "104500"
        ds.PatientPosition = "HFS"
        ds.AcquisitionDate = base.StudyDate
        ds.AcquisitionTime = "104500"
        ds.ContentDate = base.StudyDate
        ds.ContentTime = "104500"
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP = "120"
        ds.ConvolutionKernel = "STANDARD"
        ds.RescaleIntercept = str(CT_RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.BurnedInAnnotation = "NO"
        _plane(ds, grid, k)
        _pixels(ds, stored, bits_stored=12, signed=False)
        _save(ds, folder / f"CT{k + 1:04d}.dcm")


def _frame_reference_time_ms(duration_ms: float) -> float:
    """Time from the frame start at which the activity equals its frame average (ms).

    ``T_ave = ln(λT / (1 − e^(−λT))) / λ`` (QIBA back-computation of the reference time), so
    AcquisitionTime − FrameReferenceTime + T_ave gives back the series start.
    """
    lam = math.log(2) / GA68_HALF_LIFE_S
    t = duration_ms / 1000.0
    return 1000.0 * math.log(lam * t / (1.0 - math.exp(-lam * t))) / lam


def _write_pet(
    folder: Path,
    base: Dataset,
    grid: _Grid,
    lesions: Sequence[_Lesion],
    uids: _ScanUids,
    params: _PatientParams,
    date: dt.date,
    *,
    lung: bool = False,
    pose: _Pose | None = None,
) -> None:
    folder.mkdir(parents=True)
    bq_per_suv = 1.0 / _suv_factor(params)
    duration_ms = 180000.0
    lam_t = math.log(2) / GA68_HALF_LIFE_S * duration_ms / 1000.0
    injection = dt.datetime.combine(date, dt.time(11, 0)) - dt.timedelta(seconds=UPTAKE_S)
    isotope = Dataset()
    isotope.Radiopharmaceutical = "Ga-68 DOTATATE"
    isotope.RadiopharmaceuticalStartTime = injection.strftime("%H%M%S")
    isotope.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S")
    isotope.RadionuclideTotalDose = _ds(params.dose_bq)
    isotope.RadionuclideHalfLife = _ds(GA68_HALF_LIFE_S)
    isotope.RadionuclidePositronFraction = _ds(GA68_POSITRON_FRACTION)
    isotope.RadionuclideCodeSequence = DicomSequence([_code("35337001", "^68^Gallium")])
    isotope.RadiopharmaceuticalCodeSequence = DicomSequence([_code("724025002", "Dotatate Ga^68^")])
    orientation = _code("102538003", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = DicomSequence(
        [_code("40199007", "supine")]
    )
    for k in range(N_SLICES):
        bq_ml = _render_pet_slice(grid, _slice_z(k), lesions, params, lung=lung, pose=pose)
        bq_ml *= bq_per_suv
        peak = float(bq_ml.max())
        # Per-slice slope, as GE and Siemens write it, so that readers must apply it per slice.
        slope_text = _ds(peak / PET_MAX_STORED) if peak > 0 else "1"
        stored = np.rint(bq_ml / float(slope_text))
        ds = Dataset()
        ds.update(base)
        ds.SOPClassUID = PET_IMAGE_STORAGE
        ds.SOPInstanceUID = uids.pet_sops[k]
        ds.Modality = "PT"
        ds.SeriesInstanceUID = uids.pet_series
        ds.SeriesNumber = 3
        ds.SeriesDescription = "Synthetic Ga-68 DOTATATE PET AC"
        ds.SeriesDate = base.StudyDate
        ds.SeriesTime = "110000"
        ds.AcquisitionDate = base.StudyDate
        ds.AcquisitionTime = "110000"
        ds.ContentDate = base.StudyDate
        ds.ContentTime = "110000"
        ds.Units = "BQML"
        ds.CountsSource = "EMISSION"
        ds.SeriesType = ["STATIC", "IMAGE"]
        ds.NumberOfSlices = N_SLICES
        ds.CorrectedImage = ["ATTN", "DECY", "SCAT", "DTIM", "RAN", "NORM"]
        ds.DecayCorrection = "START"
        ds.RandomsCorrectionMethod = "DLYD"
        ds.AttenuationCorrectionMethod = "CT-based"
        ds.ReconstructionMethod = "OSEM"
        ds.CollimatorType = "NONE"
        ds.RadiopharmaceuticalInformationSequence = DicomSequence([isotope])
        ds.PatientOrientationCodeSequence = DicomSequence([orientation])
        ds.PatientGantryRelationshipCodeSequence = DicomSequence([_code("102540008", "headfirst")])
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.AcquisitionNumber = 1
        ds.FrameReferenceTime = _ds(_frame_reference_time_ms(duration_ms))
        ds.ActualFrameDuration = int(duration_ms)
        ds.DecayFactor = _ds(lam_t / (1.0 - math.exp(-lam_t)))
        ds.DoseCalibrationFactor = "1"
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = slope_text
        ds.LossyImageCompression = "00"
        _plane(ds, grid, k)
        _pixels(ds, stored, bits_stored=16, signed=True)
        _save(ds, folder / f"PT{k + 1:04d}.dcm")


def _scan_slice(lesion: _Lesion, pose: _Pose | None) -> int:
    """The slice nearest to the lesion centre on a scan (the centre slice without a pose)."""
    if pose is None:
        return lesion.slice_index
    z = pose.to_scanner(lesion.shape.center)[2]
    return min(N_SLICES - 1, max(0, round((z - _slice_z(0)) / SLICE_SPACING_MM)))


def _lesion_truth(lesion: _Lesion, ct_sop: str, pose: _Pose | None = None) -> dict[str, Any]:
    shape = lesion.shape
    theta = math.radians(shape.angle_deg)
    cx, cy, cz = shape.center
    along = (math.cos(theta), math.sin(theta))
    across = (-math.sin(theta), math.cos(theta))

    def ends(half: float, d: tuple[float, float]) -> list[list[float]]:
        return [
            [round(cx - half * d[0], 4), round(cy - half * d[1], 4), cz],
            [round(cx + half * d[0], 4), round(cy + half * d[1], 4), cz],
        ]

    plan = lesion.plan
    truth: dict[str, Any] = {
        "lesion_id": plan.lesion_id,
        "role": plan.role,
        "site": plan.site,
        "nodal": plan.nodal,
        "center_lps_mm": [cx, cy, cz],
        "semi_axes_mm": [shape.a, shape.b, shape.c],
        "angle_deg": shape.angle_deg,
        "long_axis_mm": str(lesion.long_mm),
        "short_axis_mm": str(lesion.short_mm),
        "long_axis_endpoints_lps_mm": ends(shape.a, along),
        "short_axis_endpoints_lps_mm": ends(shape.b, across),
        "ct_sop_instance_uid": ct_sop,
        "ct_hu": plan.hu,
        "suv_max": lesion.suv,
        "suv_mean": lesion.suv,
        "krenning": lesion.krenning,
    }
    if pose is not None:
        # Where the lesion is on this scan; its size and shape are the body's (the deformation
        # changes lengths by at most 2πA/λ ≈ 9 %, locally much less).
        truth["body_center_lps_mm"] = truth["center_lps_mm"]
        truth["center_lps_mm"] = list(pose.to_scanner(shape.center))
        for key in ("long_axis_endpoints_lps_mm", "short_axis_endpoints_lps_mm"):
            truth[key] = [list(pose.to_scanner(p)) for p in truth[key]]
    return truth


def _measurement_rows(
    params: _PatientParams,
    date: dt.date,
    lesions: Sequence[_Lesion],
    uids: _ScanUids,
    pose: _Pose | None = None,
) -> list[dict[str, str]]:
    rows = []
    for lesion in lesions:
        plan = lesion.plan
        measured = plan.role != "non_target"
        rows.append(
            {
                "patient_id": params.patient_id,
                "date": date.isoformat(),
                "lesion_id": plan.lesion_id,
                "role": plan.role,
                "site": plan.site,
                "nodal": "true" if plan.nodal else "false",
                "long_axis_mm": str(lesion.long_mm) if measured else "",
                "short_axis_mm": str(lesion.short_mm) if measured else "",
                "state": "measured" if plan.role == "target" else "present",
                "study_uid": uids.study,
                "series_uid": uids.ct_series,
                "sop_instance_uid": uids.ct_sops[_scan_slice(lesion, pose)],
                "slice_thickness_mm": _ds(SLICE_SPACING_MM),
                "krenning": str(lesion.krenning),
                "suv_max": f"{lesion.suv:.2f}",
            }
        )
    return rows


def _write_table(path: Path, rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MEASUREMENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_patient(
    root: Path,
    params: _PatientParams,
    timepoints: int,
    seed: int,
    size: int,
    *,
    reposition: bool = False,
    lung: bool = False,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    ct_grid = _grid(size)
    pet_grid = _grid(min(max(32, size // 2), 192))
    patient_dir = root / params.patient_id
    truth_timepoints = []
    rows: list[dict[str, str]] = []
    for tp in range(timepoints):
        date = BASELINE_DATE + dt.timedelta(days=7 * params.index + FOLLOW_UP_DAYS * tp)
        uids = _ScanUids.derive(seed, params.patient_id, tp)
        lesions = _lesions_at(params, tp, pet_grid, lung)
        pose = _Pose.draw(seed, params.index, tp) if reposition and tp > 0 else None
        base = _base_dataset(params, uids.study, uids.frame, date, tp)
        scan_dir = patient_dir / date.strftime("%Y%m%d")
        rng = np.random.default_rng([seed, params.index, tp])
        _write_ct(scan_dir / "CT", base, ct_grid, lesions, uids, rng, lung=lung, pose=pose)
        _write_pet(
            scan_dir / "PT", base, pet_grid, lesions, uids, params, date, lung=lung, pose=pose
        )
        timepoint: dict[str, Any] = {
            "timepoint": tp,
            "date": date.isoformat(),
            "scripted_response": params.script.response(tp) or None,
            "study_instance_uid": uids.study,
            "frame_of_reference_uid": uids.frame,
            "ct_series_instance_uid": uids.ct_series,
            "pet_series_instance_uid": uids.pet_series,
            "ct_folder": str((scan_dir / "CT").relative_to(root)),
            "pet_folder": str((scan_dir / "PT").relative_to(root)),
            "lesions": [
                _lesion_truth(les, uids.ct_sops[_scan_slice(les, pose)], pose) for les in lesions
            ],
        }
        if reposition:
            timepoint["repositioning"] = None if pose is None else pose.as_truth()
            timepoint["liver_reference_center_lps_mm"] = list(
                _LIVER_REFERENCE if pose is None else pose.to_scanner(_LIVER_REFERENCE)
            )
            timepoint["spleen_reference_center_lps_mm"] = list(
                _SPLEEN_REFERENCE if pose is None else pose.to_scanner(_SPLEEN_REFERENCE)
            )
        truth_timepoints.append(timepoint)
        rows.extend(_measurement_rows(params, date, lesions, uids, pose))
    _write_table(patient_dir / "measurements.csv", rows)
    truth = {
        "patient_id": params.patient_id,
        "script": params.script.name,
        "sex": params.sex,
        "weight_kg": params.weight_kg,
        "height_m": params.height_m,
        "injected_dose_bq": params.dose_bq,
        "half_life_s": GA68_HALF_LIFE_S,
        "uptake_s": UPTAKE_S,
        "suv_bw_per_bq_ml": _suv_factor(params),
        "liver_suv_mean": params.liver_suv,
        "spleen_suv_mean": params.spleen_suv,
        "liver_ellipsoid": _ellipsoid_truth(_LIVER),
        "spleen_ellipsoid": _ellipsoid_truth(_SPLEEN),
        "liver_reference_center_lps_mm": list(_LIVER_REFERENCE),
        "spleen_reference_center_lps_mm": list(_SPLEEN_REFERENCE),
        "timepoints": truth_timepoints,
    }
    return truth, rows


def _ellipsoid_truth(shape: _Ellipsoid) -> dict[str, Any]:
    return {
        "center_lps_mm": list(shape.center),
        "semi_axes_mm": [shape.a, shape.b, shape.c],
        "angle_deg": shape.angle_deg,
    }


def write_synthetic_studies(
    out: Path,
    *,
    patients: int,
    timepoints: int,
    seed: int = 0,
    size: int = 512,
    reposition: bool = False,
    lung: bool = False,
) -> list[SynthPatient]:
    """Write synthetic CT + Ga-68 DOTATATE PET studies, their ground truth and tables.

    Parameters
    ----------
    out
        Folder to create; it must not exist or be empty. Everything is written to a temporary
        sibling folder first and moved into place at the end, so a failure leaves nothing
        half-written.
    patients
        Number of patients (≥ 1). Patient *n* (0-based) follows script ``n mod 4``: PR then a
        new lesion, PR, SD, PD.
    timepoints
        Scans per patient (≥ 1), the first being the baseline, 8 weeks apart.
    seed
        Fixes patient weights, doses, organ uptakes, CT noise and every UID.
    size
        CT matrix (columns = rows) over a 360 mm field of view; the PET matrix is half of it,
        between 32 and 192.
    reposition
        Lay the patient differently at each follow-up: a rotation (0.5–2° about x and y, 2–5°
        about z), a translation (5–15 mm in x and y, 2–8 mm in z) and a smooth deformation of
        amplitude 3 mm and wavelength 200 mm, all drawn from the seed. Each follow-up's truth
        then holds ``repositioning`` (the transform), and each lesion's ``center_lps_mm`` and
        axis end points are where the lesion lies on that scan (``body_center_lps_mm`` is the
        baseline position). Off by default: the default output is unchanged.
    lung
        Add a right lung base (−850 HU, SUV 0.3) with a non-target nodule LU1 (18 × 15 mm,
        Krenning 3). Off by default.

    Returns
    -------
    list of SynthPatient
        One entry per patient, in order. ``out/ground_truth.json`` holds the truth of all
        patients, ``out/measurements.csv`` all measurement rows, and each patient folder its own
        ``measurements.csv``.

    Raises
    ------
    InputError
        When a count or the size is out of range, ``out`` is a file or a non-empty folder, or
        the files cannot be written (nothing is left behind).
    """
    if patients < 1:
        raise InputError(f"--patients must be at least 1, got {patients}")
    if timepoints < 1:
        raise InputError(f"--timepoints must be at least 1, got {timepoints}")
    if not 32 <= size <= 1024:
        raise InputError(f"--size must be between 32 and 1024, got {size}")
    if out.exists() and not out.is_dir():
        raise InputError("output path is a file, not a folder; choose a new one", path=str(out))
    if out.exists() and any(out.iterdir()):
        raise InputError("output folder exists and is not empty; choose a new one", path=str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(out)) from exc
    try:
        truths = []
        all_rows: list[dict[str, str]] = []
        written = []
        for index in range(patients):
            params = _patient_params(seed, index)
            logger.info("writing %s (%s)", params.patient_id, params.script.name)
            truth, rows = _write_patient(
                staging, params, timepoints, seed, size, reposition=reposition, lung=lung
            )
            truths.append(truth)
            all_rows.extend(rows)
            written.append(params.patient_id)
        document = {
            "generator": f"recistry synth {__version__}",
            "seed": seed,
            "size": size,
            "field_of_view_mm": FIELD_OF_VIEW_MM,
            "slice_spacing_mm": SLICE_SPACING_MM,
            "krenning_design": (
                "lesion SUV = 1.5 x spleen (4), (liver + spleen) / 2 (3), 0.97 x liver (2), "
                "0.5 x liver (1), body background 0.8 (0)"
            ),
            "patients": truths,
        }
        if lung:
            document["lung_ellipsoid"] = _ellipsoid_truth(_LUNG)
        (staging / "ground_truth.json").write_text(
            json.dumps(document, indent=1) + "\n", encoding="utf-8"
        )
        _write_table(staging / "measurements.csv", all_rows)
        staging.chmod(0o755)  # mkdtemp makes it private
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"cannot write the studies: {exc}", path=str(out)) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [SynthPatient(pid, out / pid, out / pid / "measurements.csv") for pid in written]
