"""SSTR-PET hot spots on the synthetic truth (detection, false candidates, burden) and the organ
priors and threshold on hand-made volumes."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from recistry.cli import main
from recistry.imaging.hotspots import (
    HotSpot,
    HotSpotSearch,
    PhysiologyRegion,
    find_hotspots,
    liver_reference_from_ct,
    liver_threshold,
    not_yet_annotated,
)
from recistry.imaging.metrics import LIVER_REFERENCE_DIAMETER_MM, ReferenceUptake, sphere_uptake
from recistry.imaging.volume import Volume
from tests.imaging._synth_cases import Scan, repositioned_case


def _liver(scan: Scan, patient: dict[str, Any]) -> ReferenceUptake:
    centre = (
        scan.truth.get("liver_reference_center_lps_mm") or patient["liver_reference_center_lps_mm"]
    )
    return sphere_uptake(scan.pet, centre, LIVER_REFERENCE_DIAMETER_MM)


def _matches(spot: HotSpot, lesion: dict[str, Any], pet: Volume) -> bool:
    reach = max(lesion["semi_axes_mm"]) + max(pet.spacing_mm)
    return math.dist(spot.centroid_lps_mm, lesion["center_lps_mm"]) <= reach


def _spleen_mark(scan: Scan, patient: dict[str, Any]) -> PhysiologyRegion:
    centre = (
        scan.truth.get("spleen_reference_center_lps_mm")
        or patient["spleen_ellipsoid"]["center_lps_mm"]
    )
    return PhysiologyRegion("spleen", tuple(centre), 60.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("timepoint", [0, 1])
def test_candidates_find_every_lesion_of_10_mm_at_twice_liver_and_nothing_else(
    timepoint: int,
) -> None:
    """Issue #14 bar: >= 95 % of lesions >= 10 mm with SUV >= 2 x liver are candidates, and
    fewer than one false candidate per scan outside the marked physiology (here: none)."""
    patient, scans = repositioned_case()
    scan = scans[timepoint]
    liver = _liver(scan, patient)
    assert liver.suv_mean == pytest.approx(patient["liver_suv_mean"], rel=1e-3)
    search = find_hotspots(
        scan.pet, liver, physiology=[_spleen_mark(scan, patient)], organ_priors=False
    )
    wanted = [
        les
        for les in scan.truth["lesions"]
        if 2 * min(les["semi_axes_mm"][:2]) >= 10.0 and les["suv_max"] >= 2 * liver.suv_mean
    ]
    assert len(wanted) >= 3
    found = [les for les in wanted if any(_matches(s, les, scan.pet) for s in search.candidates)]
    assert len(found) / len(wanted) >= 0.95
    false = [
        s
        for s in search.candidates
        if not any(_matches(s, les, scan.pet) for les in scan.truth["lesions"])
    ]
    assert false == []
    assert [s.physiology for s in search.physiological] == ["spleen (marked)"]


def test_spleen_prior_sets_the_spleen_apart_without_a_mark() -> None:
    patient, scans = repositioned_case()
    scan = scans[0]
    search = find_hotspots(scan.pet, _liver(scan, patient))
    assert [s.physiology for s in search.physiological] == ["spleen (organ prior)"]
    spleen = search.physiological[0]
    a, b, c = patient["spleen_ellipsoid"]["semi_axes_mm"]
    assert spleen.volume_ml == pytest.approx(4 / 3 * math.pi * a * b * c / 1000, rel=0.1)


def test_burden_is_the_sum_over_candidates_and_matches_the_lesion_volumes() -> None:
    """SSTR-expressing tumour volume = sum of candidate volumes; total lesion uptake = sum of
    SUVmean x volume; both against the uniform ellipsoids (5 mm slices: 15 %)."""
    patient, scans = repositioned_case()
    scan = scans[0]
    liver = _liver(scan, patient)
    search = find_hotspots(scan.pet, liver)
    above = [
        les
        for les in scan.truth["lesions"]
        if les["suv_max"] >= liver_threshold(liver.suv_mean, liver.suv_sd)
    ]
    expected_ml = sum(4 / 3 * math.pi * math.prod(les["semi_axes_mm"]) / 1000 for les in above)
    expected_uptake = sum(
        les["suv_max"] * 4 / 3 * math.pi * math.prod(les["semi_axes_mm"]) / 1000 for les in above
    )
    assert len(search.candidates) == len(above)
    assert search.sstr_tumour_volume_ml == pytest.approx(
        sum(s.volume_ml for s in search.candidates)
    )
    assert search.sstr_tumour_volume_ml == pytest.approx(expected_ml, rel=0.15)
    assert search.total_lesion_uptake == pytest.approx(expected_uptake, rel=0.15)
    assert [s.suv_max for s in search.candidates] == sorted(
        (s.suv_max for s in search.candidates), reverse=True
    )


def test_threshold_is_one_and_a_half_liver_mean_plus_two_sd() -> None:
    """PERCIST 1.0 (Wahl et al. 2009): 1.5 x liver SUVmean + 2 SD."""
    assert liver_threshold(6.0, 0.5) == pytest.approx(10.0)
    array = np.zeros((10, 10, 10), dtype=np.float32)
    array[2:4, 2:4, 2:4] = 10.0  # exactly at the threshold: included
    array[6:8, 6:8, 6:8] = 9.99  # just below
    pet = _pet(array, 4.0)
    search = find_hotspots(
        pet, ReferenceUptake(6.0, 0.5, 100, (0.0, 0.0, 0.0), 30.0), organ_priors=False
    )
    assert search.threshold_suv == pytest.approx(10.0)
    assert len(search.candidates) == 1
    assert search.candidates[0].volume_ml == pytest.approx(8 * 0.064)


def _pet(
    array: np.ndarray, spacing: float, origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> Volume:
    return Volume(
        array=array,
        spacing_mm=(spacing, spacing, spacing),
        origin_mm=origin,
        direction=np.eye(3),
        frame_of_reference_uid="1.2.3",
        sop_instance_uids=(),
        series_instance_uid="1.2.3.4",
        study_instance_uid="1.2.3.5",
        modality="PT",
        units="SUVbw",
    )


def test_organ_priors_name_spleen_kidneys_bladder_and_pituitary_on_a_whole_body_pet() -> None:
    """Module docstring priors on a 4 mm whole-body PET (600 mm): trunk, a narrow head, the
    four organs, and a tumour in the right liver region that stays a candidate."""
    spacing = 4.0
    shape = (150, 100, 100)  # z, y, x: 600 x 400 x 400 mm
    origin = (-200.0, -200.0, -600.0)  # LPS of voxel [0, 0, 0]; z runs from -600 (feet) up
    k, j, i = np.indices(shape)
    x, y, z = origin[0] + i * spacing, origin[1] + j * spacing, origin[2] + k * spacing
    array = np.zeros(shape, dtype=np.float32)
    trunk = ((x / 160) ** 2 + (y / 110) ** 2 <= 1) & (z < -80)
    head = (x**2 + y**2 <= 80**2) & (z >= -80)
    array[trunk | head] = 1.0

    def blob(cx: float, cy: float, cz: float, r: tuple[float, float, float], suv: float) -> None:
        array[((x - cx) / r[0]) ** 2 + ((y - cy) / r[1]) ** 2 + ((z - cz) / r[2]) ** 2 <= 1] = suv

    blob(100, 30, -250, (30, 40, 50), 20.0)  # spleen, left (+x), ~250 ml
    blob(70, 60, -330, (25, 25, 45), 15.0)  # left kidney, posterior, ~118 ml
    blob(-70, 60, -330, (25, 25, 45), 15.0)  # right kidney
    blob(0, -20, -560, (35, 30, 25), 40.0)  # bladder, caudal midline, ~110 ml
    blob(0, 0, -20, (6, 6, 6), 10.0)  # pituitary, in the head, ~0.9 ml
    blob(-90, -20, -250, (15, 15, 15), 25.0)  # a tumour on the right
    search = find_hotspots(
        _pet(array, spacing, origin), ReferenceUptake(4.0, 0.0, 100, (0.0, 0.0, 0.0), 30.0)
    )
    names = sorted(s.physiology or "" for s in search.physiological)
    assert names == [
        "bladder (organ prior)",
        "kidney (organ prior)",
        "kidney (organ prior)",
        "pituitary (organ prior)",
        "spleen (organ prior)",
    ]
    assert len(search.candidates) == 1
    assert search.candidates[0].centroid_lps_mm == pytest.approx((-90.0, -20.0, -250.0), abs=2.0)


def test_not_yet_annotated_drops_the_candidates_near_annotated_points() -> None:
    patient, scans = repositioned_case()
    scan = scans[0]
    search: HotSpotSearch = find_hotspots(scan.pet, _liver(scan, patient))
    l1 = next(les for les in scan.truth["lesions"] if les["lesion_id"] == "L1")
    remaining = not_yet_annotated(search, [l1["center_lps_mm"]])
    assert len(remaining) == len(search.candidates) - 1
    assert not any(_matches(s, l1, scan.pet) for s in remaining)


def test_liver_reference_from_ct_lies_in_the_liver_clear_of_lesions() -> None:
    patient, scans = repositioned_case()
    scan = scans[0]
    reference = liver_reference_from_ct(scan.ct, scan.pet)
    assert reference.suv_mean == pytest.approx(patient["liver_suv_mean"], rel=1e-3)
    assert reference.suv_sd == pytest.approx(0.0, abs=1e-3)  # no lesion or edge in the sphere
    liver = patient["liver_ellipsoid"]
    offset = np.subtract(reference.center_lps_mm, liver["center_lps_mm"]) / liver["semi_axes_mm"]
    assert float(np.sum(offset**2)) < 1.0


def test_hotspots_cli_prints_candidates_and_burden_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient, scans = repositioned_case()
    scan = scans[0]
    centre = ",".join(str(v) for v in patient["liver_reference_center_lps_mm"])
    status = main(["hotspots", str(scan.pet_dir), f"--liver={centre}", "--format", "json"])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    expected = find_hotspots(scan.pet, _liver(scan, patient)).to_dict()
    for key in ("threshold_suv", "sstr_tumour_volume_ml", "total_lesion_uptake", "candidates"):
        assert printed[key] == expected[key]


def test_hotspots_cli_without_a_liver_reference_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, scans = repositioned_case()
    status = main(["hotspots", str(scans[0].pet_dir)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert "--liver" in captured.err
