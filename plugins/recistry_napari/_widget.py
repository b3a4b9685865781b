"""npe2 widget command: builds the annotator dock widget for a viewer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari

    from recistry_napari._qt.annotator import AnnotatorWidget


def make_annotator(viewer: napari.Viewer) -> AnnotatorWidget:
    """Return the RECIST annotator for ``viewer`` (napari injects the viewer)."""
    from recistry_napari._qt.annotator import AnnotatorWidget

    return AnnotatorWidget(viewer)
