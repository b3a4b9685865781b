"""Image-layer recipes for CT and PET SUV volumes: napari LayerData tuples, no Qt.

Both layers carry the transform of :func:`recistry_napari._geometry.layer_transform`, so they
overlay in patient millimetres without resampling, whatever their grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recistry.imaging.volume import Volume
from recistry_napari._geometry import layer_transform


@dataclass(frozen=True, slots=True)
class Window:
    """A CT display window: ``width`` and ``level`` in Hounsfield units."""

    name: str
    width: float
    level: float

    @property
    def contrast_limits(self) -> tuple[float, float]:
        """(lower, upper) HU shown from black to white."""
        return (self.level - self.width / 2, self.level + self.width / 2)


# Radiopaedia, "Windowing (CT)": soft tissue W400 L40, lung W1500 L-600, bone W1800 L400,
# liver W150 L30.
WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (
        Window("soft tissue", 400.0, 40.0),
        Window("lung", 1500.0, -600.0),
        Window("bone", 1800.0, 400.0),
        Window("liver", 150.0, 30.0),
    )
}
DEFAULT_WINDOW = "soft tissue"

DEFAULT_SUV_RANGE = (0.0, 30.0)
"""PET display range in SUV (g/ml) before the reference spheres are placed. Fixed, not
auto-contrast, so that time points compare. Ga-68 DOTATATE's normal spleen is the brightest
large organ (the sample patient's spleen SUVmean is about 25): an FDG-like 0-10 saturates it and
the liver, and the Krenning grades cannot be read by eye."""

SPLEEN_AT_FRACTION = 0.8
"""With a spleen reference, the PET scale tops at spleen SUVmean / 0.8 (= 1.25 × spleen)."""


def suv_display_range(
    liver_suv_mean: float | None, spleen_suv_mean: float | None
) -> tuple[float, float]:
    """PET display range for SSTR PET, scaled from the scan's references (SUVbw g/ml).

    The Krenning scale grades lesion uptake against liver and spleen (Kwekkeboom & Krenning,
    Semin Nucl Med 2002;32:84: 2 = liver, 3 > liver, 4 > spleen). With the spleen at 80 % of the
    colour scale, liver and spleen show as distinct colours and only uptake above the spleen
    (grade 4) saturates to white, so the grade reads from the colour. Without a spleen
    reference the liver sets it (top = 4 × liver, a stand-in until the spleen is placed); without
    either, :data:`DEFAULT_SUV_RANGE`.
    """
    if spleen_suv_mean is not None and spleen_suv_mean > 0:
        return (0.0, round(spleen_suv_mean / SPLEEN_AT_FRACTION, 1))
    if liver_suv_mean is not None and liver_suv_mean > 0:
        return (0.0, round(4.0 * liver_suv_mean, 1))
    return DEFAULT_SUV_RANGE


CT_LAYER_NAME = "CT"
PET_LAYER_NAME = "PET SUV"

LayerData = tuple[Any, dict[str, Any], str]


def _provenance(volume: Volume) -> dict[str, Any]:
    return {
        "recistry": {
            "modality": volume.modality,
            "units": volume.units,
            "study_instance_uid": volume.study_instance_uid,
            "series_instance_uid": volume.series_instance_uid,
            "frame_of_reference_uid": volume.frame_of_reference_uid,
            "spacing_mm": tuple(volume.spacing_mm),
            "origin_mm": tuple(volume.origin_mm),
            "provenance": dict(volume.provenance),
        }
    }


def ct_layer_data(volume: Volume, window: str = DEFAULT_WINDOW) -> LayerData:
    """An Image LayerData tuple for a CT volume in HU: grey, with a named window preset."""
    kwargs = {
        **layer_transform(volume),
        "name": CT_LAYER_NAME,
        "colormap": "gray",
        "contrast_limits": WINDOWS[window].contrast_limits,
        "blending": "translucent",
        "metadata": _provenance(volume),
    }
    return (volume.array, kwargs, "image")


def pet_layer_data(volume: Volume, suv_range: tuple[float, float] = DEFAULT_SUV_RANGE) -> LayerData:
    """An Image LayerData tuple for a PET volume in SUV: hot colormap, additive over the CT."""
    kwargs = {
        **layer_transform(volume),
        "name": PET_LAYER_NAME,
        "colormap": "hot",
        "contrast_limits": suv_range,
        "blending": "additive",
        "opacity": 0.7,
        "metadata": _provenance(volume),
    }
    return (volume.array, kwargs, "image")
