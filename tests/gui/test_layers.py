"""CT and PET layers sit in patient millimetres: napari world = LPS (z, y, x)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from recistry.imaging.ct import load_ct
from recistry.imaging.volume import Volume
from recistry_napari._geometry import layer_transform, lps_to_world
from recistry_napari._layers import WINDOWS, ct_layer_data
from tests.gui._dicom import write_ct_series

pytestmark = pytest.mark.gui


def _patient_position(ds: pydicom.Dataset, row: int, column: int) -> np.ndarray:
    """LPS mm of pixel (row, column) by DICOM PS3.3 C.7.6.2.1.1, straight from the header."""
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return ipp + iop[:3] * column_spacing * column + iop[3:] * row_spacing * row


def test_ct_layer_scale_and_positions_match_dicom_pixel_spacing_ps3_3_c7_6_2_1_1(
    tmp_path: Path, make_napari_viewer: Callable[..., Any]
) -> None:
    paths = write_ct_series(tmp_path / "CT", row_spacing_mm=0.8, column_spacing_mm=0.7)
    data, kwargs, kind = ct_layer_data(load_ct(paths))
    viewer = make_napari_viewer()
    layer = viewer.add_image(data, **kwargs)
    assert kind == "image"
    # PixelSpacing is (row, column) = (Δy, Δx): rows 0.8 mm, columns 0.7 mm.
    np.testing.assert_allclose(layer.scale, (2.5, 0.8, 0.7))
    assert layer.contrast_limits == list(WINDOWS["soft tissue"].contrast_limits)
    headers = sorted(
        (pydicom.dcmread(p, stop_before_pixels=True) for p in paths),
        key=lambda ds: float(ds.ImagePositionPatient[2]),
    )
    rows, columns = headers[0].Rows, headers[0].Columns
    for k, ds in ((0, headers[0]), (len(headers) - 1, headers[-1])):
        for j, i in ((0, 0), (rows - 1, 0), (0, columns - 1), (rows - 1, columns - 1)):
            expected = lps_to_world(_patient_position(ds, j, i))
            np.testing.assert_allclose(layer.data_to_world((k, j, i)), expected, atol=1e-6)


def test_volume_direction_becomes_the_layer_rotation(
    make_napari_viewer: Callable[..., Any],
) -> None:
    # Columns run posterior-to-anterior and rows right-to-left: a coronal-like orientation.
    direction = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    volume = Volume(
        array=np.zeros((3, 4, 5), dtype=np.float32),
        spacing_mm=(3.0, 0.9, 0.6),
        origin_mm=(10.0, -5.0, 2.0),
        direction=direction,
        frame_of_reference_uid="1.2.3",
        sop_instance_uids=("1.2.3.1", "1.2.3.2", "1.2.3.3"),
        series_instance_uid="1.2.4",
        study_instance_uid="1.2.5",
        modality="CT",
        units="HU",
    )
    viewer = make_napari_viewer()
    layer = viewer.add_image(volume.array, **layer_transform(volume))
    for kji in ((0, 0, 0), (2, 3, 4), (1, 0, 4), (2, 3, 0)):
        expected = lps_to_world(volume.index_to_patient(kji)[0])
        np.testing.assert_allclose(layer.data_to_world(kji), expected, atol=1e-9)
