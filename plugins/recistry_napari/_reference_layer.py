"""The "Reference regions" Points layer: where the liver and spleen spheres are. napari, no Qt.

Like the Lesions layer it shares the CT layer's transform; a point's world position is its
sphere centre in patient mm. One point per organ: placing another replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recistry.imaging.metrics import LIVER_REFERENCE_DIAMETER_MM, SPLEEN_REFERENCE_DIAMETER_MM
from recistry_napari._display import set_transform
from recistry_napari._geometry import lps_to_world, world_to_lps
from recistry_napari._reading import TimepointReading

if TYPE_CHECKING:
    import napari
    from napari.layers import Points

REFERENCES_LAYER_NAME = "Reference regions"
REFERENCE_DIAMETER_MM: Mapping[str, float] = {
    # PERCIST: a 3 cm sphere in normal right liver lobe; the spleen is smaller.
    "liver": LIVER_REFERENCE_DIAMETER_MM,
    "spleen": SPLEEN_REFERENCE_DIAMETER_MM,
}
_COLOURS = {"liver": "#b5651d", "spleen": "#9b59b6"}

Centre = tuple[float, float, float]


class ReferenceLayer:
    """Owns the Reference regions layer and reports the sphere centres placed on it.

    ``on_changed`` receives ``{organ: centre LPS mm}`` for the organs with a point, after the
    user adds, moves or deletes one.
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        on_changed: Callable[[dict[str, Centre]], None],
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
                name=REFERENCES_LAYER_NAME,
                features=pd.DataFrame({"organ": pd.Series([], dtype=object)}),
                text={"string": "{organ}", "color": "white", "size": 9},
                size=LIVER_REFERENCE_DIAMETER_MM / mean_spacing,
                face_color="transparent",
                border_color="#b5651d",
                **transform,
            )
            layer.events.data.connect(self._on_data)
            self.layer = layer
        else:
            self._quiet += 1
            try:
                set_transform(layer, transform)
            finally:
                self._quiet -= 1
        return layer

    def show(self, tp: TimepointReading) -> None:
        """Show the spheres of one time point."""
        layer = self._require()
        organs, points = [], []
        for organ, centre in (("liver", tp.liver_center_lps), ("spleen", tp.spleen_center_lps)):
            if centre is not None:
                organs.append(organ)
                points.append(layer.world_to_data(lps_to_world(centre)))
        self._quiet += 1
        try:
            layer.selected_data = set()
            layer.data = np.array(points).reshape(-1, 3)
            layer.features = pd.DataFrame({"organ": pd.Series(organs, dtype=object)})
            if organs:
                layer.border_color = [_COLOURS[o] for o in organs]
                # Each sphere at its own diameter: liver 30 mm, spleen 20 mm.
                mean_spacing = float(np.mean(np.abs(layer.scale[1:])))
                layer.size = [REFERENCE_DIAMETER_MM[o] / mean_spacing for o in organs]
        finally:
            self._quiet -= 1

    def arm(self, organ: str) -> None:
        """Make the next point placed the centre of ``organ``'s reference sphere (2-D view)."""
        layer = self._require()
        self.viewer.dims.ndisplay = 2
        layer.selected_data = set()
        layer.feature_defaults = {"organ": organ}
        layer.current_border_color = _COLOURS[organ]
        self.viewer.layers.selection.active = layer
        layer.mode = "add"

    def centres(self) -> dict[str, Centre]:
        """The latest point of each organ, in LPS mm."""
        layer = self._require()
        found: dict[str, Centre] = {}
        for organ, point in zip(layer.features["organ"], layer.data, strict=True):
            lps = world_to_lps(layer.data_to_world(point))
            found[str(organ)] = (float(lps[0]), float(lps[1]), float(lps[2]))
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
            self._schedule(self._leave_add_mode)
        self._on_changed(self.centres())

    def _leave_add_mode(self) -> None:
        if self.layer is not None and self.layer.mode == "add":
            self.layer.mode = "pan_zoom"

    def _require(self) -> Points:
        if self.layer is None:
            raise RuntimeError("the Reference regions layer is created when a study is opened")
        return self.layer
