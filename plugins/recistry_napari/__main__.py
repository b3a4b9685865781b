"""``python -m recistry_napari STUDY_FOLDER``: napari with the annotator docked and the study open.

This is what ``make annotate`` runs on the sample patient.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from recistry.errors import RecistryError
from recistry_napari import PLUGIN_NAME, WIDGET_NAME


def main(argv: Sequence[str] | None = None) -> int:
    """Open napari on a study folder; returns the exit status (2 for a study that cannot open)."""
    parser = argparse.ArgumentParser(
        prog="python -m recistry_napari",
        description="Read a patient's CT/PET study in napari with the RECIST annotator.",
    )
    parser.add_argument("study", type=Path, help="one patient's folder of DICOM files")
    parser.add_argument("--reader", default="", help="your name, recorded with every measurement")
    parser.add_argument("--store", type=Path, help="study store to save to (default recistry.db)")
    args = parser.parse_args(argv)
    from recistry_napari._loading import load_study

    try:
        # Checked before any window opens: a wrong folder is a one-line error, not an empty viewer.
        load_study(args.study)
    except RecistryError as exc:
        print(f"recistry annotate: error: {exc}", file=sys.stderr)
        return 2

    import napari

    viewer = napari.Viewer(title=f"recistry: {args.study}")
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    widget.reader_edit.setText(args.reader)
    if args.store is not None:
        widget.store_edit.setText(str(args.store))
    try:
        widget.open_study(args.study)
    except RecistryError as exc:
        print(f"recistry annotate: error: {exc}", file=sys.stderr)
        widget.dirty = False
        viewer.close()
        return 2
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
