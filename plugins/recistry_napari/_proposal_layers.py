"""The layers that show proposals, visibly apart from the reader's own lines. napari only, no Qt.

- *Proposals* (Shapes): the proposed diameters in magenta, labelled "T1 proposed 23.4 mm";
  editable: the reader drags an end point (select mode, ``S`` then drag the vertex; or direct
  mode ``D``) and the label's length follows. Accepting reads the lines back from here, so an
  adjusted line is what is recorded.
- *Proposed locations* (Points): magenta rings where a lesion without diameters is proposed.
- *Lesion masks* (Labels, contours): the masks of the proposals (magenta) and of the lesions
  accepted with a mask (yellow) on this scan's CT grid.

All three share the CT layer's transform, like the Lesions layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recistry.imaging.segment import LesionMeasurement
from recistry_napari._display import set_transform
from recistry_napari._geometry import lps_to_world, world_to_lps
from recistry_napari._proposals import Proposal
from recistry_napari._reading import Axis, Line
from recistry_napari._text import label_text

if TYPE_CHECKING:
    import napari
    from napari.layers import Labels, Points, Shapes

PROPOSALS_NAME = "Proposals"
PROPOSED_LOCATIONS_NAME = "Proposed locations"
MASKS_NAME = "Lesion masks"
PROPOSAL_LAYER_NAMES = (MASKS_NAME, PROPOSED_LOCATIONS_NAME, PROPOSALS_NAME)
"""In drawing order (masks lowest); the annotator puts them in the current scan's grid cell."""
PROPOSAL_COLOUR = "#ff4dff"
ACCEPTED_MASK_COLOUR = "#ffd400"
_PROPOSAL_LABEL, _ACCEPTED_LABEL = 1, 2
_FEATURES = ("key", "axis", "label", "colour")


def _label(proposal: Proposal, axis: Axis, line: Line) -> str:
    name = proposal.name if axis is Axis.LONG else f"{proposal.name} SA"
    return f"{name} proposed {line.diameter_mm} mm"


def paste_mask(target: np.ndarray, measurement: LesionMeasurement, value: int) -> None:
    """Write ``value`` where a segmentation's mask is, into an array on its CT grid."""
    k0, j0, i0 = measurement.mask_offset_kji
    mask = np.asarray(measurement.mask.array, dtype=bool)
    nk, nj, ni = mask.shape
    box = target[k0 : k0 + nk, j0 : j0 + nj, i0 : i0 + ni]
    box[mask[: box.shape[0], : box.shape[1], : box.shape[2]]] = value


class ProposalLayers:
    """Owns the three proposal layers of a viewer.

    Parameters
    ----------
    viewer
        The napari viewer.
    on_edited
        Called with a proposal's key after the reader moved one of its lines.
    on_created
        Called when the layers were made (the annotator puts them in the current grid cell).
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        on_edited: Callable[[str], None],
        on_created: Callable[[], None] = lambda: None,
    ) -> None:
        self.viewer = viewer
        self._on_edited = on_edited
        self._on_created = on_created
        self._transform: dict[str, Any] = {}
        self._quiet = 0
        self._proposals: dict[str, Proposal] = {}
        self.shapes: Shapes | None = None
        self.points: Points | None = None
        self.masks: Labels | None = None
        self._shape: tuple[int, int, int] = (1, 1, 1)

    def attach(self, transform: Mapping[str, Any], ct_shape: Sequence[int]) -> None:
        """Put the layers on the CT shown (they are made when there is first something to
        show: a scan without proposals costs no layer)."""
        self._transform = dict(transform)
        self._shape = (int(ct_shape[0]), int(ct_shape[1]), int(ct_shape[2]))
        if self.exists:
            for layer in (self.masks, self.points, self.shapes):
                self._place(layer, transform)

    @property
    def exists(self) -> bool:
        """True when the three layers are in the viewer."""
        return all(
            layer is not None and layer in self.viewer.layers
            for layer in (self.masks, self.points, self.shapes)
        )

    def _create(self) -> None:
        from napari.utils.colormaps import DirectLabelColormap

        transform = self._transform
        active = self.viewer.layers.selection.active
        for layer in (self.masks, self.points, self.shapes):
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.masks = self.viewer.add_labels(
            np.zeros((1, 1, 1), dtype=np.uint8),
            name=MASKS_NAME,
            opacity=0.9,
            colormap=DirectLabelColormap(
                color_dict={
                    None: "transparent",
                    _PROPOSAL_LABEL: PROPOSAL_COLOUR,
                    _ACCEPTED_LABEL: ACCEPTED_MASK_COLOUR,
                }
            ),
            **transform,
        )
        self.masks.contour = 1
        self.masks.editable = False
        mean_spacing = float(np.mean(transform["scale"][1:]))
        self.points = self.viewer.add_points(
            ndim=3,
            name=PROPOSED_LOCATIONS_NAME,
            features=pd.DataFrame({"label": pd.Series([], dtype=object)}),
            text={"string": "{label}", "color": PROPOSAL_COLOUR, "size": 13},
            size=16.0 / mean_spacing,
            symbol="ring",
            face_color=PROPOSAL_COLOUR,
            border_width=0,
            **transform,
        )
        self.points.editable = False
        self.shapes = self.viewer.add_shapes(
            ndim=3,
            name=PROPOSALS_NAME,
            features=pd.DataFrame({n: pd.Series([], dtype=object) for n in _FEATURES}),
            text=label_text(transform, size=13),
            edge_width=1.5,
            edge_color=PROPOSAL_COLOUR,
            face_color="transparent",
            **transform,
        )
        self.shapes.events.data.connect(self._on_data)
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active  # an added layer takes the selection
        self._on_created()

    def _place(self, layer: Any, transform: Mapping[str, Any]) -> None:
        """Move ``layer`` onto the CT's transform, its data events ignored meanwhile."""
        self._quiet += 1
        try:
            set_transform(layer, transform)
        finally:
            self._quiet -= 1

    def show(
        self,
        proposals: Sequence[Proposal],
        accepted_masks: Sequence[LesionMeasurement] = (),
    ) -> None:
        """Draw the proposals of the scan shown, and the masks accepted on it."""
        if not self.exists:
            if not proposals and not accepted_masks:
                return
            self._create()
        assert self.shapes is not None and self.points is not None and self.masks is not None
        self._proposals = {p.key: p for p in proposals}
        shapes, rows = [], []
        points, point_labels = [], []
        for p in proposals:
            for axis, line in ((Axis.LONG, p.long_axis), (Axis.SHORT, p.short_axis)):
                if line is None:
                    continue
                world = lps_to_world([line.start_lps, line.end_lps])
                shapes.append(np.array([self.shapes.world_to_data(w) for w in world]))
                rows.append(
                    {
                        "key": p.key,
                        "axis": axis.value,
                        "label": _label(p, axis, line),
                        "colour": PROPOSAL_COLOUR,
                    }
                )
            if p.long_axis is None:
                points.append(self.points.world_to_data(lps_to_world(p.location_lps)))
                point_labels.append(f"{p.name} proposed")
        self._quiet += 1
        try:
            self.shapes.selected_data = set()
            self.shapes.data = []
            if shapes:
                self.shapes.add_lines(shapes, edge_color=PROPOSAL_COLOUR)
            self.shapes.features = (
                pd.DataFrame(rows, columns=list(_FEATURES))
                if rows
                else pd.DataFrame({n: pd.Series([], dtype=object) for n in _FEATURES})
            )
            self.points.data = np.array(points).reshape(-1, 3)
            self.points.features = pd.DataFrame({"label": pd.Series(point_labels, dtype=object)})
            masks = [p.measurement for p in proposals if p.measurement is not None]
            if masks or accepted_masks:
                data = np.zeros(self._shape, dtype=np.uint8)
                for m in accepted_masks:
                    paste_mask(data, m, _ACCEPTED_LABEL)
                for m in masks:
                    paste_mask(data, m, _PROPOSAL_LABEL)
                self.masks.data = data
            elif self.masks.data.shape != (1, 1, 1):
                self.masks.data = np.zeros((1, 1, 1), dtype=np.uint8)
        finally:
            self._quiet -= 1

    def lines(self, key: str) -> dict[Axis, Line]:
        """The lines of a proposal as they are on the layer now (moved by the reader or not)."""
        assert self.shapes is not None
        layer = self.shapes
        out: dict[Axis, Line] = {}
        for row_key, axis, vertices in zip(
            layer.features["key"], layer.features["axis"], layer.data, strict=True
        ):
            if row_key != key:
                continue
            lps = world_to_lps(np.array([layer.data_to_world(v) for v in vertices[:2]]))
            out[Axis(axis)] = Line(
                (float(lps[0, 0]), float(lps[0, 1]), float(lps[0, 2])),
                (float(lps[1, 0]), float(lps[1, 1]), float(lps[1, 2])),
            )
        return out

    def slice_of(self, key: str) -> int | None:
        """The CT slice index (layer data) the proposal's long axis lies on now."""
        assert self.shapes is not None
        for row_key, axis, vertices in zip(
            self.shapes.features["key"],
            self.shapes.features["axis"],
            self.shapes.data,
            strict=True,
        ):
            if row_key == key and axis == Axis.LONG.value:
                return round(float(np.mean(vertices[:2, 0])))
        return None

    def _on_data(self, event: Any) -> None:
        from napari.layers.base import ActionType

        if self._quiet or event.action != ActionType.CHANGED:
            return
        assert self.shapes is not None
        features = self.shapes.features
        labels = list(features["label"])
        edited = set()
        for n, (key, axis) in enumerate(zip(features["key"], features["axis"], strict=True)):
            proposal = self._proposals.get(key)
            line = self.lines(key).get(Axis(axis))
            if proposal is None or line is None:
                continue
            text = _label(proposal, Axis(axis), line)
            if text != labels[n]:
                labels[n] = text
                edited.add(key)
        if edited:
            self._quiet += 1
            try:
                features = features.copy()
                features["label"] = labels
                self.shapes.features = features
            finally:
                self._quiet -= 1
            for key in sorted(edited):
                self._on_edited(key)
