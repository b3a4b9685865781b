"""What the canvas shows besides the images: orientation letters, scale bar, SUV colour bar,
the HU + SUV readout at the cursor (:func:`show_readout`, in the canvas's bottom-left
corner), and centring the view on a lesion. napari only, no Qt.

Axial slices are drawn in the radiological convention (see :mod:`._geometry`): anterior at the
top, posterior at the bottom, the patient's right on the screen's left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from recistry_napari._geometry import lps_to_world

if TYPE_CHECKING:
    import napari
    from napari.layers import Image, Layer

ORIENTATION_LETTERS = {
    "top_center": "A",
    "bottom_center": "P",
    "middle_left": "R",
    "middle_right": "L",
}
"""Edge of an axial view → patient direction it faces (world y grows posterior, x left)."""

FOCUS_FIELD_MM = 160.0
"""Width of patient shown around a lesion when jumping to it: the lesion and its neighbours."""

FOCUS_LEFT_OF_CENTRE = 0.2
"""Fraction of the field's width by which a lesion jumped to sits left of the view's centre:
its label runs to the right (from the lesion's upper-left corner), and in the three-view grid
at 1920 px a label of ``T2 27.0 × 20.8 mm`` takes about two thirds of a view's width (230 of
345 px), so a centred lesion's label was cut at the view's edge."""


def show_overlays(viewer: napari.Viewer) -> None:
    """Orientation letters in every grid cell and a scale bar in mm."""
    from napari.components.overlays import TextOverlay

    overlays = viewer.canvas.overlays
    new = {
        f"recistry_orientation_{letter}": TextOverlay(
            text=letter,
            position=position,
            visible=True,
            gridded=True,
            font_size=14,
            color="#f0f0f0",
            box=True,
            box_color=(0, 0, 0, 0.6),
        )
        for position, letter in ORIENTATION_LETTERS.items()
        if f"recistry_orientation_{letter}" not in overlays
    }
    if new:
        # napari lays every overlay out again for each one added: add them all, lay out once.
        with overlays.events.added.blocker():
            for key, overlay in new.items():
                overlays[key] = overlay
        overlays.events.added(key=key, value=overlay)
    scale_bar = overlays.scale_bar
    scale_bar.visible = True
    scale_bar.gridded = True
    scale_bar.color = "#f0f0f0"
    scale_bar.box = True
    scale_bar.font_size = 11


READOUT_OVERLAY = "recistry_readout"
"""Key of the canvas overlay that shows the HU and SUV under the cursor."""


def show_readout(viewer: napari.Viewer, text: str) -> None:
    """Show ``text`` (see :func:`readout_text`) in the canvas's bottom-left corner, under the
    current scan's view in grid mode; an empty text hides it."""
    from napari.components.overlays import TextOverlay

    overlays = viewer.canvas.overlays
    if READOUT_OVERLAY not in overlays:
        overlays[READOUT_OVERLAY] = TextOverlay(
            position="bottom_left",
            gridded=False,
            font_size=12,
            color="#f0f0f0",
            box=True,
            box_color=(0, 0, 0, 0.6),
        )
    overlay = overlays[READOUT_OVERLAY]
    if overlay.text != text:
        overlay.text = text
    if overlay.visible != bool(text):
        overlay.visible = bool(text)


CANVAS_READOUT_SEPARATOR = "\n"
"""The canvas readout shows one value a line: narrow, it stays clear of the "P" at the bottom
centre of the current scan's view, however narrow the three-view grid makes that view."""


def readout_text(
    ct: Image | None,
    pet: Image | None,
    world: Sequence[float],
    *,
    with_z: bool = True,
    separator: str = " · ",
) -> str:
    """``"HU 45 · SUV 3.20   (z 12.5 mm)"`` at a world position (mm); a part is left out when
    its image does not cover the position (the slice position too with ``with_z`` False). The
    canvas passes ``separator=CANVAS_READOUT_SEPARATOR``."""
    parts = []
    for layer, fmt in ((ct, "HU {:.0f}"), (pet, "SUV {:.2f}")):
        if layer is None:
            continue
        value = _value_at(layer, world)
        if value is not None:
            parts.append(fmt.format(value))
    z = float(world[0]) if len(world) else float("nan")
    return separator.join(parts) + (f"   (z {z:.1f} mm)" if parts and with_z else "")


def _value_at(layer: Image, world: Sequence[float]) -> float | None:
    index = np.rint(np.asarray(layer.world_to_data(np.asarray(world, dtype=float)))).astype(int)
    shape = np.asarray(layer.data.shape)
    if index.shape != shape.shape or np.any(index < 0) or np.any(index >= shape):
        return None
    return float(layer.data[tuple(index)])


def focus(
    viewer: napari.Viewer, point_lps: Sequence[float], field_mm: float = FOCUS_FIELD_MM
) -> None:
    """Show a patient point (LPS mm) on its axial slice, ``field_mm`` wide: centred from top to
    bottom, and :data:`FOCUS_LEFT_OF_CENTRE` left of centre, so that its label fits."""
    z, y, x = lps_to_world(point_lps)
    viewer.dims.ndisplay = 2
    viewer.dims.set_point(0, float(z))
    # World x grows to the screen's right (the patient's left, see ._geometry).
    x += FOCUS_LEFT_OF_CENTRE * field_mm
    viewer.scene.camera.center = (float(z), float(y), float(x))
    _fit_field(viewer, field_mm)


def _fit_field(viewer: napari.Viewer, field_mm: float) -> None:
    """Zoom so that a view (a grid cell) is ``field_mm`` across its narrower side."""
    width = min(viewer.canvas.viewbox_size(viewer.layers))
    if width > 0:
        viewer.scene.camera.zoom = float(width) / field_mm


class Focus:
    """:func:`focus` that keeps the field while the canvas settles.

    napari keeps the zoom (canvas pixels per mm) when its canvas is resized, so a view focused
    before the window's layout was done (a study opened as the annotator docks, which narrows
    the canvas) showed about 100 mm instead of 160. Until the reader zooms, a resize fits the
    field again; after that, the reader's zoom is kept.
    """

    def __init__(self, viewer: napari.Viewer, field_mm: float = FOCUS_FIELD_MM) -> None:
        self.viewer = viewer
        self.field_mm = field_mm
        self._zoom: float | None = None  # the zoom focus set, while the reader has kept it
        viewer.canvas.events.size.connect(self._refit)

    def __call__(self, point_lps: Sequence[float]) -> None:
        focus(self.viewer, point_lps, self.field_mm)
        self._zoom = float(self.viewer.scene.camera.zoom)

    def _refit(self, _event: Any = None) -> None:
        camera = self.viewer.scene.camera
        if self._zoom is None or not math.isclose(camera.zoom, self._zoom):
            self._zoom = None  # the reader zoomed since: their zoom stays
            return
        _fit_field(self.viewer, self.field_mm)
        self._zoom = float(camera.zoom)


def show_name(layer: Image, colour: str = "#ffffff") -> None:
    """The layer's name at the top of the grid cell that shows it, centred under the "A" (napari
    stacks overlays that share a position; in the top-left corner a title as long as "Prior CT
    2024-03-11" ran under the letter once three views share the canvas)."""
    overlay = layer.name_overlay
    overlay.position = "top_center"
    overlay.visible = True
    overlay.color = colour
    overlay.font_size = 13
    overlay.box = True
    overlay.box_color = (0, 0, 0, 0.6)


def set_transform(layer: Layer, transform: Mapping[str, Any]) -> None:
    """Give ``layer`` the ``scale``, ``translate`` and ``rotate`` of ``transform`` (world mm),
    setting only what differs: each assignment recomputes the viewer's dims and redraws, and
    this runs on every scan switch and edit."""
    for key in ("scale", "translate", "rotate"):
        if key in transform and not np.allclose(getattr(layer, key), transform[key]):
            setattr(layer, key, transform[key])


def put_image(viewer: napari.Viewer, name: str, data: Any, kwargs: dict[str, Any]) -> Image:
    """Show ``data`` in the image layer called ``name``: the existing layer gets the new data and
    transform (its GPU programs are kept, and its place in the layer list), else it is added.

    Replacing the layer instead would rebuild its shaders and reorder the grid, which dominates
    a time-point switch under software OpenGL.
    """
    existing = next((layer for layer in viewer.layers if layer.name == name), None)
    if existing is None:
        return viewer.add_image(data, **{**kwargs, "name": name})
    if existing.data is not data:
        existing.data = data
    set_transform(existing, kwargs)
    limits = kwargs.get("contrast_limits")
    if limits is not None and tuple(existing.contrast_limits) != tuple(limits):
        existing.contrast_limits = limits
    existing.metadata = kwargs.get("metadata", {})
    if not existing.visible:  # even an unchanged value re-lays out every grid cell
        existing.visible = True
    return existing
