"""PET onto the CT grid in one frame of reference (PS3.3 C.7.4.1), and point/line → voxel lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recistry.errors import DicomError
from recistry.imaging.ct import load_ct
from recistry.imaging.pet import load_pet_suv
from recistry.imaging.resample import resample_to, voxel_at, voxels_on_segment
from recistry.imaging.volume import Volume

from ._series_files import write_ct_series, write_pet_series

FRAME = "1.2.826.0.1.3680043.8.498.4242"


def _volume(shape, spacing, origin, direction=None, array=None, frame=FRAME, uid="1.2.3") -> Volume:  # type: ignore[no-untyped-def]
    return Volume(
        array=np.zeros(shape, np.float32) if array is None else array,
        spacing_mm=spacing,
        origin_mm=origin,
        direction=np.eye(3) if direction is None else direction,
        frame_of_reference_uid=frame,
        sop_instance_uids=(),
        series_instance_uid=uid,
        study_instance_uid="1.2",
        modality="PT",
        units="SUVbw",
    )


def _rotation_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _linear_pet() -> tuple[Volume, np.ndarray]:
    coef = np.array([0.01, -0.02, 0.03])
    pet = _volume((12, 20, 20), (4.0, 4.0, 4.0), (-40.0, -40.0, -20.0))
    k, j, i = np.indices(pet.array.shape)
    lps = pet.index_to_patient(np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1))
    values = (lps @ coef + 5.0).reshape(pet.array.shape).astype(np.float32)
    return _volume((12, 20, 20), (4.0, 4.0, 4.0), (-40.0, -40.0, -20.0), array=values), coef


@pytest.mark.parametrize("angle", [0.0, 20.0])
def test_linear_resampling_reproduces_a_linear_field_at_ct_voxel_centres(angle: float) -> None:
    """A field linear in patient mm is exact under linear interpolation: the CT-grid values must
    equal the field at each CT voxel's LPS position, whatever the CT grid's rotation."""
    pet, coef = _linear_pet()
    ct = _volume(
        (10, 30, 30), (2.5, 0.9, 0.9), (-10.0, -12.0, 0.0), direction=_rotation_z(angle), uid="ct"
    )
    moved = resample_to(pet, ct)
    assert moved.array.shape == ct.array.shape and moved.spacing_mm == ct.spacing_mm
    k, j, i = np.indices(ct.array.shape)
    lps = ct.index_to_patient(np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1))
    np.testing.assert_allclose(moved.array.ravel(), lps @ coef + 5.0, atol=1e-4)
    assert moved.provenance["resampled_to"] == "ct" and moved.units == "SUVbw"


def test_outside_the_pet_is_the_outside_value() -> None:
    pet, _ = _linear_pet()
    ct = _volume((2, 4, 4), (2.0, 2.0, 2.0), (500.0, 500.0, 500.0), uid="ct")
    assert np.all(resample_to(pet, ct, outside_value=-1.0).array == -1.0)


def test_different_frames_of_reference_are_refused() -> None:
    pet, _ = _linear_pet()
    ct = _volume((2, 4, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), frame="1.2.999", uid="ct")
    with pytest.raises(DicomError, match="not in one frame of reference"):
        resample_to(pet, ct)


def test_point_and_line_on_ct_find_their_pet_voxels(tmp_path: Path) -> None:
    """Loaded from DICOM: a CT point maps to the PET voxel that contains it, and the nearest-
    neighbour PET on the CT grid shows that voxel's SUV there."""
    study = "1.2.826.0.1.3680043.8.498.777"
    ct_stored = np.zeros((16, 40, 40), dtype=np.int16)
    ct_paths = write_ct_series(
        tmp_path / "ct",
        ct_stored,
        spacing_mm=(2.0, 1.0, 1.0),
        origin_mm=(-20.0, -20.0, -16.0),
        study_uid=study,
        frame_uid=FRAME,
    )
    pet_stored = np.arange(8 * 10 * 10, dtype=np.int16).reshape(8, 10, 10)
    pet_paths = write_pet_series(
        tmp_path / "pt",
        pet_stored,
        slopes=[1.0] * 8,
        origin_mm=(-20.0, -20.0, -16.0),
        study_uid=study,
        frame_uid=FRAME,
    )
    ct, pet = load_ct(ct_paths), load_pet_suv(pet_paths)
    moved = resample_to(pet, ct, interpolation="nearest")
    point = np.array([3.3, -7.6, 0.4])  # no CT centre on a PET voxel border
    ct_voxel = voxel_at(ct, point)
    pet_voxel = voxel_at(pet, point)
    assert ct_voxel is not None and pet_voxel is not None
    # the PET voxel whose centre is nearest the point, and which holds it
    centre = pet.index_to_patient(pet_voxel)[0]
    assert np.all(np.abs(centre - point) <= 2.0 + 1e-9)
    ct_centre = ct.index_to_patient(ct_voxel)[0]
    assert moved.array[ct_voxel] == pytest.approx(pet.array[voxel_at(pet, ct_centre)])
    # a line across the PET: consecutive, distinct voxels from start to end
    line = voxels_on_segment(pet, [-19.0, -10.0, 0.0], [17.0, -10.0, 0.0])
    assert [tuple(v) for v in line[[0, -1]]] == [
        voxel_at(pet, [-19.0, -10.0, 0.0]),
        voxel_at(pet, [17.0, -10.0, 0.0]),
    ]
    assert len(line) == 10 and np.all(np.abs(np.diff(line, axis=0)).sum(axis=1) == 1)
    assert voxel_at(pet, [1000.0, 0.0, 0.0]) is None
