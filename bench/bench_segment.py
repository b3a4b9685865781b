"""One-click measurement, CT-to-CT registration and SSTR-PET hot-spot search (issue 14 targets).

    .venv/bin/python bench/bench_segment.py [--repeats 5]

Targets: click to proposal < 300 ms on a 512 × 512 × 300 CT with PET; registration of two such
CTs < 10 s on one core; hot-spot search of a 200 × 200 × 300 PET < 1 s. SimpleITK and scipy run on
one thread. The images are made in memory (an elliptic body with liver, spleen, vertebra and
five lesions, CT noise SD 10 HU; the second CT is the first moved by a known rigid transform), so
loading DICOM is not timed. Each figure is printed with a baseline measured in the same run:

- click: SimpleITK's bare ``ConfidenceConnected`` filter on the whole CT from the same seed
  (what one would do without the search box), median over the lesions;
- registration: one full-resolution linear resampling of the CT with SimpleITK (the cost unit of
  any registration that touches every voxel once);
- hot spots: ``scipy.ndimage.label`` of the thresholded PET alone (the bare connected-component
  step of the search).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from recistry.imaging.hotspots import find_hotspots, liver_threshold
from recistry.imaging.metrics import ReferenceUptake
from recistry.imaging.register import register_ct, track_lesions
from recistry.imaging.segment import segment_lesion
from recistry.imaging.volume import Volume

CT_SHAPE = (300, 512, 512)
CT_SPACING = (1.0, 0.7, 0.7)  # 300 x 358 x 358 mm
PET_SHAPE = (300, 200, 200)
PET_SPACING = (1.0, 1.8, 1.8)  # the same 300 x 360 x 360 mm
# (centre x, y, z mm; semi-axes mm; CT HU; SUV) in a patient frame centred on the volume
LESIONS = (
    ((-60.0, -10.0, 20.0), (20.0, 14.0, 15.0), 20.0, 30.0),  # liver
    ((30.0, 55.0, -40.0), (13.0, 10.0, 10.0), 45.0, 15.0),  # node
    ((0.0, 75.0, 60.0), (7.0, 6.0, 6.0), 150.0, 6.0),  # bone
    ((-90.0, 30.0, 80.0), (8.0, 8.0, 8.0), 20.0, 25.0),  # small liver
    ((60.0, -40.0, -100.0), (15.0, 12.0, 12.0), 45.0, 12.0),  # peritoneal
)
LIVER_SUV = 6.0


def _inside(x: Any, y: Any, z: Any, centre: Any, semi: Any) -> Any:
    return (
        ((x - centre[0]) / semi[0]) ** 2
        + ((y - centre[1]) / semi[1]) ** 2
        + ((z - centre[2]) / semi[2]) ** 2
    ) <= 1.0


def _render(shape: tuple[int, int, int], spacing: tuple[float, float, float], pet: bool) -> Any:
    rng = np.random.default_rng(1)
    out = np.empty(shape, dtype=np.float32)
    ys = (np.arange(shape[1]) - (shape[1] - 1) / 2) * spacing[1]
    xs = (np.arange(shape[2]) - (shape[2] - 1) / 2) * spacing[2]
    y, x = ys[:, None], xs[None, :]
    for k in range(shape[0]):
        z = (k - (shape[0] - 1) / 2) * spacing[0]
        body = (x / 165) ** 2 + (y / 115) ** 2 <= 1
        plane = np.where(body, 0.8 if pet else -90.0, 0.0 if pet else -1000.0)
        liver = _inside(x, y, z, (-70.0, -10.0, 30.0), (70.0, 60.0, 120.0))
        spleen = _inside(x, y, z, (105.0, 40.0, 30.0), (28.0, 40.0, 50.0))
        vertebra = (x / 18) ** 2 + ((y - 75) / 18) ** 2 <= 1
        plane[liver] = LIVER_SUV if pet else 60.0
        plane[spleen] = 20.0 if pet else 50.0
        plane[vertebra] = 1.2 if pet else 400.0
        for centre, semi, hu, suv in LESIONS:
            plane[_inside(x, y, z, centre, semi)] = suv if pet else hu
        if not pet:
            plane = plane + rng.normal(0.0, 10.0, plane.shape)
        out[k] = plane
    return out


def _volume(array: Any, spacing: tuple[float, float, float], modality: str) -> Volume:
    shape = array.shape
    origin = tuple(-(n - 1) / 2 * s for n, s in zip(shape[::-1], spacing[::-1], strict=True))
    return Volume(
        array=array,
        spacing_mm=spacing,
        origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        direction=np.eye(3),
        frame_of_reference_uid="1.2.3",
        sop_instance_uids=(),
        series_instance_uid=f"1.2.3.{modality}",
        study_instance_uid="1.2.3.9",
        modality=modality,
        units="HU" if modality == "CT" else "SUVbw",
    )


CPU_SECONDS: dict[str, float] = {}


def _median(run: Callable[[], object], repeats: int, label: str = "") -> float:
    """Median wall time (s); the median CPU time of the process goes to CPU_SECONDS[label]."""
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if label:
        CPU_SECONDS[label] = statistics.median(cpu)
    return statistics.median(times)


def _sitk_image(volume: Volume) -> Any:
    image = sitk.GetImageFromArray(volume.array)
    image.SetSpacing(volume.spacing_mm[::-1])
    image.SetOrigin(volume.origin_mm)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    print(f"rendering CT {CT_SHAPE} at {CT_SPACING} mm and PET {PET_SHAPE} at {PET_SPACING} mm ...")
    ct = _volume(_render(CT_SHAPE, CT_SPACING, pet=False), CT_SPACING, "CT")
    pet = _volume(_render(PET_SHAPE, PET_SPACING, pet=True), PET_SPACING, "PT")

    # 1. Click to proposal.
    ours, bare = [], []
    image = _sitk_image(ct)
    for centre, semi, _, _ in LESIONS:
        m = segment_lesion(ct, centre, pet=pet)
        assert abs(m.long_axis_mm - 2 * semi[0]) < 3.0, (centre, m.long_axis_mm)
        ours.append(_median(lambda c=centre: segment_lesion(ct, c, pet=pet), args.repeats, "c"))
        CPU_SECONDS.setdefault("click", 0.0)
        CPU_SECONDS["click"] = max(CPU_SECONDS["click"], CPU_SECONDS["c"])
        seed = image.TransformPhysicalPointToIndex(centre)
        bare.append(
            _median(
                lambda s=seed: sitk.ConfidenceConnected(
                    image, seedList=[s], numberOfIterations=2, multiplier=3.0,
                    initialNeighborhoodRadius=1, replaceValue=1,
                ),
                max(1, args.repeats // 2),
            )
        )  # fmt: skip
    click, baseline = statistics.median(ours), statistics.median(bare)
    print(
        f"click to proposal (segment + axes + SUV, median of {len(LESIONS)} lesions): "
        f"{click * 1000:.0f} ms wall (CPU, slowest lesion: {CPU_SECONDS['click'] * 1000:.0f} ms)"
        f"  [target < 300 ms: {'met' if click < 0.3 else 'NOT met'}]; "
        f"bare SimpleITK ConfidenceConnected on the whole CT: {baseline * 1000:.0f} ms; "
        f"ratio {click / baseline:.2f}"
    )

    # 2. Registration of two CTs (the second moved by a known rigid transform).
    truth = sitk.Euler3DTransform((0.0, 0.0, 0.0), math.radians(1.0), math.radians(-1.5),
                                  math.radians(4.0), (8.0, -6.0, 5.0))  # fmt: skip
    start = time.perf_counter()
    moved = sitk.Resample(image, image, truth, sitk.sitkLinear, -1000.0, sitk.sitkFloat32)
    resample_s = time.perf_counter() - start
    current = _volume(sitk.GetArrayFromImage(moved), CT_SPACING, "CT")
    # Resample pulls fixed-grid points through `truth` into the original: a point p of the
    # original lies at truth^-1(p) on the moved CT.
    inverse = truth.GetInverse()
    start, start_cpu = time.perf_counter(), time.process_time()
    registration = register_ct(ct, current)
    register_s = time.perf_counter() - start
    register_cpu = time.process_time() - start_cpu
    points = [centre for centre, _, _, _ in LESIONS]
    start = time.perf_counter()
    tracked = track_lesions(registration, ct, current, points)
    track_s = time.perf_counter() - start
    cpu_s = time.process_time() - start_cpu
    errors = [
        math.dist(t.mapped_lps_mm, inverse.TransformPoint(p))
        for t, p in zip(tracked, points, strict=True)
    ]
    total = register_s + track_s
    print(
        f"registration of two CTs on one core: {register_s:.2f} s global + {track_s:.2f} s "
        f"local refinement and re-segmentation of {len(points)} lesions = {total:.2f} s wall "
        f"({register_cpu:.2f} + {cpu_s - register_cpu:.2f} = {cpu_s:.2f} s CPU)  "
        f"[target < 10 s: {'met' if total < 10 else 'NOT met'}]; mapped-point error max "
        f"{max(errors):.2f} mm; one full-resolution SimpleITK resample of the CT: "
        f"{resample_s:.2f} s; ratio {total / resample_s:.1f}"
    )

    # 3. Hot-spot search.
    liver = ReferenceUptake(LIVER_SUV, 0.0, 100, (0.0, 0.0, 0.0), 30.0)
    search = find_hotspots(pet, liver)
    hot = _median(lambda: find_hotspots(pet, liver), args.repeats, "hot")
    threshold = liver_threshold(LIVER_SUV, 0.0)
    bare_label = _median(
        lambda: ndimage.label(pet.array >= threshold, structure=np.ones((3, 3, 3))), args.repeats
    )
    print(
        f"hot-spot search of a {PET_SHAPE} PET: {hot * 1000:.0f} ms wall "
        f"({CPU_SECONDS['hot'] * 1000:.0f} ms CPU) "
        f"({len(search.candidates)} candidates, {len(search.physiological)} physiological)  "
        f"[target < 1 s: {'met' if hot < 1 else 'NOT met'}]; bare scipy.ndimage.label of the "
        f"thresholded PET: {bare_label * 1000:.0f} ms; ratio {hot / bare_label:.2f}"
    )


if __name__ == "__main__":
    main()
