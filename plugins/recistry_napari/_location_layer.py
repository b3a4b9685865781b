"""The "Lesion locations" Points layer: where non-target and new lesions are. napari, no Qt.

It shares the CT layer's transform, like the Lesions layer: a point's world position is the
lesion's location in patient mm, and its slice names the CT image it was placed on. One point
per lesion: placing another replaces it (the widget redraws from the reading).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recistry_napari._display import set_transform
from recistry_napari._geometry import lps_to_world, world_to_lps
from recistry_napari._lesion_layer import ROLE_COLOURS
from recistry_napari._reading import TimepointReading

if TYPE_CHECKING:
    import napari
    from napari.layers import Points

LOCATIONS_LAYER_NAME = "Lesion locations"
MARKER_SIZE_MM = 8.0
"""Diameter of a location marker on screen, in patient mm (scales with zoom)."""


@dataclass(frozen=True, slots=True)
class PlacedPoint:
    """A lesion's point on the layer: LPS mm and the nearest CT slice index."""

    lesion_id: str
    point_lps: tuple[float, float, float]
    slice_index: int


class LocationLayer:
    """Owns the Lesion locations layer and reports the points placed on it.

    ``on_changed`` receives every lesion's point after the user adds, moves or deletes one.
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        on_changed: Callable[[list[PlacedPoint]], None],
        schedule: Callable[[Callable[[], None]], None] = lambda f: f(),
    ) -> None:
        self.viewer = viewer
        self._on_changed = on_changed
        self._schedule = schedule
        self._quiet = 0
        self.layer: Points | None = None

    def attach(self, transform: Mapping[str, Any]) -> Points:
        """Create the layer with ``transform`` (of the CT shown), or move it onto it."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:
            mean_spacing = float(np.mean(transform["scale"][1:]))
            layer = self.viewer.add_points(
                ndim=3,
                name=LOCATIONS_LAYER_NAME,
                features=pd.DataFrame({"lesion_id": pd.Series([], dtype=object)}),
                text={
                    "string": "{lesion_id}",
                    "color": "#ffffff",
                    "size": 13,
                    "anchor": "upper_left",
                },
                size=MARKER_SIZE_MM / mean_spacing,
                symbol="cross",
                face_color="#33c3ff",
                border_color="#000000",
                border_width=0.1,
                **transform,
            )
            layer.events.data.connect(self._on_data)
            self.layer = layer
        else:
            self._quiet += 1
            try:
                set_transform(layer, transform)
                size = MARKER_SIZE_MM / float(np.mean(transform["scale"][1:]))
                if not np.isclose(layer.current_size, size):  # another CT grid
                    layer.current_size = size
                    layer.size = size
            finally:
                self._quiet -= 1
        return layer

    def show(self, tp: TimepointReading) -> None:
        """Show the located lesions of one time point (lesions with a line show the line)."""
        layer = self._require()
        ids, points, colours = [], [], []
        for lesion in tp.lesions:
            if lesion.location_lps is not None and lesion.long_axis is None:
                ids.append(lesion.lesion_id)
                points.append(layer.world_to_data(lps_to_world(lesion.location_lps)))
                colours.append(ROLE_COLOURS[lesion.role])
        self._quiet += 1
        try:
            layer.selected_data = set()
            layer.data = np.array(points).reshape(-1, 3)
            layer.features = pd.DataFrame({"lesion_id": pd.Series(ids, dtype=object)})
            if ids:
                layer.face_color = colours
        finally:
            self._quiet -= 1

    def arm(self, lesion_id: str, colour: str) -> None:
        """Make the next click on the canvas the location of ``lesion_id`` (2-D view)."""
        layer = self._require()
        self.viewer.dims.ndisplay = 2
        layer.selected_data = set()
        layer.feature_defaults = {"lesion_id": lesion_id}
        layer.current_face_color = colour
        self.viewer.layers.selection.active = layer
        layer.mode = "add"

    def disarm(self) -> None:
        """Leave the add mode without placing a point."""
        if self.layer is not None and self.layer.mode == "add":
            self.layer.mode = "pan_zoom"

    def points(self) -> list[PlacedPoint]:
        """Every point on the layer, in LPS mm (the latest point of a lesion last)."""
        layer = self._require()
        found = []
        for lesion_id, point in zip(layer.features["lesion_id"], layer.data, strict=True):
            if not isinstance(lesion_id, str) or not lesion_id:
                continue
            lps = world_to_lps(layer.data_to_world(point))
            found.append(
                PlacedPoint(
                    lesion_id,
                    (float(lps[0]), float(lps[1]), float(lps[2])),
                    round(float(point[0])),
                )
            )
        return found

    def _on_data(self, event: Any) -> None:
        from napari.layers.base import ActionType

        if self._quiet or event.action not in (
            ActionType.ADDED,
            ActionType.CHANGED,
            ActionType.REMOVED,
        ):
            return
        if event.action == ActionType.ADDED:
            self._schedule(self.disarm)
        self._on_changed(self.points())

    def _require(self) -> Points:
        if self.layer is None:
            raise RuntimeError("the Lesion locations layer is created when a study is opened")
        return self.layer
