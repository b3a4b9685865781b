"""A whole reading of the sample patient (sample_dicom/demo_patient) in the annotator.

The sample is synthetic CT + Ga-68 DOTATATE PET with analytic ground truth (lesion axes, SUVs,
Krenning grades, scripted responses): lines are drawn programmatically between the truth end
points (``AnnotatorWidget.draw`` snaps them to pixel centres, as a reader's clicks are) and
compared with the truth.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from recistry.cli import main as recistry_main
from recistry.recist.model import LesionState, Role
from recistry_napari._geometry import lps_to_world
from recistry_napari._qt.annotator import AnnotatorWidget
from recistry_napari._reading import Axis
from recistry_napari._reference_layer import REFERENCES_LAYER_NAME
from recistry_napari._response import words

pytestmark = pytest.mark.gui

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient"
PATIENT = SAMPLE / "SYN1-001"


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    (patient,) = json.loads((SAMPLE / "ground_truth.json").read_text())["patients"]
    return dict(patient)


@pytest.fixture
def widget(make_napari_viewer: Callable[..., Any]) -> AnnotatorWidget:
    viewer = make_napari_viewer()
    annotator = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(annotator, name="RECIST annotator")
    annotator.open_study(PATIENT)
    return annotator


def _first_file(folder: Path) -> pydicom.Dataset:
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in folder.iterdir()]
    return min(headers, key=lambda ds: float(ds.ImagePositionPatient[2]))


def _place(widget: AnnotatorWidget, organ: str, centre_lps: list[float]) -> None:
    widget.place_reference(organ)  # the layer is made when first needed
    layer = widget.viewer.layers[REFERENCES_LAYER_NAME]
    assert layer.mode == "add"
    layer.add(np.rint(layer.world_to_data(lps_to_world(centre_lps))))


def test_ct_and_pet_open_aligned_in_patient_mm_from_their_own_dicom_geometry(
    widget: AnnotatorWidget, truth: dict[str, Any]
) -> None:
    baseline = truth["timepoints"][0]
    viewer = widget.viewer
    for name, folder in (("CT", baseline["ct_folder"]), ("PET SUV", baseline["pet_folder"])):
        layer = viewer.layers[name]
        ds = _first_file(SAMPLE / folder)
        row, column = (float(v) for v in ds.PixelSpacing)
        np.testing.assert_allclose(layer.scale[1:], (row, column))
        np.testing.assert_allclose(layer.translate, lps_to_world(ds.ImagePositionPatient))
        assert [str(u) for u in layer.units] == ["millimeter"] * 3
    pet = viewer.layers["PET SUV"]
    assert (pet.colormap.name, pet.blending) == ("hot", "additive")
    # Ga-68 DOTATATE: 0-30 SUV until the references are placed, then spleen at 80 % of the
    # scale (Krenning 4 = above spleen saturates).
    assert tuple(pet.contrast_limits) == (0.0, 30.0)
    widget.suv_max_spin.setValue(20.0)
    assert tuple(pet.contrast_limits) == (0.0, 20.0)
    assert pet.colorbar.visible
    widget.set_window("lung")
    assert tuple(viewer.layers["CT"].contrast_limits) == (-1350.0, 150.0)


def test_lengths_suv_and_suggested_krenning_match_the_ground_truth(
    widget: AnnotatorWidget, truth: dict[str, Any]
) -> None:
    ct = widget.viewer.layers["CT"]
    pixel_diagonal = math.hypot(*ct.scale[1:])
    date = dt.date.fromisoformat(truth["timepoints"][0]["date"])
    # Normal liver: 45 mm to the right of the liver centre, clear of lesion L1 (radius 20 mm).
    liver = np.add(truth["liver_ellipsoid"]["center_lps_mm"], (-45.0, -10.0, -10.0))
    _place(widget, "liver", list(liver))
    _place(widget, "spleen", truth["spleen_ellipsoid"]["center_lps_mm"])
    tp = widget.reading.at(date)  # type: ignore[union-attr]
    assert tp.liver_suv_mean == pytest.approx(truth["liver_suv_mean"], rel=0.01)
    assert tp.spleen_suv_mean == pytest.approx(truth["spleen_suv_mean"], rel=0.01)
    for lesion in truth["timepoints"][0]["lesions"]:
        if lesion["role"] != "target":
            continue
        lesion_id = widget.add_lesion(Role.TARGET, lesion["site"], lesion["nodal"])
        widget.draw(lesion_id, Axis.LONG, *lesion["long_axis_endpoints_lps_mm"])
        if lesion["nodal"]:
            widget.draw(lesion_id, Axis.SHORT, *lesion["short_axis_endpoints_lps_mm"])
        widget.finish_background_work()  # the PET uptake is measured off the GUI thread
        drawn = widget.reading.at(date).lesion(lesion_id)  # type: ignore[union-attr]
        assert drawn.long_axis is not None
        assert abs(drawn.long_axis.length_mm - float(lesion["long_axis_mm"])) <= pixel_diagonal
        if lesion["nodal"]:
            assert drawn.short_axis is not None
            short = float(lesion["short_axis_mm"])
            assert abs(drawn.short_axis.length_mm - short) <= pixel_diagonal
        assert drawn.suv_max == pytest.approx(lesion["suv_max"], rel=0.02)
        assert drawn.suv_peak is not None and drawn.suv_peak <= drawn.suv_max
        widget.select_lesion(lesion_id)
        assert f"suggested {lesion['krenning']}" in widget.krenning_hint.text()
        # The reader decides: the grade recorded is the reader's.
        widget.set_krenning(lesion["krenning"])
        assert widget.reading.at(date).lesion(lesion_id).krenning == lesion["krenning"]  # type: ignore[union-attr]


def test_a_whole_reading_scores_like_recistry_rescore_of_the_truth_table(
    widget: AnnotatorWidget, truth: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ids: dict[str, str] = {}
    for n, tp in enumerate(truth["timepoints"]):
        date = dt.date.fromisoformat(tp["date"])
        widget.show_timepoint(date)
        for lesion in tp["lesions"]:
            role = Role(lesion["role"])
            if lesion["lesion_id"] not in ids:
                ids[lesion["lesion_id"]] = widget.add_lesion(role, lesion["site"], lesion["nodal"])
            lesion_id = ids[lesion["lesion_id"]]
            if role is Role.TARGET:
                widget.draw(lesion_id, Axis.LONG, *lesion["long_axis_endpoints_lps_mm"])
                if lesion["nodal"]:
                    ends = lesion["short_axis_endpoints_lps_mm"]
                    widget.draw(lesion_id, Axis.SHORT, *ends)
            else:
                widget.select_lesion(lesion_id)
                widget.set_state(LesionState.PRESENT)
        assert widget.date == date and n == widget.timepoint_list.currentRow()

    assert recistry_main(["rescore", str(PATIENT / "measurements.csv"), "--format", "json"]) == 0
    (expected,) = json.loads(capsys.readouterr().out)["patients"]
    assessment = widget.result.assessment  # type: ignore[union-attr]
    assert assessment is not None
    assert [tp.overall_response.value for tp in assessment.timepoints] == [
        tp["overall_response"] for tp in expected["timepoints"]
    ]
    assert [tp["scripted_response"] for tp in truth["timepoints"][1:]] == [
        tp.overall_response.value for tp in assessment.timepoints
    ]
    assert assessment.best_overall_response.value == expected["best_overall_response"]
    assert "Best overall response so far: " + words(expected["best_overall_response"]) in (
        widget.response_text.toPlainText()
    )


def test_reference_spheres_and_uptake_are_restored_from_the_store(
    make_napari_viewer: Callable[..., Any], truth: dict[str, Any], tmp_path: Path
) -> None:
    store = tmp_path / "recistry.db"
    first = AnnotatorWidget(make_napari_viewer())
    first.reader_edit.setText("Dr Krenning")
    first.store_edit.setText(str(store))
    first.open_study(PATIENT)
    _place(first, "liver", list(np.add(truth["liver_ellipsoid"]["center_lps_mm"], (-45, -10, -10))))
    _place(first, "spleen", truth["spleen_ellipsoid"]["center_lps_mm"])
    lesion = truth["timepoints"][0]["lesions"][0]
    lesion_id = first.add_lesion(Role.TARGET, lesion["site"], lesion["nodal"])
    first.draw(lesion_id, Axis.LONG, *lesion["long_axis_endpoints_lps_mm"])
    first.set_krenning(4)
    first.save()
    assert first.reading is not None

    second = AnnotatorWidget(make_napari_viewer())
    second.reader_edit.setText("Dr Krenning")
    second.store_edit.setText(str(store))
    second.open_study(PATIENT)
    assert second.reading is not None
    date = first.reading.baseline_date
    assert second.reading.at(date).lesions == first.reading.at(date).lesions
    for field in ("liver_center_lps", "liver_suv_mean", "spleen_center_lps", "spleen_suv_mean"):
        assert getattr(second.reading.at(date), field) == getattr(first.reading.at(date), field)
    second.show_timepoint(date)
    assert len(second.viewer.layers[REFERENCES_LAYER_NAME].data) == 2
