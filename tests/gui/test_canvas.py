"""The canvas driven as a reader's hand drives it: real mouse events (drawing a diameter,
dragging its end, hovering for the HU and SUV readout) and the keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from recistry.recist.model import Role
from recistry_napari._display import CANVAS_READOUT_SEPARATOR, READOUT_OVERLAY, readout_text
from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
from recistry_napari._persist import sr_folder_for
from recistry_napari._qt.annotator import COLUMNS, AnnotatorWidget
from tests.gui import _mouse
from tests.gui._annotator import BASELINE, open_annotator, two_scan_study

pytestmark = pytest.mark.gui

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient" / "SYN1-001"


def _length(widget: AnnotatorWidget, lesion_id: str) -> float:
    line = widget.reading.at(BASELINE).lesion(lesion_id).long_axis  # type: ignore[union-attr]
    assert line is not None
    return line.length_mm


def test_a_diameter_drawn_and_dragged_with_the_mouse_after_m_and_saved_with_ctrl_s(
    make_napari_viewer: Callable[..., Any], tmp_path: Path, qtbot: Any
) -> None:
    study = two_scan_study(tmp_path / "P5", "P5")
    store = tmp_path / "recistry.db"
    viewer = make_napari_viewer(show=True)
    widget = open_annotator(viewer, study, store, reader="Dr Mouse")
    try:
        t1 = widget.add_lesion(Role.TARGET, "liver")  # selected
        layer = viewer.layers[LESIONS_LAYER_NAME]
        start, end = (layer.data_to_world(p) for p in ((3, 5, 4), (3, 5, 24)))
        viewer.dims.set_point(0, float(start[0]))  # the reader scrolls to the slice
        _mouse.key(viewer, Qt.Key.Key_M)  # measure the long axis
        assert layer.mode == "add_line"
        _mouse.drag(viewer, start, end)
        qtbot.waitUntil(lambda: widget.reading.at(BASELINE).lesion(t1).long_axis is not None)  # type: ignore[union-attr]
        # 20 pixels of 0.7 mm, within the mouse's reach of a canvas pixel.
        assert _length(widget, t1) == pytest.approx(14.0, abs=0.1)
        row = [les.lesion_id for les in widget.reading.at(BASELINE).lesions].index(t1)  # type: ignore[union-attr]
        shown = widget.table.item(row, COLUMNS.index("Value"))
        assert shown is not None and shown.text() == f"{_length(widget, t1):.1f} mm"
        assert layer.mode == "pan_zoom"  # one line per press of M
        assert list(layer.features["label"]) == [f"T1 {_length(widget, t1):.1f} mm"]
        # Drag its end 5.6 mm further (8 pixels) in napari's vertex mode: the length follows.
        layer.mode = "direct"
        middle = (np.asarray(start) + np.asarray(end)) / 2
        _mouse.press(viewer, middle)  # a click on the line selects it
        _mouse.release(viewer, middle)
        further = np.asarray(end) + np.array([0.0, 0.0, 5.6])
        _mouse.drag(viewer, end, further)
        qtbot.waitUntil(lambda: _length(widget, t1) > 19)
        assert _length(widget, t1) == pytest.approx(19.6, abs=0.1)
        assert list(layer.features["label"]) == [f"T1 {_length(widget, t1):.1f} mm"]
        assert "sum of diameters 19.6 mm" in widget.response_text.toPlainText()
        # Ctrl+S saves (nothing is pending at baseline, so nothing is asked).
        _mouse.key(viewer, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert not widget.dirty and store.exists()
        qtbot.waitUntil(lambda: "SR file(s) in" in widget.status_label.text(), timeout=20000)
        assert len(list(sr_folder_for(store).rglob("*.dcm"))) == 1
    finally:
        widget.dirty = False


def test_hu_and_suv_under_the_cursor_show_on_the_canvas(
    make_napari_viewer: Callable[..., Any], qtbot: Any
) -> None:
    viewer = make_napari_viewer(show=True)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    widget.open_study(SAMPLE)
    QApplication.processEvents()
    # The orientation letters, added together, each got its visual on the canvas.
    letters = {k: o for k, o in viewer.canvas.overlays.items() if "orientation" in k}
    assert sorted(o.text for o in letters.values()) == ["A", "L", "P", "R"]
    drawn = viewer.window._qt_viewer.canvas._viewer_overlay_to_visual
    assert all(drawn.get(o) for o in letters.values())
    ct = viewer.layers["CT"]
    target = np.asarray(ct.data_to_world((15, 128, 100)))
    viewer.dims.set_point(0, float(target[0]))
    QApplication.processEvents()
    _mouse.move(viewer, target)
    overlays = viewer.canvas.overlays
    pet = viewer.layers["PET SUV"]
    # The cursor is where the mouse is (within a canvas pixel), and the canvas shows the HU
    # and SUV there, as the dock does.
    np.testing.assert_allclose(viewer.cursor.position, target, atol=1.5 / viewer.scene.camera.zoom)
    expected = readout_text(
        ct, pet, viewer.cursor.position, with_z=False, separator=CANVAS_READOUT_SEPARATOR
    )
    # One value a line: narrow, clear of the "P" at the bottom centre of a narrow grid cell.
    assert expected.startswith("HU ") and "\nSUV " in expected
    qtbot.waitUntil(
        lambda: READOUT_OVERLAY in overlays and overlays[READOUT_OVERLAY].text == expected
    )
    # The dock shows the same values on one line, and the slice position.
    assert widget.readout_label.text().startswith(expected.replace("\n", " · ") + "   (z ")
    assert overlays[READOUT_OVERLAY].visible and overlays[READOUT_OVERLAY].position == "bottom_left"
    # The same numbers as the images hold: the CT voxel and the PET voxel under the cursor.
    hu = ct.data[tuple(np.rint(ct.world_to_data(viewer.cursor.position)).astype(int))]
    suv = pet.data[tuple(np.rint(pet.world_to_data(viewer.cursor.position)).astype(int))]
    assert expected == f"HU {hu:.0f}\nSUV {suv:.2f}"
    widget.dirty = False
