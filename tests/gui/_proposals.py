"""A repositioned synthetic patient (known truth) and real mouse events on napari's canvas, for
the proposal and hot-spot tests."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qtpy.QtCore import QPoint, Qt
from qtpy.QtWidgets import QApplication

from recistry.imaging.synth import write_synthetic_studies
from recistry_napari._display import focus
from recistry_napari._geometry import lps_to_world

SEED, SIZE = 5, 256
_CASE: dict[str, Any] = {}


def repositioned_study() -> tuple[Path, dict[str, Any]]:
    """Baseline and a repositioned follow-up of one synthetic patient (CT 256², PET 128²):
    the study folder and the patient's ground truth; written once per test process."""
    if not _CASE:
        root = Path(tempfile.mkdtemp(prefix="recistry-proposals-"))
        write_synthetic_studies(
            root / "synth", patients=1, timepoints=2, seed=SEED, size=SIZE, reposition=True
        )
        document = json.loads((root / "synth" / "ground_truth.json").read_text())
        patient = document["patients"][0]
        _CASE.update(root=root, study=root / "synth" / patient["patient_id"], truth=patient)
    return _CASE["study"], _CASE["truth"]


def cleanup() -> None:
    if _CASE:
        shutil.rmtree(_CASE["root"], ignore_errors=True)
        _CASE.clear()


def truth_lesion(truth: dict[str, Any], timepoint: int, lesion_id: str) -> dict[str, Any]:
    lesions = truth["timepoints"][timepoint]["lesions"]
    return next(les for les in lesions if les["lesion_id"] == lesion_id)


def canvas_position(viewer: Any, point_lps: Any) -> QPoint:
    """The canvas pixel under a patient point (LPS mm) in the current scan's view."""
    canvas = viewer.window._qt_viewer.canvas
    _z, y, x = lps_to_world(point_lps)
    view = canvas.grid_views[0] if viewer.canvas.grid.enabled else canvas.view
    transform = view.transform * view.scene.transform
    px, py = transform.map([float(x), float(y)])[:2]
    return QPoint(round(float(px)), round(float(py)))


def click(viewer: Any, qtbot: Any, point_lps: Any) -> None:
    """Go to the point's slice, centre it, and click it with the real mouse (Qt events)."""
    focus(viewer, point_lps)
    settle()
    qtbot.mouseClick(
        viewer.window._qt_viewer.canvas.native,
        Qt.MouseButton.LeftButton,
        pos=canvas_position(viewer, point_lps),
    )
    settle()


def drag(viewer: Any, qtbot: Any, start_lps: Any, end_lps: Any) -> None:
    """Press at one point, move to another and release there (real mouse events)."""
    native = viewer.window._qt_viewer.canvas.native
    a, b = canvas_position(viewer, start_lps), canvas_position(viewer, end_lps)
    qtbot.mousePress(native, Qt.MouseButton.LeftButton, pos=a)
    for t in (0.25, 0.5, 0.75, 1.0):
        point = QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
        qtbot.mouseMove(native, point)
        settle()
    qtbot.mouseRelease(native, Qt.MouseButton.LeftButton, pos=b)
    settle()


def press(
    viewer: Any, qtbot: Any, key: Qt.Key, modifier: Any = Qt.KeyboardModifier.NoModifier
) -> None:
    """Press a key on the canvas, where the reader's eyes (and focus) are."""
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)
    settle()


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()
