"""Lesion metrics: lines on slices, RECIST axes from masks and SEG, PET uptake and references."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from recistry.errors import DicomError, InputError
from recistry.imaging.ct import load_ct
from recistry.imaging.metrics import (
    LIVER_REFERENCE_DIAMETER_MM,
    PEAK_SPHERE_ML,
    SPLEEN_REFERENCE_DIAMETER_MM,
    lesion_axes,
    line_on_slice,
    line_on_volume,
    mask_on_grid,
    sphere_uptake,
    voi_uptake,
    volume_from_seg,
)
from recistry.imaging.pet import load_pet_suv
from recistry.imaging.synth import write_synthetic_studies
from recistry.imaging.volume import Volume


def _volume(array: np.ndarray, spacing: tuple[float, float, float], **kw: Any) -> Volume:
    fields: dict[str, Any] = {
        "array": array,
        "spacing_mm": spacing,
        "origin_mm": (0.0, 0.0, 0.0),
        "direction": np.eye(3),
        "frame_of_reference_uid": "1.2.3",
        "sop_instance_uids": (),
        "series_instance_uid": "1.2.3.4",
        "study_instance_uid": "1.2.3.5",
        "modality": "CT",
        "units": "mask",
    }
    fields.update(kw)
    return Volume(**fields)


def _axial_slice(pixel_spacing: list[str], orientation: list[str] | None = None) -> Dataset:
    ds = Dataset()
    ds.ImagePositionPatient = ["-100", "-50", "20"]
    ds.ImageOrientationPatient = orientation or ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = pixel_spacing
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.2"
    return ds


# --- Lines ---------------------------------------------------------------------------------


def test_line_length_uses_pixel_spacing_as_row_then_column_ps3_3_c7_6_2_1_1() -> None:
    """PixelSpacing = (distance between rows, distance between columns)."""
    ds = _axial_slice(["0.5", "0.8"])
    along_row = line_on_slice(ds, (10, 10), (10, 30))  # 20 columns
    along_column = line_on_slice(ds, (10, 10), (30, 10))  # 20 rows
    assert along_row.length_mm == pytest.approx(16.0)
    assert along_column.length_mm == pytest.approx(10.0)
    assert along_row.start_lps_mm == pytest.approx((-100 + 8.0, -50 + 5.0, 20.0))
    assert along_row.end_lps_mm == pytest.approx((-100 + 24.0, -50 + 5.0, 20.0))
    assert along_row.sop_instance_uid == ds.SOPInstanceUID
    assert along_row.frame_of_reference_uid == ds.FrameOfReferenceUID


def test_line_on_a_coronal_slice_lands_in_patient_space() -> None:
    """Columns run along +x (left), rows along −z (feet) for IOP 1\\0\\0\\0\\0\\-1."""
    ds = _axial_slice(["2", "1"], ["1", "0", "0", "0", "0", "-1"])
    line = line_on_slice(ds, (0, 0), (3, 4))
    assert line.end_lps_mm == pytest.approx((-96.0, -50.0, 14.0))
    assert line.length_mm == pytest.approx(math.hypot(4.0, 6.0))


def test_line_on_pydicom_ct_small_real_scanner_file() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    line = line_on_slice(ds, (0, 0), (0, 100))
    assert line.length_mm == pytest.approx(100 * col_mm)
    assert line.start_lps_mm == pytest.approx(tuple(float(v) for v in ds.ImagePositionPatient))
    assert line.sop_instance_uid == ds.SOPInstanceUID
    diagonal = line_on_slice(ds, (0, 0), (30, 40))
    assert diagonal.length_mm == pytest.approx(math.hypot(30 * row_mm, 40 * col_mm))


@pytest.mark.parametrize(
    ("keyword", "tag"),
    [
        ("PixelSpacing", "(0028,0030)"),
        ("ImagePositionPatient", "(0020,0032)"),
        ("ImageOrientationPatient", "(0020,0037)"),
    ],
)
def test_line_on_a_slice_without_geometry_names_the_tag(keyword: str, tag: str) -> None:
    ds = _axial_slice(["0.5", "0.5"])
    delattr(ds, keyword)
    with pytest.raises(DicomError, match=keyword) as info:
        line_on_slice(ds, (0, 0), (1, 1))
    assert info.value.tag == tag


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("metrics") / "synth"
    write_synthetic_studies(out, patients=1, timepoints=1, seed=11, size=128)
    return out


@pytest.fixture(scope="module")
def truth(synth: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((synth / "ground_truth.json").read_text())
    return data


def test_line_on_volume_matches_line_on_the_dicom_slice(synth: Path, truth: dict[str, Any]) -> None:
    folder = synth / truth["patients"][0]["timepoints"][0]["ct_folder"]
    ct = load_ct(folder.iterdir())
    k = 7
    by_uid = {ds.SOPInstanceUID: ds for ds in map(pydicom.dcmread, folder.iterdir())}
    from_volume = line_on_volume(ct, k, (12.5, 3.0), (90.0, 100.25))
    from_file = line_on_slice(by_uid[ct.sop_instance_uids[k]], (12.5, 3.0), (90.0, 100.25))
    assert from_volume.length_mm == pytest.approx(from_file.length_mm)
    assert from_volume.start_lps_mm == pytest.approx(from_file.start_lps_mm)
    assert from_volume.end_lps_mm == pytest.approx(from_file.end_lps_mm)
    assert from_volume.sop_instance_uid == from_file.sop_instance_uid
    with pytest.raises(InputError, match="slice 30"):
        line_on_volume(ct, 30, (0, 0), (1, 1))


# --- RECIST axes -----------------------------------------------------------------------------


def _ellipsoid_mask(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    semi: tuple[float, float, float],
    angle_deg: float,
) -> np.ndarray:
    k, j, i = np.indices(shape, dtype=np.float64)
    centre = [(n - 1) / 2 for n in shape]
    z, y, x = (
        (k - centre[0]) * spacing[0],
        (j - centre[1]) * spacing[1],
        (i - centre[2]) * spacing[2],
    )
    t = math.radians(angle_deg)
    u = (x * math.cos(t) + y * math.sin(t)) / semi[0]
    v = (-x * math.sin(t) + y * math.cos(t)) / semi[1]
    out: np.ndarray = u * u + v * v + (z / semi[2]) ** 2 <= 1.0
    return out


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0])
def test_axes_of_an_ellipsoid_recist_1_1_section_3_1(angle: float) -> None:
    """Long axis 2a on the widest slice and the perpendicular short axis 2b, within a pixel
    diagonal, end points symmetric about the centre, the two axes perpendicular."""
    spacing = (2.0, 0.7, 0.7)
    mask = _ellipsoid_mask((21, 181, 181), spacing, (50.0, 30.0, 19.0), angle)
    axes = lesion_axes(_volume(mask, spacing))
    diagonal = math.hypot(0.7, 0.7)
    assert axes.long_axis.length_mm == pytest.approx(100.0, abs=diagonal)
    assert axes.short_axis.length_mm == pytest.approx(60.0, abs=diagonal)
    assert axes.long_axis.slice_index == axes.short_axis.slice_index == 10
    long_vec = np.subtract(axes.long_axis.end_lps_mm, axes.long_axis.start_lps_mm)
    short_vec = np.subtract(axes.short_axis.end_lps_mm, axes.short_axis.start_lps_mm)
    assert abs(np.dot(long_vec, short_vec)) / (
        np.linalg.norm(long_vec) * np.linalg.norm(short_vec)
    ) == pytest.approx(0.0, abs=1e-9)
    expected_dir = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle)), 0.0])
    cosine = abs(np.dot(long_vec, expected_dir)) / np.linalg.norm(long_vec)
    # A chord tilted by δ is only ~a·δ²·(a²/b² − 1) shorter, so pixels can tilt it a few degrees.
    assert cosine > math.cos(math.radians(5.0))
    centre = np.array([90 * 0.7, 90 * 0.7, 20.0])
    middle = (np.array(axes.long_axis.start_lps_mm) + axes.long_axis.end_lps_mm) / 2
    assert np.linalg.norm(middle - centre) < diagonal
    assert axes.voxel_count == int(mask.sum())


def test_axes_end_points_follow_the_volume_geometry() -> None:
    """Origin, spacing and direction (here a flipped row axis) place the end points in LPS."""
    mask = np.zeros((3, 20, 30), dtype=bool)
    mask[1, 5:8, 4:24] = True  # 20 columns × 3 rows
    direction = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    volume = _volume(
        mask,
        (3.0, 0.5, 0.8),
        origin_mm=(10.0, 20.0, 30.0),
        direction=direction,
        sop_instance_uids=("a", "b", "c"),
    )
    axes = lesion_axes(volume)
    # Edge mid-points: columns 3.5 … 23.5 (16 mm) on rows 5 … 7 (1 mm apart), the diagonal.
    assert axes.long_axis.length_mm == pytest.approx(math.hypot(16.0, 1.0))
    assert 1.0 <= axes.short_axis.length_mm <= 1.6
    assert axes.long_axis.sop_instance_uid == "b"
    for x, y, z in (axes.long_axis.start_lps_mm, axes.long_axis.end_lps_mm):
        assert z == pytest.approx(33.0)
        assert 10.0 + 3.5 * 0.8 - 1e-9 <= x <= 10.0 + 23.5 * 0.8 + 1e-9
        assert 20.0 - 7.5 * 0.5 - 1e-9 <= y <= 20.0 - 4.5 * 0.5 + 1e-9


def test_label_selects_one_lesion_and_an_empty_mask_is_refused() -> None:
    labels = np.zeros((1, 40, 40), dtype=np.int16)
    labels[0, 2:6, 2:30] = 1
    labels[0, 20:30, 20:25] = 2
    volume = _volume(labels, (1.0, 1.0, 1.0))
    assert lesion_axes(volume, label=2).long_axis.length_mm == pytest.approx(math.hypot(10, 4))
    assert lesion_axes(volume, label=1).long_axis.length_mm == pytest.approx(math.hypot(28, 3))
    with pytest.raises(InputError, match="label 3"):
        lesion_axes(volume, label=3)
    with pytest.raises(InputError, match="empty"):
        lesion_axes(_volume(np.zeros((2, 4, 4), dtype=bool), (1.0, 1.0, 1.0)))


def _edge_midpoints(mask2d: np.ndarray) -> np.ndarray:
    """All edge mid-points between mask and outside pixels (the brute-force oracle)."""
    points = []
    for j, i in zip(*np.nonzero(mask2d), strict=True):
        for dj, di in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            jj, ii = j + dj, i + di
            inside = 0 <= jj < mask2d.shape[0] and 0 <= ii < mask2d.shape[1] and mask2d[jj, ii]
            if not inside:
                points.append((j + 0.5 * dj, i + 0.5 * di))
    return np.array(points, dtype=np.float64)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    arrays(np.bool_, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12))),
    st.sampled_from([(1.0, 1.0), (0.5, 0.8), (1.2, 0.7)]),
)
def test_long_axis_equals_brute_force_over_all_boundary_points(
    mask: np.ndarray, pixel: tuple[float, float]
) -> None:
    """The convex hull shortcut loses nothing: same diameter as all pairs of edge points."""
    if not mask.any():
        return
    volume = _volume(mask, (2.0, *pixel))
    axes = lesion_axes(volume)
    best = 0.0
    for k in range(mask.shape[0]):
        if not mask[k].any():
            continue
        pts = _edge_midpoints(mask[k]) * pixel
        for a, b in itertools.combinations(pts, 2):
            best = max(best, float(np.linalg.norm(a - b)))
    assert axes.long_axis.length_mm == pytest.approx(best)
    assert axes.short_axis.length_mm <= axes.long_axis.length_mm + 1e-9


def test_axes_from_a_dicom_seg_written_by_highdicom(
    synth: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    """A SEG (PS3.3 A.51) of a lesion gives the same axes as the label volume it came from."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    tp = truth["patients"][0]["timepoints"][0]
    lesion = next(les for les in tp["lesions"] if les["lesion_id"] == "L1")
    folder = synth / tp["ct_folder"]
    ct = load_ct(folder.iterdir())
    mask = np.abs(ct.array - lesion["ct_hu"]) < 20
    from scipy import ndimage

    labels, _ = ndimage.label(mask)
    index = np.rint(ct.patient_to_index(lesion["center_lps_mm"])[0]).astype(int)
    mask = labels == labels[tuple(int(v) for v in index)]
    by_uid = {ds.SOPInstanceUID: ds for ds in map(pydicom.dcmread, folder.iterdir())}
    sources = [by_uid[uid] for uid in ct.sop_instance_uids]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            hd.seg.SegmentDescription(
                segment_number=1,
                segment_label="L1",
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Tumor,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            )
        ],
        series_instance_uid=hd.UID(),
        series_number=100,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="recistry",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
        omit_empty_frames=False,
    )
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    from_seg = lesion_axes(volume_from_seg(path, 1))
    from_mask = lesion_axes(replace(ct, array=mask))
    assert from_seg.long_axis.length_mm == pytest.approx(from_mask.long_axis.length_mm)
    assert from_seg.short_axis.length_mm == pytest.approx(from_mask.short_axis.length_mm)
    assert from_seg.long_axis.start_lps_mm == pytest.approx(from_mask.long_axis.start_lps_mm)
    assert from_seg.long_axis.end_lps_mm == pytest.approx(from_mask.long_axis.end_lps_mm)
    assert from_seg.long_axis.length_mm == pytest.approx(
        float(lesion["long_axis_mm"]), abs=math.hypot(*ct.spacing_mm[1:])
    )
    with pytest.raises(DicomError, match="segment 2"):
        volume_from_seg(path, 2)
    with pytest.raises(DicomError, match="Segmentation"):
        volume_from_seg(next(folder.iterdir()), 1)


# --- PET uptake ------------------------------------------------------------------------------


def test_lesion_uptake_on_pet_from_a_ct_mask_matches_truth_within_one_percent(
    synth: Path, truth: dict[str, Any]
) -> None:
    """CT lesion mask → PET grid → SUVmax, and the liver/spleen reference spheres, on the PET
    loaded by load_pet_suv (QIBA order; the back-computed scan time equals SeriesTime)."""
    from scipy import ndimage

    patient = truth["patients"][0]
    tp = patient["timepoints"][0]
    ct = load_ct((synth / tp["ct_folder"]).iterdir())
    pet = load_pet_suv((synth / tp["pet_folder"]).iterdir())
    assert pet.provenance["scan_time_back_computed"] == pet.provenance["scan_time"]
    assert float(pet.provenance["suv_bw_factor_g_per_bq"]) == pytest.approx(
        patient["suv_bw_per_bq_ml"], rel=1e-6
    )
    for lesion in tp["lesions"]:
        labels, _ = ndimage.label(np.abs(ct.array - lesion["ct_hu"]) < 20)
        index = np.rint(ct.patient_to_index(lesion["center_lps_mm"])[0]).astype(int)
        mask = replace(ct, array=labels == labels[tuple(int(v) for v in index)])
        voi = mask_on_grid(mask, pet)
        uptake = voi_uptake(pet, voi)
        assert uptake.suv_max == pytest.approx(lesion["suv_max"], rel=0.01), lesion["lesion_id"]
        # The peak sphere may reach lesion voxels outside the VOI; per-slice quantisation of
        # their values is below 0.1 %, so the peak cannot beat the uniform lesion SUV by more.
        assert uptake.suv_peak <= lesion["suv_max"] * (1 + 1e-3)
    liver = sphere_uptake(
        pet, patient["liver_reference_center_lps_mm"], LIVER_REFERENCE_DIAMETER_MM
    )
    spleen = sphere_uptake(
        pet, patient["spleen_reference_center_lps_mm"], SPLEEN_REFERENCE_DIAMETER_MM
    )
    assert liver.suv_mean == pytest.approx(patient["liver_suv_mean"], rel=0.01)
    assert spleen.suv_mean == pytest.approx(patient["spleen_suv_mean"], rel=0.01)
    assert liver.suv_sd < 0.01 * liver.suv_mean


def test_mask_on_another_frame_of_reference_is_refused(synth: Path, truth: dict[str, Any]) -> None:
    tp = truth["patients"][0]["timepoints"][0]
    pet = load_pet_suv((synth / tp["pet_folder"]).iterdir())
    other = _volume(np.ones((2, 2, 2), dtype=bool), (1.0, 1.0, 1.0), frame_of_reference_uid="9.9")
    with pytest.raises(InputError, match="frames of reference"):
        mask_on_grid(other, pet)


def _brute_force_peak(
    values: np.ndarray, voi: np.ndarray, spacing: tuple[float, float, float]
) -> float:
    radius = (3 * PEAK_SPHERE_ML * 1000 / (4 * math.pi)) ** (1 / 3)
    grid = np.indices(values.shape).reshape(3, -1).T
    best = -math.inf
    for centre in np.argwhere(voi):
        d = np.linalg.norm((grid - centre) * spacing, axis=1)
        best = max(best, float(values.reshape(-1)[d <= radius + 1e-9].mean()))
    return best


def test_suvpeak_is_the_best_1_cm3_sphere_mean_percist_1_0() -> None:
    """PERCIST 1.0 (Wahl 2009): SUVpeak = highest mean of a 1 cm³ sphere; here checked against
    a brute-force search, with a single hot voxel that lifts SUVmax far above SUVpeak."""
    rng = np.random.default_rng(5)
    spacing = (3.0, 2.0, 2.0)
    values = rng.uniform(1.0, 3.0, size=(12, 20, 20))
    values[4:9, 6:14, 6:14] += 6.0
    values[6, 10, 10] = 40.0
    voi = np.zeros(values.shape, dtype=bool)
    voi[4:9, 6:14, 6:14] = True
    pet = _volume(values, spacing, modality="PT", units="SUVbw")
    uptake = voi_uptake(pet, voi)
    assert uptake.suv_max == 40.0
    assert uptake.max_lps_mm == pytest.approx((20.0, 20.0, 18.0))
    assert uptake.suv_mean == pytest.approx(values[voi].mean())
    assert uptake.suv_peak == pytest.approx(_brute_force_peak(values, voi, spacing))
    assert uptake.suv_peak < uptake.suv_max
    assert uptake.voxel_count == int(voi.sum())
    assert uptake.volume_ml == pytest.approx(voi.sum() * 12 / 1000)
    # At 2 × 2 × 3 mm the 6.2 mm-radius sphere holds whole voxels only: about 1 ml of them.
    assert 0.5 < uptake.peak_voxel_count * 12 / 1000 < 1.5


def test_uniform_lesion_has_equal_max_mean_and_peak() -> None:
    values = np.full((15, 15, 15), 2.0)
    voi = _ellipsoid_mask((15, 15, 15), (2.0, 2.0, 2.0), (12.0, 12.0, 12.0), 0.0)
    values[voi] = 7.5
    uptake = voi_uptake(_volume(values, (2.0, 2.0, 2.0), units="SUVbw"), voi)
    assert uptake.suv_max == uptake.suv_mean == pytest.approx(7.5)
    assert uptake.suv_peak == pytest.approx(7.5)


def test_bad_vois_and_spheres_are_refused() -> None:
    pet = _volume(np.ones((5, 10, 10)), (4.0, 4.0, 4.0), units="SUVbw")
    with pytest.raises(InputError, match="empty"):
        voi_uptake(pet, np.zeros((5, 10, 10), dtype=bool))
    with pytest.raises(InputError, match="shape"):
        voi_uptake(pet, np.ones((5, 10, 9), dtype=bool))
    with pytest.raises(InputError, match="outside the PET volume"):
        sphere_uptake(pet, (2.0, 2.0, 2.0), 30.0)
    with pytest.raises(InputError, match="positive"):
        sphere_uptake(pet, (20.0, 20.0, 8.0), 0.0)
    inside = sphere_uptake(pet, (16.0, 16.0, 8.0), 12.0)
    assert inside.suv_mean == 1.0
    assert inside.voxel_count == 7 + 12  # centre, 6 face neighbours at 4 mm, 12 edge at 5.7 mm
