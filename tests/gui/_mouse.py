"""Real mouse gestures and key presses on the napari canvas, through Qt as a reader's hand
makes them.

Positions are napari world coordinates (z, y, x) in mm; the gesture happens on the slice shown.
The mapping holds for a single 2-D view (not grid mode): the camera puts its centre at the
canvas centre, ``zoom`` canvas pixels per mm, y down and x right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication, QWidget

_LEFT = Qt.MouseButton.LeftButton
_NONE = Qt.KeyboardModifier.NoModifier


def canvas(viewer: Any) -> QWidget:
    """The Qt widget napari draws the scene in."""
    widget: QWidget = viewer.window._qt_viewer.canvas.native
    return widget


def canvas_point(viewer: Any, world: Sequence[float]) -> QPoint:
    """Canvas pixel of a world point (z, y, x) mm in the 2-D view (pending resizes first)."""
    for _ in range(3):
        QApplication.processEvents()
    native = canvas(viewer)
    centre = np.asarray(viewer.scene.camera.center[1:], dtype=float)
    zoom = float(viewer.scene.camera.zoom)
    y, x = (np.asarray(world, dtype=float)[1:] - centre) * zoom + (
        native.height() / 2,
        native.width() / 2,
    )
    return QPoint(round(float(x)), round(float(y)))


def press(viewer: Any, world: Sequence[float]) -> None:
    """Press the left button at a world point."""
    QTest.mousePress(canvas(viewer), _LEFT, _NONE, canvas_point(viewer, world))
    QApplication.processEvents()


def move(viewer: Any, world: Sequence[float]) -> None:
    """Move the mouse (a held button drags) to a world point."""
    QTest.mouseMove(canvas(viewer), canvas_point(viewer, world))
    QApplication.processEvents()


def release(viewer: Any, world: Sequence[float]) -> None:
    """Release the left button at a world point."""
    QTest.mouseRelease(canvas(viewer), _LEFT, _NONE, canvas_point(viewer, world))


def drag(viewer: Any, start: Sequence[float], end: Sequence[float], steps: int = 4) -> None:
    """Press at ``start``, move to ``end`` in ``steps`` steps and release there: a line drawn
    with the line tool, or a vertex dragged in direct mode."""
    press(viewer, start)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        move(viewer, np.asarray(start, dtype=float) * (1 - t) + np.asarray(end, dtype=float) * t)
    release(viewer, end)
    QApplication.processEvents()


def key(viewer: Any, key: Qt.Key, modifier: Any = _NONE) -> None:
    """Press and release a key on the canvas, where the reader's eyes (and focus) are."""
    QTest.keyClick(canvas(viewer), key, modifier)
    QApplication.processEvents()
