"""The prior (and baseline) scan beside the current one, and markers of pending lesions.
napari only, no Qt.

At a follow-up the viewer is put in grid mode: the current scan's layers (CT, PET, references,
locations, pending markers, Lesions) in the left cell, the prior's (CT, PET, its lines and
located lesions) in the next one and, when the reader asks, the baseline's in a third. Grid
cells share napari's dims and camera, so slice position, zoom and pan stay linked in patient
millimetres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recistry_napari._display import put_image, set_transform, show_name
from recistry_napari._geometry import layer_transform, lps_to_world
from recistry_napari._layers import ct_layer_data, pet_layer_data
from recistry_napari._lesion_layer import ROLE_COLOURS
from recistry_napari._longitudinal import LOCATION_RADIUS_MM, Mark
from recistry_napari._study import ScanImages
from recistry_napari._text import label_text

if TYPE_CHECKING:
    import datetime as dt

    import napari
    from napari.layers import Layer


@dataclass(frozen=True, slots=True)
class Cell:
    """The layer names of an earlier scan's grid cell, and the colour of its title."""

    ct: str
    pet: str
    lesions: str
    title_colour: str

    @property
    def names(self) -> tuple[str, str, str]:
        """Prefixes of the cell's layer names (the CT's name carries the scan date)."""
        return (self.ct, self.pet, self.lesions)


PRIOR = Cell("Prior CT", "Prior PET SUV", "Prior lesions", "#9ad0ff")
BASELINE = Cell("Baseline CT", "Baseline PET SUV", "Baseline lesions", "#b8f5a0")
PRIOR_CT_NAME, PRIOR_PET_NAME, PRIOR_LESIONS_NAME = PRIOR.names
PRIOR_NAMES = PRIOR.names
PENDING_NAME = "Pending: prior position"
SPACER_NAME = "(grid spacer)"
"""Hidden empty layers that pad a cell: napari's grid puts ``stride`` layers in each cell."""
_PENDING_COLOUR = "#ff9f1a"


def prior_layer_names(viewer: napari.Viewer, cell: Cell = PRIOR) -> list[str]:
    """Names of an earlier scan's layers in the viewer (the prior's by default)."""
    return [layer.name for layer in viewer.layers if layer.name.startswith(cell.names)]


def _remove(viewer: napari.Viewer, names: Sequence[str]) -> None:
    for name in names:
        if name in viewer.layers:
            viewer.layers.remove(name)


def show_prior(
    viewer: napari.Viewer,
    images: ScanImages,
    date: dt.date,
    marks: Sequence[Mark],
    *,
    window: tuple[float, float],
    suv_range: tuple[float, float],
    cell: Cell = PRIOR,
) -> list[Layer]:
    """Show an earlier scan's CT, PET and marks as the layers of ``cell`` (reused when there
    are some: see :func:`~recistry_napari._display.put_image`); the CT's name, the cell's
    title, carries the scan date."""
    added = []
    data, kwargs, _ = ct_layer_data(images.ct)
    kwargs.update(contrast_limits=window)
    old_ct = next((la.name for la in viewer.layers if la.name.startswith(cell.ct)), None)
    ct = put_image(viewer, old_ct or cell.ct, data, kwargs)
    ct.name = f"{cell.ct} {date}"
    show_name(ct, cell.title_colour)
    added.append(ct)
    if images.pet is not None:
        data, kwargs, _ = pet_layer_data(images.pet, suv_range)
        added.append(put_image(viewer, cell.pet, data, kwargs))
    else:
        _remove(viewer, [cell.pet])
    transform = layer_transform(images.ct)
    shapes, kinds, colours, labels = _mark_shapes(marks, transform)
    layer = next((la for la in viewer.layers if la.name == cell.lesions), None)
    if layer is None:
        layer = viewer.add_shapes(
            ndim=3,
            name=cell.lesions,
            features=pd.DataFrame(
                {"label": pd.Series([], dtype=object), "colour": pd.Series([], dtype=object)}
            ),
            text=label_text(transform),
            edge_width=2.0,
            face_color="transparent",
            **transform,
        )
    else:
        layer.editable = True
        layer.data = []
        set_transform(layer, transform)
    layer.feature_defaults = {"label": "", "colour": "#ffffff"}
    if shapes:
        layer.add(
            [np.array([layer.world_to_data(p) for p in s]) for s in shapes],
            shape_type=kinds,
            edge_color=colours,
            face_color="transparent",
        )
        layer.features = pd.DataFrame(
            {"label": pd.Series(labels, dtype=object), "colour": pd.Series(colours, dtype=object)}
        )
    layer.editable = False
    added.append(layer)
    return added


def _mark_shapes(
    marks: Sequence[Mark], transform: Mapping[str, Any]
) -> tuple[list[np.ndarray], list[str], list[str], list[str]]:
    shapes, kinds, colours, labels = [], [], [], []
    r = LOCATION_RADIUS_MM
    for mark in marks:
        world = lps_to_world(mark.points_lps)
        if len(world) == 2:
            shapes.append(world)
            kinds.append("line")
        else:
            z, y, x = world[0]
            shapes.append(
                np.array(
                    [[z, y - r, x - r], [z, y - r, x + r], [z, y + r, x + r], [z, y + r, x - r]]
                )
            )
            kinds.append("ellipse")
        colours.append(ROLE_COLOURS[mark.role])
        labels.append(mark.label)
    return shapes, kinds, colours, labels


def hide_prior(viewer: napari.Viewer, cell: Cell = PRIOR) -> None:
    """Remove an earlier scan's layers (:func:`arrange` then leaves grid mode without any)."""
    _remove(viewer, prior_layer_names(viewer, cell))


def show_pending(
    viewer: napari.Viewer, marks: Sequence[Mark], transform: Mapping[str, Any]
) -> Layer | None:
    """The markers on the current scan where each pending lesion was (created or refreshed);
    ``None`` while there is none to show and the layer does not exist (at baseline)."""
    ids = [m.lesion_id for m in marks]
    labels = [m.label for m in marks]
    if PENDING_NAME not in viewer.layers:
        if not marks:
            return None
        mean_spacing = float(np.mean(transform["scale"][1:]))
        radius = LOCATION_RADIUS_MM / mean_spacing  # image pixels
        layer = viewer.add_points(
            ndim=3,
            name=PENDING_NAME,
            features=pd.DataFrame(
                {"lesion_id": pd.Series([], dtype=object), "label": pd.Series([], dtype=object)}
            ),
            text={
                "string": "{label}",
                "color": _PENDING_COLOUR,
                "size": 13,
                "anchor": "upper_left",
                # beside the ring, level with its top (at its centre the ring hid the label)
                "translation": [0.0, -radius, radius],
            },
            size=2 * radius,
            symbol="ring",
            face_color=_PENDING_COLOUR,
            border_width=0,
            **transform,
        )
    else:
        layer = viewer.layers[PENDING_NAME]
        set_transform(layer, transform)
    points = np.array([layer.world_to_data(lps_to_world(m.points_lps[0])) for m in marks]).reshape(
        -1, 3
    )
    if list(layer.features["lesion_id"]) == ids and np.allclose(layer.data, points):
        return layer  # unchanged: no redraw (this runs after every edit)
    layer.data = points
    layer.features = pd.DataFrame(
        {"lesion_id": pd.Series(ids, dtype=object), "label": pd.Series(labels, dtype=object)}
    )
    layer.editable = False
    return layer


def arrange(viewer: napari.Viewer, current: Sequence[Layer], *earlier: Sequence[Layer]) -> bool:
    """Order the layers current scan first, then each earlier scan, each in its own grid cell
    (one cell without earlier scans).

    napari's grid puts ``stride`` consecutive layers in each cell, so every cell but the last
    is padded to the largest with hidden empty layers (:data:`SPACER_NAME`).

    Returns True when the layout changed (grid on or off, another number of cells or of layers
    per cell): the view then needs fitting again. Otherwise the reader's zoom and pan are kept.
    """
    cells = [list(current), *(list(c) for c in earlier if c)]
    stride = max(len(c) for c in cells)
    active = viewer.layers.selection.active
    spacers = [la for la in viewer.layers if la.name.startswith(SPACER_NAME)]
    order: list[Layer] = []
    for n, cell in enumerate(cells):
        order += cell
        if n < len(cells) - 1:
            for _ in range(stride - len(cell)):
                if not spacers:
                    spacers.append(
                        viewer.add_points(
                            ndim=3, name=SPACER_NAME, visible=False, **_spacer_transform(cells)
                        )
                    )
                order.append(spacers.pop())
    for spacer in spacers:  # left over
        viewer.layers.remove(spacer)
    if viewer.layers.selection.active is not active and active in viewer.layers:
        viewer.layers.selection.active = active  # adding a spacer selected it
    for position, layer in enumerate(order):
        index = viewer.layers.index(layer)
        if index != position:
            viewer.layers.move(index, position)
    grid = viewer.canvas.grid
    before = (grid.enabled, grid.stride, tuple(grid.shape))
    wanted: dict[str, Any] = (
        {"stride": stride, "shape": (1, len(cells)), "spacing": 6, "enabled": True}
        if len(cells) > 1
        else {"enabled": False}
    )
    changes = {key: value for key, value in wanted.items() if getattr(grid, key) != value}
    if changes:
        # Each setting re-lays out every grid cell: make them all, then lay out once.
        with grid.events.blocker_all():
            for key, value in changes.items():
                setattr(grid, key, value)
        grid.events.enabled(value=grid.enabled)
    after = (grid.enabled, grid.stride, tuple(grid.shape))
    return after != before and (grid.enabled or before[0])


def _spacer_transform(cells: Sequence[Sequence[Layer]]) -> dict[str, Any]:
    # The units and axes of the scans', so that the viewer's world keeps its mm.
    first = cells[0][0]
    return {"scale": first.scale, "units": first.units, "axis_labels": first.axis_labels}
