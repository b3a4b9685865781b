"""The prior scan beside the current one, and markers of pending lesions. napari only, no Qt.

At a follow-up the viewer is put in grid mode with two cells: the current scan's layers (CT,
PET, references, locations, pending markers, Lesions) in the left cell and the prior's (CT, PET,
its lines and located lesions) in the right one. Grid cells share napari's dims and camera, so
slice position, zoom and pan stay linked in patient millimetres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

PRIOR_CT_NAME = "Prior CT"
PRIOR_PET_NAME = "Prior PET SUV"
PRIOR_LESIONS_NAME = "Prior lesions"
PENDING_NAME = "Pending: prior position"
PRIOR_NAMES = (PRIOR_CT_NAME, PRIOR_PET_NAME, PRIOR_LESIONS_NAME)
_PENDING_COLOUR = "#ff9f1a"


def prior_layer_names(viewer: napari.Viewer) -> list[str]:
    """Names of the prior scan's layers in the viewer."""
    return [layer.name for layer in viewer.layers if layer.name.startswith(PRIOR_NAMES)]


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
) -> list[Layer]:
    """Add the prior scan's CT, PET and marks as layers (replacing earlier ones)."""
    added = []
    data, kwargs, _ = ct_layer_data(images.ct)
    kwargs.update(contrast_limits=window)
    # Reuse the prior layers when there are some (see put_image); the name is the cell's title.
    old_ct = next((la.name for la in viewer.layers if la.name.startswith(PRIOR_CT_NAME)), None)
    ct = put_image(viewer, old_ct or PRIOR_CT_NAME, data, kwargs)
    ct.name = f"{PRIOR_CT_NAME} {date}"
    show_name(ct, "#9ad0ff")
    added.append(ct)
    if images.pet is not None:
        data, kwargs, _ = pet_layer_data(images.pet, suv_range)
        added.append(put_image(viewer, PRIOR_PET_NAME, data, kwargs))
    else:
        _remove(viewer, [PRIOR_PET_NAME])
    transform = layer_transform(images.ct)
    shapes, kinds, colours, labels = _mark_shapes(marks, transform)
    layer = next((la for la in viewer.layers if la.name == PRIOR_LESIONS_NAME), None)
    if layer is None:
        layer = viewer.add_shapes(
            ndim=3,
            name=PRIOR_LESIONS_NAME,
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


def hide_prior(viewer: napari.Viewer) -> None:
    """Remove the prior scan's layers (:func:`arrange` then leaves grid mode)."""
    _remove(viewer, prior_layer_names(viewer))


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
            },
            size=2 * LOCATION_RADIUS_MM / mean_spacing,
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


def arrange(viewer: napari.Viewer, current: Sequence[Layer], prior: Sequence[Layer]) -> bool:
    """Order the layers current-then-prior and put each scan in its own grid cell.

    Returns True when the layout changed (grid on or off, or another number of layers per
    cell): the view then needs fitting again. Otherwise the reader's zoom and pan are kept.
    """
    order = [*current, *prior]
    for position, layer in enumerate(order):
        index = viewer.layers.index(layer)
        if index != position:
            viewer.layers.move(index, position)
    grid = viewer.canvas.grid
    before = (grid.enabled, grid.stride)
    if prior:
        if grid.stride != len(current):
            grid.stride = len(current)
        if tuple(grid.shape) != (1, 2):
            grid.shape = (1, 2)
        grid.spacing = 6
        grid.enabled = True
    else:
        grid.enabled = False
    return (grid.enabled, grid.stride) != before and (grid.enabled or before[0])
