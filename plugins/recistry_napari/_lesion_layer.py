"""The "Lesions" Shapes layer: drawn diameters in, LPS lines out. napari only, no Qt.

The layer shares the CT layer's transform, so a line drawn on an axial slice lies on that slice
(napari shows a shape only on the slice its vertices sit on) and ``data_to_world`` turns its
vertices into patient millimetres. The :class:`~recistry_napari._reading.Reading` is the truth;
this layer is only a view of one time point of it plus the place where lines are drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recistry.recist.model import Role
from recistry_napari._display import set_transform
from recistry_napari._geometry import lps_to_world, world_to_lps
from recistry_napari._reading import Axis, Line, TimepointReading
from recistry_napari._text import label_text

if TYPE_CHECKING:
    import napari
    from napari.layers import Shapes

logger = logging.getLogger(__name__)

LESIONS_LAYER_NAME = "Lesions"
ROLE_COLOURS: Mapping[Role, str] = {
    Role.TARGET: "#ffd400",
    Role.NON_TARGET: "#33c3ff",
    Role.NEW: "#ff3b3b",
}
_FEATURES = ("lesion_id", "axis", "label", "colour")
_UNASSIGNED = {"lesion_id": "", "axis": Axis.LONG.value, "label": "", "colour": "#ffffff"}


@dataclass(frozen=True, slots=True)
class DrawnLine:
    """A line on the Lesions layer: which lesion and diameter, where in LPS mm, which slice."""

    lesion_id: str
    axis: Axis
    line: Line
    slice_index: int
    """Nearest index along the layer's first (slice) axis, for the SOP instance UID."""


def _empty_features() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in _FEATURES})


def _label(lesion_id: str, axis: Axis, line: Line | None = None) -> str:
    name = lesion_id if axis is Axis.LONG else f"{lesion_id} SA"
    return name if line is None else f"{name} {line.diameter_mm} mm"


def _defaults(lesion_id: str, axis: Axis, role: Role) -> dict[str, str]:
    return {
        "lesion_id": lesion_id,
        "axis": axis.value,
        "label": _label(lesion_id, axis),
        "colour": ROLE_COLOURS[role],
    }


class LesionLayer:
    """Owns the Lesions Shapes layer of a viewer and reports the lines drawn on it.

    Parameters
    ----------
    viewer
        The napari viewer.
    on_lines_changed
        Called with every line on the layer after a line is added, moved or deleted by the user
        (not when :meth:`show` redraws).
    schedule
        Runs a callable once the current napari event has finished; the Qt widget passes a
        zero-delay timer. Used to leave drawing mode after one line.
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        on_lines_changed: Callable[[list[DrawnLine]], None],
        schedule: Callable[[Callable[[], None]], None] = lambda f: f(),
    ) -> None:
        self.viewer = viewer
        self._on_lines_changed = on_lines_changed
        self._schedule = schedule
        self._quiet_depth = 0
        self._assigned: dict[str, str] = _UNASSIGNED
        self.layer: Shapes | None = None

    # --- layer life cycle ----------------------------------------------------------------------

    def attach(self, transform: Mapping[str, Any]) -> Shapes:
        """Create the layer with ``transform`` (of the CT shown), or move it onto it."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:
            layer = self.viewer.add_shapes(
                ndim=3,
                name=LESIONS_LAYER_NAME,
                features=_empty_features(),
                # Labels in the role's colour, larger than napari's default, beside the line.
                text=label_text(transform),
                edge_width=2.0,
                face_color="transparent",
                **transform,
            )
            layer.feature_defaults = self._assigned
            layer.events.data.connect(self._on_data)
            self.layer = layer
        else:
            with self.quiet():
                set_transform(layer, transform)
        return layer

    def detach(self) -> None:
        """Disconnect from the layer (the widget is closing)."""
        if self.layer is not None:
            self.layer.events.data.disconnect(self._on_data)
            self.layer = None

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Edit the layer without reporting the edits as the user's."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    # --- model to layer ------------------------------------------------------------------------

    def show(self, tp: TimepointReading) -> None:
        """Redraw the layer with the diameters of one time point."""
        layer = self._require()
        shapes, colours, features = self._drawing(tp)
        with self.quiet():
            if self._relabel(shapes, features):
                return
            layer.selected_data = set()
            layer.data = []
            if shapes:
                layer.add_lines(shapes, edge_color=colours)
            layer.features = features

    def relabel(self, tp: TimepointReading) -> bool:
        """Update the labels (lengths) to one time point when the layer already shows its
        lines, and return True; False, changing nothing, when the lines differ (then
        :meth:`show`, once napari has finished the event at hand)."""
        shapes, _colours, features = self._drawing(tp)
        with self.quiet():
            return self._relabel(shapes, features)

    def _drawing(self, tp: TimepointReading) -> tuple[list[np.ndarray], list[str], pd.DataFrame]:
        """The lines of a time point in layer data coordinates, their colours and features."""
        layer = self._require()
        shapes, colours, rows = [], [], []
        for lesion in tp.lesions:
            for axis, line in ((Axis.LONG, lesion.long_axis), (Axis.SHORT, lesion.short_axis)):
                if line is None:
                    continue
                world = lps_to_world([line.start_lps, line.end_lps])
                shapes.append(np.array([layer.world_to_data(p) for p in world]))
                colours.append(ROLE_COLOURS[lesion.role])
                rows.append(
                    {
                        "lesion_id": lesion.lesion_id,
                        "axis": axis.value,
                        "label": _label(lesion.lesion_id, axis, line),
                        "colour": ROLE_COLOURS[lesion.role],
                    }
                )
        features = pd.DataFrame(rows, columns=list(_FEATURES)) if rows else _empty_features()
        return shapes, colours, features

    def _relabel(self, shapes: list[np.ndarray], features: pd.DataFrame) -> bool:
        layer = self._require()
        keys = [
            (str(lid), Axis(ax))
            for lid, ax in zip(features["lesion_id"], features["axis"], strict=True)
        ]
        same = (
            keys == self._keys()
            and len(layer.data) == len(shapes)
            and all(np.allclose(a, b) for a, b in zip(layer.data, shapes, strict=True))
        )
        shown = layer.features
        if same and any(list(shown[c]) != list(features[c]) for c in ("label", "colour")):
            # Only the labels changed (a length after an edit): no new geometry to upload.
            layer.features = features
        return same

    def arm(self, lesion_id: str, axis: Axis, role: Role) -> None:
        """Make the next line drawn the ``axis`` diameter of ``lesion_id``, replacing any old one.

        Shapes cannot be drawn in 3-D, so the viewer switches to 2-D.
        """
        layer = self._require()
        self.viewer.dims.ndisplay = 2
        with self.quiet():
            old = [i for i, (lid, ax) in enumerate(self._keys()) if lid == lesion_id and ax is axis]
            if old:
                layer.selected_data = set(old)
                layer.remove_selected()
            layer.selected_data = set()
            layer.current_edge_color = ROLE_COLOURS[role]
        layer.feature_defaults = _defaults(lesion_id, axis, role)
        self.viewer.layers.selection.active = layer
        layer.mode = "add_line"

    def assign(
        self, lesion_id: str | None, axis: Axis = Axis.LONG, role: Role = Role.TARGET
    ) -> None:
        """Make lines drawn with napari's own line tool (without arming) the ``axis`` diameter
        of the selected lesion ``lesion_id``; ``None``: they belong to no lesion."""
        self._assigned = _UNASSIGNED if lesion_id is None else _defaults(lesion_id, axis, role)
        if self.layer is not None and self.layer.mode != "add_line":
            self.layer.feature_defaults = self._assigned
            self.layer.current_edge_color = self._assigned["colour"]

    def disarm(self) -> None:
        """Leave drawing mode; a line drawn later belongs to the lesion selected (if any)."""
        if self.layer is None:
            return
        self.layer.feature_defaults = self._assigned
        if self.layer.mode == "add_line":
            self.layer.mode = "pan_zoom"

    # --- layer to model ------------------------------------------------------------------------

    def lines(self) -> list[DrawnLine]:
        """Every line on the layer, with its end points in LPS mm."""
        layer = self._require()
        out = []
        for (lesion_id, axis), vertices, kind in zip(
            self._keys(), layer.data, layer.shape_type, strict=True
        ):
            if kind != "line" or not lesion_id:
                continue
            world = np.array([layer.data_to_world(v) for v in vertices[:2]])
            lps = world_to_lps(world)
            out.append(
                DrawnLine(
                    lesion_id=lesion_id,
                    axis=axis,
                    line=Line(
                        (float(lps[0, 0]), float(lps[0, 1]), float(lps[0, 2])),
                        (float(lps[1, 0]), float(lps[1, 1]), float(lps[1, 2])),
                    ),
                    slice_index=round(float(np.mean(vertices[:2, 0]))),
                )
            )
        return out

    def _keys(self) -> list[tuple[str, Axis]]:
        features = self._require().features
        if features.empty:
            return []
        return [
            (
                str(lid) if isinstance(lid, str) else "",
                Axis(ax) if ax in ("long", "short") else Axis.LONG,
            )
            for lid, ax in zip(features["lesion_id"], features["axis"], strict=True)
        ]

    def _on_data(self, event: Any) -> None:
        from napari.layers.base import ActionType

        if self._quiet_depth or event.action not in (
            ActionType.ADDED,
            ActionType.CHANGED,
            ActionType.REMOVED,
        ):
            return
        if event.action == ActionType.ADDED:
            # One line per arming: leave add_line mode once napari has finished this drawing.
            self._schedule(self.disarm)
        self._on_lines_changed(self.lines())

    def _require(self) -> Shapes:
        if self.layer is None:
            raise RuntimeError("the Lesions layer is created when a study is opened")
        return self.layer
