"""The annotator dock widget in a real napari viewer, on CT series written with pydicom."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qtpy.QtCore import Qt

from recistry.cli import main as recistry_main
from recistry.recist.model import LesionState, Role
from recistry.tables import MEASUREMENT_COLUMNS
from recistry_napari import PLUGIN_NAME, WIDGET_NAME
from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
from recistry_napari._location_layer import LOCATIONS_LAYER_NAME
from recistry_napari._qt.annotator import PENDING, AnnotatorWidget
from recistry_napari._reader import get_reader
from recistry_napari._reading import Axis, to_measurements
from recistry_napari._response import words
from tests.gui._annotator import draw, table_cell
from tests.gui._dicom import write_ct_series

pytestmark = pytest.mark.gui

BASELINE = dt.date(2024, 1, 15)
FOLLOW_UP = dt.date(2024, 3, 11)


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """Two CT scans of one patient on different grids (0.8 × 0.7 mm, then 0.9 × 0.9 mm)."""
    root = tmp_path / "P1"
    write_ct_series(root / "20240115" / "CT", patient_id="P1", study_date=BASELINE)
    write_ct_series(
        root / "20240311" / "CT",
        patient_id="P1",
        study_date=FOLLOW_UP,
        shape=(7, 26, 26),
        row_spacing_mm=0.9,
        column_spacing_mm=0.9,
        slice_spacing_mm=2.0,
        origin_lps_mm=(-11.0, -21.0, -39.0),
    )
    return root


@pytest.fixture
def widget(make_napari_viewer: Callable[..., Any], study: Path) -> AnnotatorWidget:
    viewer = make_napari_viewer()
    annotator = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(annotator, name="RECIST annotator")
    annotator.reader_edit.setText("Dr Test")
    annotator.open_study(study)
    return annotator


def test_reader_claims_dicom_folders_only_and_opens_ct_in_mm(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("not DICOM")
    assert get_reader(str(tmp_path / "notes")) is None
    assert get_reader(str(study)) is not None
    viewer = make_napari_viewer()
    (layer,) = viewer.open(study, plugin=PLUGIN_NAME)
    assert layer.source.reader_plugin == PLUGIN_NAME
    np.testing.assert_allclose(layer.scale, (2.5, 0.8, 0.7))
    assert layer.metadata["recistry"]["scan_date"] == BASELINE.isoformat()


def test_line_length_in_mm_fills_the_table_and_response_at_once(
    widget: AnnotatorWidget, qtbot: Any
) -> None:
    t1 = widget.add_lesion(Role.TARGET, "liver")
    # 20 columns of 0.7 mm along x on slice 3: 14.0 mm.
    draw(widget, t1, (3, 5, 4), (3, 5, 24), Axis.LONG)
    assert table_cell(widget, t1, "Long (mm)") == "14.0"
    assert table_cell(widget, t1, "State") == "measured"
    assert "sum of diameters 14.0 mm" in widget.response_text.toPlainText()
    lesion = widget.reading.at(BASELINE).lesion(t1)  # type: ignore[union-attr]
    assert lesion.long_axis is not None
    # End points in LPS: x = −10.5 + 0.7 i, y = −20 + 0.8 j, z = −40 + 2.5 k.
    np.testing.assert_allclose(lesion.long_axis.start_lps, (-7.7, -16.0, -32.5))
    np.testing.assert_allclose(lesion.long_axis.end_lps, (6.3, -16.0, -32.5))
    assert lesion.sop_instance_uid == widget.images.ct.sop_instance_uids[3]  # type: ignore[union-attr]
    # Drawing mode ends after one line. A line drawn later with napari's own line tool while
    # T1 is selected becomes T1's long axis (30 columns: 21.0 mm) and replaces the first one.
    layer = widget.viewer.layers[LESIONS_LAYER_NAME]
    qtbot.waitUntil(lambda: layer.mode != "add_line")
    layer.add_lines(np.array([(3, 8, 4), (3, 8, 34)], dtype=float))
    assert table_cell(widget, t1, "Long (mm)") == "21.0"
    qtbot.waitUntil(lambda: len(layer.data) == 1)
    assert list(layer.features["label"]) == ["T1 21.0 mm"]
    # With no lesion selected, a line belongs to nobody and changes nothing.
    widget.lesions.assign(None)
    layer.add_lines(np.array([(3, 9, 4), (3, 9, 14)], dtype=float))
    assert table_cell(widget, t1, "Long (mm)") == "21.0"


def test_moving_a_vertex_updates_the_length(widget: AnnotatorWidget) -> None:
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (2, 5, 4), (2, 5, 24), Axis.LONG)
    layer = widget.viewer.layers[LESIONS_LAYER_NAME]
    data = [np.array(d) for d in layer.data]
    data[0][1] = (2, 5, 34)  # 30 columns: 21.0 mm
    layer.data = data
    assert table_cell(widget, t1, "Long (mm)") == "21.0"


def test_state_buttons_set_a_state_in_one_click_by_role_recist_4_3(
    widget: AnnotatorWidget, qtbot: Any
) -> None:
    nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
    assert not widget.state_buttons[LesionState.MERGED].isEnabled()  # a target-only state
    qtbot.mouseClick(widget.state_buttons[LesionState.PRESENT], Qt.MouseButton.LeftButton)
    assert table_cell(widget, nt1, "State") == "present"
    # At baseline a non-target is present or not evaluable: no follow-up state is offered.
    assert not widget.state_buttons[LesionState.ABSENT].isEnabled()
    assert not widget.state_buttons[LesionState.PROGRESSION].isEnabled()
    t1 = widget.add_lesion(Role.TARGET, "lung")
    # A baseline target is measured (drawn): no state button applies (RECIST 1.1 §4.2).
    assert not any(button.isEnabled() for button in widget.state_buttons.values())
    draw(widget, t1, (3, 5, 4), (3, 5, 24), Axis.LONG)
    widget.show_timepoint(FOLLOW_UP)
    widget.select_lesion(t1)
    assert widget.state_buttons[LesionState.TOO_SMALL].isEnabled()
    assert not widget.state_buttons[LesionState.PRESENT].isEnabled()
    qtbot.mouseClick(widget.state_buttons[LesionState.TOO_SMALL], Qt.MouseButton.LeftButton)
    assert table_cell(widget, t1, "State") == "too_small"
    assert table_cell(widget, t1, "Value") == "5.0 mm"
    assert table_cell(widget, t1, "Change") == "-9.0 mm (-64 %)"
    widget.set_krenning(3)
    assert table_cell(widget, t1, "Krenning") == "3"


def test_follow_up_carries_lesions_pending_with_prior_value_and_keeps_position(
    widget: AnnotatorWidget,
) -> None:
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24), Axis.LONG)
    viewer = widget.viewer
    z_before = viewer.dims.point[0]
    assert z_before == pytest.approx(-32.5)
    widget.timepoint_list.setCurrentRow(1)
    assert widget.date == FOLLOW_UP
    # The follow-up slices are 2 mm apart from −39 mm: the nearest to −32.5 is −33.0.
    assert abs(viewer.dims.point[0] - z_before) <= 1.0
    np.testing.assert_allclose(viewer.layers["CT"].scale, (2.0, 0.9, 0.9))
    assert table_cell(widget, t1, "State") == PENDING
    assert table_cell(widget, t1, "Prior") == "14.0 mm"
    assert table_cell(widget, t1, "Slice z (mm)") == "-32.5"
    assert len(viewer.layers[LESIONS_LAYER_NAME].data) == 0  # nothing drawn here yet
    # The prior scan is beside the current one, its line drawn with ID and length.
    assert viewer.canvas.grid.enabled
    assert list(viewer.layers["Prior lesions"].features["label"]) == ["T1 14.0 mm"]
    text = widget.response_text.toPlainText()
    assert f"Still to assess on {FOLLOW_UP}: T1" in text
    assert f"{FOLLOW_UP}: not scored yet" in text
    # 10 columns of 0.9 mm: 9.0 mm, −35.7 % from 14.0: PR (RECIST 1.1 §4.3.1).
    draw(widget, t1, (3, 6, 5), (3, 6, 15), Axis.LONG)
    assert table_cell(widget, t1, "Long (mm)") == "9.0"
    text = widget.response_text.toPlainText()
    assert "Time-point response: partial response (PR)" in text
    assert "Best overall response so far: partial response (PR)" in text
    # Back to baseline: its line is shown again, on its own slice.
    widget.timepoint_list.setCurrentRow(0)
    assert len(viewer.layers[LESIONS_LAYER_NAME].data) == 1


def test_live_checks_target_count_per_organ_size_and_node_axis_recist_3_1_1_and_4_2(
    widget: AnnotatorWidget,
) -> None:
    sites = ["liver", "liver", "liver", "lung", "adrenal", "kidney"]
    ids = [widget.add_lesion(Role.TARGET, site) for site in sites]
    for n, lesion_id in enumerate(ids):
        # 20 columns (14.0 mm) except the last: 12 columns of 0.7 mm = 8.4 mm, below 10 mm.
        length = 12 if n == len(ids) - 1 else 20
        draw(widget, lesion_id, (n % 6, 3 + 2 * n, 2), (n % 6, 3 + 2 * n, 2 + length), Axis.LONG)
    checks = widget.checks_label.text()
    assert "6 target lesions at baseline; at most 5" in checks
    assert "3 targets in one organ (liver" in checks
    assert "long axis 8.4 mm is below the measurable minimum" in checks
    node = widget.add_lesion(Role.TARGET, "neck", nodal=True)
    draw(widget, node, (1, 20, 2), (1, 20, 26), Axis.LONG)
    assert f"node {node} is measured on its long axis only" in widget.checks_label.text()
    # Short axis across the long one: 15 rows of 0.8 mm = 12.0 mm, below the 15 mm of a node.
    draw(widget, node, (1, 13, 14), (1, 28, 14), Axis.SHORT)
    checks = widget.checks_label.text()
    assert "long axis only" not in checks
    assert f"nodal target {node} short axis 12.0 mm is below 15.0 mm" in checks


def test_response_panel_agrees_with_recistry_rescore_on_the_same_rows(
    widget: AnnotatorWidget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24), Axis.LONG)
    t2 = widget.add_lesion(Role.TARGET, "lung")
    draw(widget, t2, (4, 12, 2), (4, 12, 26), Axis.LONG)
    nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
    widget.set_state(LesionState.PRESENT)
    widget.show_timepoint(FOLLOW_UP)
    draw(widget, t1, (2, 6, 5), (2, 6, 20), Axis.LONG)
    widget.select_lesion(t2)
    widget.set_state(LesionState.ABSENT)
    widget.select_lesion(nt1)
    widget.set_state(LesionState.PRESENT)
    widget.add_lesion(Role.NEW, "liver")
    widget.set_state(LesionState.EQUIVOCAL)

    table = tmp_path / "measurements.csv"
    columns = [*MEASUREMENT_COLUMNS, "slice_thickness_mm"]
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for m in to_measurements(widget.reading):  # type: ignore[arg-type]
            writer.writerow(
                {
                    "patient_id": m.patient_id,
                    "date": m.date.isoformat(),
                    "lesion_id": m.lesion_id,
                    "role": m.role.value,
                    "site": m.site,
                    "nodal": str(m.nodal).lower(),
                    "long_axis_mm": m.long_axis_mm or "",
                    "short_axis_mm": m.short_axis_mm or "",
                    "state": m.state.value,
                    "slice_thickness_mm": m.slice_thickness_mm or "",
                }
            )
    assert recistry_main(["rescore", str(table), "--format", "json"]) == 0
    (patient,) = json.loads(capsys.readouterr().out)["patients"]
    assessment = widget.result.assessment  # type: ignore[union-attr]
    assert assessment is not None
    (cli_tp,) = patient["timepoints"]
    (gui_tp,) = assessment.timepoints
    assert cli_tp["overall_response"] == gui_tp.overall_response.value
    assert cli_tp["target_sum_mm"] == float(gui_tp.target_sum_mm)  # type: ignore[arg-type]
    assert patient["best_overall_response"] == assessment.best_overall_response.value
    text = widget.response_text.toPlainText()
    assert f"Time-point response: {words(cli_tp['overall_response'])}" in text
    assert f"Best overall response so far: {words(patient['best_overall_response'])}" in text


def test_manifest_widget_takes_over_a_study_dropped_on_the_viewer(
    make_napari_viewer: Callable[..., Any], study: Path, qtbot: Any
) -> None:
    viewer = make_napari_viewer()
    _dock, annotator = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    assert isinstance(annotator, AnnotatorWidget)
    viewer.open(study, plugin=PLUGIN_NAME)  # what dropping the folder does
    qtbot.waitUntil(lambda: annotator.study is not None)
    assert annotator.study is not None and annotator.study.root == study
    assert annotator.timepoint_list.count() == 2
    # The reader's layers were replaced by the widget's own, with the Lesions layer on top;
    # the location and pending-marker layers are made when first needed.
    assert [layer.name for layer in viewer.layers] == ["CT", LESIONS_LAYER_NAME]
    annotator.add_lesion(Role.NON_TARGET, "bone")
    assert [layer.name for layer in viewer.layers] == [
        "CT",
        LOCATIONS_LAYER_NAME,
        LESIONS_LAYER_NAME,
    ]
    annotator.dirty = False


def test_widget_docked_after_the_reader_takes_the_study_over(
    make_napari_viewer: Callable[..., Any], study: Path, qtbot: Any
) -> None:
    viewer = make_napari_viewer()
    viewer.open(study, plugin=PLUGIN_NAME)  # napari --plugin recistry STUDY
    _dock, annotator = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    qtbot.waitUntil(lambda: annotator.study is not None)
    assert [layer.name for layer in viewer.layers] == ["CT", LESIONS_LAYER_NAME]


def test_a_folder_of_two_patients_is_refused_with_the_folder_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recistry_napari.__main__ import main as annotate_main

    write_ct_series(tmp_path / "mixed" / "a", patient_id="P1")
    write_ct_series(tmp_path / "mixed" / "b", patient_id="P2")
    assert annotate_main([str(tmp_path / "mixed")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(tmp_path / "mixed") in err and "found patients: P1, P2" in err


def test_thick_slices_raise_the_measurable_minimum_recist_3_1_1_appendix_ii(
    make_napari_viewer: Callable[..., Any], tmp_path: Path
) -> None:
    # 8 mm slices: a non-nodal target must be at least 2 × 8 = 16 mm long at baseline.
    write_ct_series(tmp_path / "P9" / "ct", patient_id="P9", slice_thickness_mm=8.0)
    viewer = make_napari_viewer()
    annotator = AnnotatorWidget(viewer)
    annotator.open_study(tmp_path / "P9")
    t1 = annotator.add_lesion(Role.TARGET, "liver")
    draw(annotator, t1, (2, 5, 4), (2, 5, 24), Axis.LONG)  # 14.0 mm
    assert "long axis 14.0 mm is below the measurable minimum 16.0 mm" in (
        annotator.checks_label.text()
    )
    draw(annotator, t1, (2, 5, 2), (2, 5, 26), Axis.LONG)  # 16.8 mm
    assert "measurable minimum" not in annotator.checks_label.text()


def test_sample_data_writes_a_synthetic_patient_and_the_widget_reads_all_its_scans(
    make_napari_viewer: Callable[..., Any], qtbot: Any
) -> None:
    viewer = make_napari_viewer()
    _dock, annotator = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    viewer.open_sample(PLUGIN_NAME, "synthetic_patient")
    qtbot.waitUntil(lambda: annotator.study is not None, timeout=10000)
    assert annotator.timepoint_list.count() == 3
    assert {"CT", "PET SUV"} <= {layer.name for layer in viewer.layers}
    # 360 mm field of view on a 128 matrix (PixelSpacing written by the synthesiser).
    np.testing.assert_allclose(viewer.layers["CT"].scale[1:], (360 / 128, 360 / 128))
