"""Follow-up reading as a radiologist does it: every lesion located, the prior beside the
current scan, undo, keys, deletion as a new revision, and nothing pending saved silently."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from recistry.cli import main as recistry_main
from recistry.recist.model import LesionState, Role
from recistry.store import Store, in_force_measurements
from recistry_napari._display import FOCUS_FIELD_MM, FOCUS_LEFT_OF_CENTRE
from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
from recistry_napari._location_layer import LOCATIONS_LAYER_NAME
from recistry_napari._persist import sr_folder_for
from recistry_napari._prior_layers import BASELINE as BASELINE_CELL
from recistry_napari._prior_layers import PENDING_NAME, prior_layer_names
from recistry_napari._qt.annotator import AnnotatorWidget
from tests.gui._annotator import (
    BASELINE,
    FOLLOW_UP,
    draw,
    open_annotator,
    table_cell,
    two_scan_study,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return two_scan_study(tmp_path / "P3", "P3")


_open = partial(open_annotator, reader="Dr Follow")


def _click_point(widget: AnnotatorWidget, data_point: Any) -> None:
    """A click in the Points layer's add mode, as napari's own mouse binding adds it."""
    layer = widget.viewer.layers[LOCATIONS_LAYER_NAME]
    assert layer.mode == "add", "the widget should have armed the location tool"
    widget.viewer.dims.set_point(0, layer.data_to_world(data_point)[0])
    layer.add(np.array(data_point, dtype=float))


def _key(
    widget: AnnotatorWidget, key: Qt.Key, modifier: Any = Qt.KeyboardModifier.NoModifier
) -> None:
    """Press a key on the canvas, where the reader's eyes (and focus) are."""
    from pytestqt.qtbot import QtBot

    canvas = widget.viewer.window._qt_viewer.canvas.native
    QtBot.keyClick(canvas, key, modifier)
    QApplication.processEvents()


def test_non_target_and_new_lesions_are_located_saved_restored_with_their_slice(
    make_napari_viewer: Callable[..., Any],
    study: Path,
    tmp_path: Path,
    qtbot: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "recistry.db"
    widget = _open(make_napari_viewer(), study, store)
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24))
    # Adding a non-target arms the location tool: the reader clicks where it is (slice 1).
    nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
    _click_point(widget, (1, 12, 10))
    lesion = widget.reading.at(BASELINE).lesion(nt1)  # type: ignore[union-attr]
    # LPS: x = −10.5 + 0.7 × 10, y = −20 + 0.8 × 12, z = −40 + 2.5 × 1.
    np.testing.assert_allclose(lesion.location_lps, (-3.5, -10.4, -37.5))  # type: ignore[arg-type]
    assert lesion.state is LesionState.PRESENT
    assert lesion.sop_instance_uid == widget.images.ct.sop_instance_uids[1]  # type: ignore[union-attr]
    # At the follow-up: NT1 is pending, with a marker where it was; the prior is beside it.
    widget.show_timepoint(FOLLOW_UP)
    assert widget.viewer.canvas.grid.enabled
    markers = widget.viewer.layers[PENDING_NAME]
    assert list(markers.features["lesion_id"]) == [t1, nt1]
    # Each label starts right of its ring (anchored by its left edge), not on it: at the ring's
    # centre the ring hid the label.
    assert str(markers.text.anchor) == "upper_left"
    assert markers.text.translation[-1] >= markers.size[0] / 2
    prior = widget.viewer.layers["Prior lesions"]
    assert sorted(prior.features["label"]) == ["NT1 present", "T1 14.0 mm"]
    # Selecting the pending NT1 shows where it was, on its slice, zoomed in: centred from top to
    # bottom, a little left of centre (its label runs to the right).
    widget.select_lesion(nt1)
    assert widget.viewer.dims.point[0] == pytest.approx(-37.0, abs=1.0)
    right = FOCUS_LEFT_OF_CENTRE * FOCUS_FIELD_MM
    np.testing.assert_allclose(
        widget.viewer.scene.camera.center[1:], (-10.4, -3.5 + right), atol=1e-6
    )
    widget.set_state(LesionState.PRESENT)
    _click_point(widget, (2, 12, 11))
    new = widget.add_lesion(Role.NEW, "liver")
    assert new == "NEW1"
    _click_point(widget, (4, 20, 20))
    draw(widget, t1, (2, 5, 4), (2, 5, 20))
    result = widget.save()
    # The exported SR carries each location as an SCOORD3D point and reads back to it.
    from recistry.sr.reader import read_sr

    from_sr = {(m.lesion_id, m.date): m for path in result.sr_files for m in read_sr(path)}
    np.testing.assert_allclose(
        [float(v) for v in from_sr[(nt1, BASELINE)].extra["location_mm"].split()],
        (-3.5, -10.4, -37.5),
    )
    assert from_sr[("NEW1", FOLLOW_UP)].extra["location_mm"]

    reopened = _open(make_napari_viewer(), study, store)
    assert reopened.reading is not None and widget.reading is not None
    for date in (BASELINE, FOLLOW_UP):
        assert reopened.reading.at(date).lesions == widget.reading.at(date).lesions
    with Store(store, create=False) as opened:
        rows = {(m.lesion_id, m.date): m for m in in_force_measurements(opened, "Dr Follow")}
    np.testing.assert_allclose(
        [float(v) for v in rows[(nt1, BASELINE)].extra["location_mm"].split()], (-3.5, -10.4, -37.5)
    )
    assert (
        rows[("NEW1", FOLLOW_UP)].extra["sop_instance_uid"]
        == (reopened._images(FOLLOW_UP).ct.sop_instance_uids[4])
    )
    assert rows[("NEW1", FOLLOW_UP)].extra["frame_of_reference_uid"]
    # The audit points at the located slice and shows the point.
    capsys.readouterr()
    assert recistry_main(["audit", "P3", "--store", str(store), "--reader", "Dr Follow"]) == 0
    audit = capsys.readouterr().out
    assert "located at LPS mm: -3.5 -10.399999999999999 -37.5" in audit
    assert f"image {rows[(nt1, BASELINE)].extra['sop_instance_uid']}" in audit


def test_undo_redo_keys_and_keyboard_reading(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path, qtbot: Any
) -> None:
    widget = _open(make_napari_viewer(show=True), study, tmp_path / "recistry.db")
    try:
        t1 = widget.add_lesion(Role.TARGET, "liver")
        draw(widget, t1, (3, 5, 4), (3, 5, 24))
        t2 = widget.add_lesion(Role.TARGET, "lung")
        draw(widget, t2, (4, 12, 2), (4, 12, 26))
        assert "sum of diameters 30.8 mm" in widget.response_text.toPlainText()
        _key(widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo T2's line
        assert table_cell(widget, t2, "State") == "pending"
        assert "sum of diameters 30.8 mm" not in widget.response_text.toPlainText()
        qtbot.waitUntil(lambda: len(widget.viewer.layers[LESIONS_LAYER_NAME].data) == 1)
        shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        _key(widget, Qt.Key.Key_Z, shift_ctrl)  # redo
        assert table_cell(widget, t2, "Long (mm)") == "16.8"
        qtbot.waitUntil(lambda: len(widget.viewer.layers[LESIONS_LAYER_NAME].data) == 2)
        # Next time point, then next pending lesion, then a state key.
        nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
        _click_point(widget, (1, 12, 10))
        _key(widget, Qt.Key.Key_PageDown)
        assert widget.date == FOLLOW_UP
        _key(widget, Qt.Key.Key_N)
        assert widget._selected == t1
        _key(widget, Qt.Key.Key_N)
        assert widget._selected == t2
        _key(widget, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)  # absent
        assert table_cell(widget, t2, "State") == "absent"
        _key(widget, Qt.Key.Key_N)
        assert widget._selected == nt1  # the next pending one
        _key(widget, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # previous: T1 (T2 done)
        assert widget._selected == t1
        _key(widget, Qt.Key.Key_M)  # measure long axis: the line tool is armed for T1
        assert widget.viewer.layers[LESIONS_LAYER_NAME].mode == "add_line"
        _key(widget, Qt.Key.Key_PageUp)
        assert widget.date == BASELINE
        assert "Alt+A" in widget.help_label.text()
    finally:
        widget.dirty = False


def test_deleting_a_saved_lesion_withdraws_it_by_a_new_revision(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path
) -> None:
    store = tmp_path / "recistry.db"
    widget = _open(make_napari_viewer(), study, store)
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24))
    t2 = widget.add_lesion(Role.TARGET, "lung")
    draw(widget, t2, (4, 12, 2), (4, 12, 26))
    widget.save()
    widget.delete_lesion(t2)
    assert [les.lesion_id for les in widget.reading.at(BASELINE).lesions] == [t1]  # type: ignore[union-attr]
    result = widget.save()
    assert (result.withdrawn, result.new_revisions) == (1, 1)
    with sqlite3.connect(store) as conn:
        revisions = conn.execute(
            "SELECT m.revision, m.extra_json FROM measurements m JOIN lesions l USING (lesion_pk) "
            "WHERE l.lesion_id = ? ORDER BY m.revision",
            (t2,),
        ).fetchall()
    assert [r for r, _ in revisions] == [1, 2]  # nothing updated: revision 2 withdraws it
    assert '"withdrawn": "true"' in revisions[1][1]
    reopened = _open(make_napari_viewer(), study, store)
    assert [les.lesion_id for les in reopened.reading.at(BASELINE).lesions] == [t1]  # type: ignore[union-attr]
    # Re-role at baseline: T1 becomes a non-target NT1, present, its line kept.
    reopened.show_timepoint(BASELINE)
    assert reopened.change_role(t1, Role.NON_TARGET) == "NT1"
    assert table_cell(reopened, "NT1", "State") == "present"
    reopened.rename_lesion("NT1", "NT7")
    assert table_cell(reopened, "NT7", "Site") == "liver"
    reopened.dirty = False


def test_saving_with_pending_lesions_asks_first_and_the_title_marks_unsaved_changes(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path, qtbot: Any
) -> None:
    store = tmp_path / "recistry.db"
    viewer = make_napari_viewer(show=True)
    widget = _open(viewer, study, store)
    try:
        t1 = widget.add_lesion(Role.TARGET, "liver")
        draw(widget, t1, (3, 5, 4), (3, 5, 24))
        assert viewer.title.endswith("unsaved changes *")
        widget.show_timepoint(FOLLOW_UP)
        t_new = widget.add_lesion(Role.NEW, "liver")
        _click_point(widget, (2, 10, 10))
        # T1 is still pending on the follow-up: saving asks; No saves nothing.
        seen: list[str] = []

        def answer(button: QMessageBox.StandardButton) -> None:
            boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
            visible = [b for b in boxes if b.isVisible()]
            if not visible:
                QTimer.singleShot(20, lambda: answer(button))
                return
            seen.append(visible[0].text())
            visible[0].button(button).click()

        QTimer.singleShot(20, lambda: answer(QMessageBox.StandardButton.No))
        widget._save_clicked()
        assert seen and f"{FOLLOW_UP}: {t1}" in seen[0]
        assert widget.dirty and not store.exists()
        QTimer.singleShot(20, lambda: answer(QMessageBox.StandardButton.Yes))
        widget._save_clicked()
        assert not widget.dirty and store.exists()
        assert viewer.title.endswith("saved")
        # The SR files are exported off the GUI thread; the status line says when they are.
        qtbot.waitUntil(lambda: "SR file(s) in" in widget.status_label.text(), timeout=20000)
        assert len(list(sr_folder_for(store).rglob("*.dcm"))) == 2
        assert t_new == "NEW1"
    finally:
        widget.dirty = False


def test_reader_field_switches_readings(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path
) -> None:
    store = tmp_path / "recistry.db"
    first = _open(make_napari_viewer(), study, store, reader="Dr A")
    t1 = first.add_lesion(Role.TARGET, "liver")
    draw(first, t1, (3, 5, 4), (3, 5, 24))
    first.save()
    other = _open(make_napari_viewer(), study, store, reader="Dr B")
    assert other.reading is not None and other.reading.at(BASELINE).lesions == ()
    other.reader_edit.setText("Dr A")
    other.reader_edit.editingFinished.emit()
    assert other.reading.reader == "Dr A"
    assert [les.lesion_id for les in other.reading.at(BASELINE).lesions] == [t1]
    assert "reading restored" in other.status_label.text()


def test_spleen_sphere_is_drawn_at_its_20_mm(make_napari_viewer: Callable[..., Any]) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient" / "SYN1-001"
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    widget.open_study(sample)
    for organ in ("liver", "spleen"):
        widget.place_reference(organ)
        layer = viewer.layers["Reference regions"]  # made by the first placement
        layer.add(np.array([15, 128, 128 + (40 if organ == "spleen" else -40)], dtype=float))
    QApplication.processEvents()
    spacing = float(np.mean(layer.scale[1:]))
    np.testing.assert_allclose(np.asarray(layer.size) * spacing, [30.0, 20.0])
    widget.dirty = False


def test_a_mouse_click_on_the_canvas_locates_the_lesion(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path, qtbot: Any
) -> None:
    from qtpy.QtCore import QPoint

    viewer = make_napari_viewer(show=True)
    widget = _open(viewer, study, tmp_path / "recistry.db")
    try:
        nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
        layer = viewer.layers[LOCATIONS_LAYER_NAME]
        assert layer.mode == "add"
        canvas = viewer.window._qt_viewer.canvas
        target_world = np.array(layer.data_to_world((2, 12, 10)))
        viewer.dims.set_point(0, float(target_world[0]))
        QApplication.processEvents()
        # World (y, x) mm → canvas pixels: the 2-D camera maps its centre to the canvas centre
        # at ``zoom`` pixels per mm.
        centre, zoom = np.array(viewer.scene.camera.center[1:]), viewer.scene.camera.zoom
        width, height = canvas.native.width(), canvas.native.height()
        y, x = (target_world[1:] - centre) * zoom + (height / 2, width / 2)
        qtbot.mouseClick(canvas.native, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
        qtbot.waitUntil(lambda: widget.reading.at(BASELINE).lesion(nt1).location_lps is not None)  # type: ignore[union-attr]
        located = widget.reading.at(BASELINE).lesion(nt1).location_lps  # type: ignore[union-attr]
        # Within a pixel of the clicked point (0.8 × 0.7 mm pixels), on its slice.
        np.testing.assert_allclose(located, (-3.5, -10.4, -35.0), atol=1.0)  # type: ignore[arg-type]
    finally:
        widget.dirty = False


def test_a_click_on_the_coronal_mip_jumps_the_views_to_the_hot_spot(
    make_napari_viewer: Callable[..., Any], qtbot: Any
) -> None:
    from qtpy.QtCore import QPoint

    sample = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient" / "SYN1-001"
    viewer = make_napari_viewer(show=True)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    widget.open_study(sample)
    panel = widget._mip
    assert panel is not None and panel.mip is not None
    row, column = np.unravel_index(np.argmax(panel.mip.image), panel.mip.image.shape)
    expected = panel.mip.hot_spot_lps(int(row), int(column))
    rows, columns = panel.mip.image.shape
    x = (column + 0.5) * panel.label.width() / columns
    y = (row + 0.5) * panel.label.height() / rows
    qtbot.mouseClick(panel.label, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    # The axial views go to the hot spot's slice, on it (a little left of centre, see focus).
    assert viewer.dims.point[0] == pytest.approx(expected[2], abs=2.5)
    right = FOCUS_LEFT_OF_CENTRE * FOCUS_FIELD_MM
    np.testing.assert_allclose(viewer.scene.camera.center[1:], (expected[1], expected[0] + right))
    pet = viewer.layers["PET SUV"]
    index = np.rint(pet.world_to_data((expected[2], expected[1], expected[0]))).astype(int)
    assert pet.data[tuple(index)] == pytest.approx(float(panel.mip.image.max()))
    widget.dirty = False


def test_the_baseline_joins_prior_and_current_as_a_third_view_when_asked(
    make_napari_viewer: Callable[..., Any], tmp_path: Path
) -> None:
    from tests.gui._dicom import write_ct_series

    root = two_scan_study(tmp_path / "P4", "P4")
    second = FOLLOW_UP + dt.timedelta(days=56)
    write_ct_series(root / "c", patient_id="P4", study_date=second, seed=9)
    viewer = make_napari_viewer()
    widget = _open(viewer, root, tmp_path / "recistry.db")
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24))
    widget.show_timepoint(second)
    grid = viewer.canvas.grid

    def cell_of(prefix: str) -> tuple[int, int]:
        layers = list(viewer.layers)
        (index,) = [i for i, layer in enumerate(layers) if layer.name.startswith(prefix)]
        return grid.position(index, layers)

    # Prior (the first follow-up) beside the current scan; the baseline only when asked.
    assert grid.enabled and grid.actual_shape(list(viewer.layers)) == (1, 2)
    assert cell_of("Prior CT") == (0, 1) and not prior_layer_names(viewer, BASELINE_CELL)
    widget.baseline_check.setChecked(True)
    layers = list(viewer.layers)
    assert grid.actual_shape(layers) == (1, 3)
    assert (cell_of("CT"), cell_of("Prior CT"), cell_of("Baseline CT")) == ((0, 0), (0, 1), (0, 2))
    (baseline_ct, *_rest) = prior_layer_names(viewer, BASELINE_CELL)
    assert baseline_ct == f"Baseline CT {BASELINE}"
    # The baseline's lines are drawn in its cell, labelled with ID and length; the cells share
    # one camera and one slice position (patient mm), so they stay linked.
    assert cell_of("Baseline lesions") == (0, 2)
    assert list(viewer.layers["Baseline lesions"].features["label"]) == ["T1 14.0 mm"]
    # At the first follow-up the prior is the baseline: two views, however the box is ticked.
    widget.show_timepoint(FOLLOW_UP)
    assert grid.actual_shape(list(viewer.layers)) == (1, 2)
    assert not prior_layer_names(viewer, BASELINE_CELL)
    widget.baseline_check.setChecked(False)
    widget.dirty = False


def test_a_lesion_shown_as_the_window_settles_is_shown_160_mm_wide(
    make_napari_viewer: Callable[..., Any],
    study: Path,
    tmp_path: Path,
    qtbot: Any,
    no_dialogs: None,
) -> None:
    viewer = make_napari_viewer(show=True)
    # Docked and opened at once, as the screenshot script does: the canvas narrows afterwards.
    widget = _open(viewer, study, tmp_path / "recistry.db")
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24))
    widget.show_timepoint(FOLLOW_UP)
    widget.select_lesion(t1)
    qtbot.wait(300)

    def field_mm() -> float:
        return float(min(viewer.canvas.viewbox_size(viewer.layers)) / viewer.scene.camera.zoom)

    assert viewer.canvas.grid.enabled
    assert field_mm() == pytest.approx(FOCUS_FIELD_MM)
    # Once the reader zooms, a resize keeps their zoom (pixels per mm), as napari does.
    viewer.scene.camera.zoom *= 2
    zoomed = viewer.scene.camera.zoom
    size = tuple(viewer.canvas.size)
    viewer.window._qt_window.resize(1400, 900)
    qtbot.waitUntil(lambda: tuple(viewer.canvas.size) != size)
    assert viewer.scene.camera.zoom == pytest.approx(zoomed)
