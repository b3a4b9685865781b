"""Steps the GUI tests take as a reader would: a two-scan study, the annotator opened on it,
a line drawn after pressing Measure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
from recistry_napari._qt.annotator import COLUMNS, AnnotatorWidget
from recistry_napari._reading import Axis
from tests.gui._dicom import write_ct_series

BASELINE = dt.date(2024, 1, 15)
FOLLOW_UP = dt.date(2024, 3, 11)


def two_scan_study(root: Path, patient_id: str) -> Path:
    """A baseline and a follow-up CT series of one patient under ``root``."""
    write_ct_series(root / "a", patient_id=patient_id, study_date=BASELINE)
    write_ct_series(root / "b", patient_id=patient_id, study_date=FOLLOW_UP, seed=8)
    return root


def open_annotator(viewer: Any, study: Path, store: Path, reader: str) -> AnnotatorWidget:
    """The annotator docked in ``viewer``, with reader and store typed in, ``study`` opened."""
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    widget.reader_edit.setText(reader)
    widget.store_edit.setText(str(store))
    widget.open_study(study)
    return widget


def draw(
    widget: AnnotatorWidget, lesion_id: str, start: Any, end: Any, axis: Axis = Axis.LONG
) -> None:
    """Draw a line as the user would after pressing a Measure button (data coordinates)."""
    widget.select_lesion(lesion_id)
    widget.measure(axis)
    layer = widget.viewer.layers[LESIONS_LAYER_NAME]
    assert layer.mode == "add_line"
    # The user draws on the slice shown: go there first.
    widget.viewer.dims.set_point(0, layer.data_to_world(start)[0])
    layer.add_lines(np.array([start, end], dtype=float))


def table_cell(widget: AnnotatorWidget, lesion_id: str, column: str) -> str:
    """The text of the lesion table's ``column`` in ``lesion_id``'s row."""
    for row in range(widget.table.rowCount()):
        item = widget.table.item(row, 0)
        if item is not None and item.text() == lesion_id:
            cell = widget.table.item(row, COLUMNS.index(column))
            return "" if cell is None else cell.text()
    raise KeyError(lesion_id)
