"""Write docs/images/annotator.png: the annotator during a follow-up reading of the sample patient.

    .venv/bin/python scripts/screenshot_annotator.py [--out docs/images/annotator.png]

Opens sample_dicom/demo_patient/SYN1-001 in a shown napari window (under ``xvfb-run`` when there
is no display: screenshots of hidden viewers are black), reads the baseline and first follow-up
from the ground truth as a reader would (reference spheres, target diameters, non-target states,
Krenning grades) and captures the whole window, dock widget included. Nothing is saved to a
store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dicom" / "demo_patient"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "annotator.png")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        return subprocess.call(
            ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", sys.executable, *sys.argv]
        )
    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    import napari
    from qtpy.QtWidgets import QApplication

    from recistry.recist.model import LesionState, Role
    from recistry_napari import PLUGIN_NAME, WIDGET_NAME
    from recistry_napari._reading import Axis
    from recistry_napari._uptake import suggestion

    (truth,) = json.loads((SAMPLE / "ground_truth.json").read_text())["patients"]
    viewer = napari.Viewer(title="recistry: SYN1-001", show=True)
    viewer.window.resize(1900, 1100)
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    widget.reader_edit.setText("Dr Demo")
    widget.store_edit.setText(str(Path(tempfile.mkdtemp()) / "recistry.db"))
    widget.open_study(SAMPLE / truth["patient_id"])

    liver = [
        c + d
        for c, d in zip(truth["liver_ellipsoid"]["center_lps_mm"], (-45, -10, -10), strict=True)
    ]
    spleen = truth["spleen_ellipsoid"]["center_lps_mm"]
    ids: dict[str, str] = {}
    for tp in truth["timepoints"][:2]:
        widget.show_timepoint(dt.date.fromisoformat(tp["date"]))
        refs = widget.viewer.layers["Reference regions"]
        for organ, centre in (("liver", liver), ("spleen", spleen)):
            widget.place_reference(organ)
            refs.add(refs.world_to_data([centre[2], centre[1], centre[0]]))
            QApplication.processEvents()
        for lesion in tp["lesions"]:
            role = Role(lesion["role"])
            if lesion["lesion_id"] not in ids:
                ids[lesion["lesion_id"]] = widget.add_lesion(role, lesion["site"], lesion["nodal"])
            lesion_id = ids[lesion["lesion_id"]]
            if role is Role.TARGET:
                widget.draw(lesion_id, Axis.LONG, *lesion["long_axis_endpoints_lps_mm"])
                if lesion["nodal"]:
                    widget.draw(lesion_id, Axis.SHORT, *lesion["short_axis_endpoints_lps_mm"])
                current = widget.reading.at(widget.date)
                found = suggestion(current, current.lesion(lesion_id))
                if found is not None and not isinstance(found, str) and found.grade is not None:
                    widget.set_krenning(found.grade)
            else:
                widget.select_lesion(lesion_id)
                widget.set_state(LesionState.PRESENT)
            QApplication.processEvents()
    # Ga-68 DOTATATE: spleen ~25 and lesions up to ~40 SUV; a wider range keeps the CT readable.
    widget.suv_max_spin.setValue(30.0)
    viewer.layers["PET SUV"].opacity = 0.5
    widget.select_lesion(ids["L1"])
    widget.lesions.disarm()
    viewer.layers.selection.active = viewer.layers["Lesions"]
    viewer.reset_view()
    for _ in range(5):
        QApplication.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=str(args.out), canvas_only=False, flash=False)
    widget.dirty = False  # a demonstration: nothing to save
    viewer.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
