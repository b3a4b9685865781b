"""How lesion labels are drawn on the canvas: napari ``text`` settings. No Qt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LABEL_OFFSET_MM = 5.0
"""Labels sit this far above their line or point, so they do not cover the lesion."""


def label_text(transform: Mapping[str, Any], size: float = 14) -> dict[str, Any]:
    """napari ``text`` settings for lesion labels: the role's colour, above the shape."""
    rows_mm = abs(float(transform["scale"][1]))
    return {
        "string": "{label}",
        "color": {"feature": "colour"},
        "size": size,
        "anchor": "upper_left",
        "translation": [0.0, -LABEL_OFFSET_MM / rows_mm, 0.0],
    }
