"""Write docs/images/annotate-*.png: one screenshot per step of reading the sample patient.

    .venv/bin/python scripts/screenshot_annotator.py [--out docs/images]

Opens sample_dicom/demo_patient/SYN1-001 in a shown napari window of 1920x1080 (under
``xvfb-run`` when there is no display: screenshots of hidden viewers are black) and reads it as a
radiologist would, from the ground truth: baseline targets measured and non-targets located,
reference spheres placed, then the first follow-up with the prior beside it, each pending lesion
found and assessed, the second follow-up with the baseline as a third view, and finally the
reading reopened from the store. Each step's window (docks included) is written to
``annotate-NN-step.png``. The store is a temporary file.
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
WIDTH, HEIGHT = 1920, 1080


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        return subprocess.call(
            ["xvfb-run", "-a", "-s", f"-screen 0 {WIDTH}x{HEIGHT}x24", sys.executable, *sys.argv]
        )
    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    import napari
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from recistry.recist.model import LesionState, Role
    from recistry_napari import PLUGIN_NAME, WIDGET_NAME
    from recistry_napari._reading import Axis
    from recistry_napari._uptake import suggestion

    (truth,) = json.loads((SAMPLE / "ground_truth.json").read_text())["patients"]
    store = Path(tempfile.mkdtemp()) / "recistry.db"
    args.out.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(8):
            QApplication.processEvents()

    def snap(viewer: napari.Viewer, name: str) -> None:
        settle()
        path = args.out / f"annotate-{name}.png"
        viewer.screenshot(path=str(path), canvas_only=False, flash=False)
        print(f"wrote {path}")

    def open_viewer() -> tuple[napari.Viewer, object]:
        viewer = napari.Viewer(title="recistry", show=True)
        viewer.window._qt_window.setGeometry(0, 0, WIDTH, HEIGHT)
        _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
        widget.reader_edit.setText("Dr Demo")
        widget.store_edit.setText(str(store))
        widget.open_study(SAMPLE / truth["patient_id"])
        return viewer, widget

    viewer, widget = open_viewer()
    snap(viewer, "01-open")

    liver = [
        c + d
        for c, d in zip(truth["liver_ellipsoid"]["center_lps_mm"], (-45, -10, -10), strict=True)
    ]
    spleen = truth["spleen_ellipsoid"]["center_lps_mm"]

    def references() -> None:
        for organ, centre in (("liver", liver), ("spleen", spleen)):
            widget.place_reference(organ)
            refs = viewer.layers["Reference regions"]  # made by the first placement
            refs.add(refs.world_to_data([centre[2], centre[1], centre[0]]))
            settle()

    ids: dict[str, str] = {}

    def hover(lesion_id: str) -> None:
        # The mouse over a lesion: HU and SUV under it show on the canvas.
        lesion = widget.reading.at(widget.date).lesion(lesion_id)
        line = lesion.long_axis
        if line is None:
            return
        centre = [(a + b) / 2 for a, b in zip(line.start_lps, line.end_lps, strict=True)]
        viewer.cursor.position = (centre[2], centre[1], centre[0])
        settle()
        QTest.qWait(150)  # the canvas readout is updated at most every 80 ms

    def read(tp: dict[str, object], stop_before: str | None = None) -> None:
        for lesion in tp["lesions"]:  # type: ignore[attr-defined]
            if lesion["lesion_id"] == stop_before:
                return
            role = Role(lesion["role"])
            if lesion["lesion_id"] not in ids:
                ids[lesion["lesion_id"]] = widget.add_lesion(role, lesion["site"], lesion["nodal"])
            lesion_id = ids[lesion["lesion_id"]]
            if role is Role.TARGET:
                widget.draw(lesion_id, Axis.LONG, *lesion["long_axis_endpoints_lps_mm"])
                if lesion["nodal"]:
                    widget.draw(lesion_id, Axis.SHORT, *lesion["short_axis_endpoints_lps_mm"])
                widget.finish_background_work()  # the PET uptake, measured off the GUI thread
                current = widget.reading.at(widget.date)
                found = suggestion(current, current.lesion(lesion_id))
                if found is not None and not isinstance(found, str) and found.grade is not None:
                    widget.set_krenning(found.grade)
            else:
                widget.select_lesion(lesion_id)
                widget.set_state(LesionState.PRESENT)
                widget.place(lesion_id, lesion["center_lps_mm"])
            settle()

    baseline, follow_up, second = truth["timepoints"][:3]
    references()
    read(baseline)
    widget.select_lesion(ids["L1"])
    snap(viewer, "02-baseline")

    widget.show_timepoint(dt.date.fromisoformat(follow_up["date"]))
    viewer.reset_view()
    snap(viewer, "03-follow-up-prior-beside")

    widget.select_next_pending()
    snap(viewer, "04-next-pending-centred")

    references()
    read(follow_up)
    widget.select_lesion(ids["L1"])
    hover(ids["L1"])
    snap(viewer, "05-follow-up-read")

    widget.show_timepoint(dt.date.fromisoformat(second["date"]))
    widget.baseline_check.setChecked(True)
    widget.select_next_pending()
    snap(viewer, "06-baseline-prior-current")

    widget.save()
    widget.dirty = False
    viewer.close()

    viewer, widget = open_viewer()
    snap(viewer, "07-reopened")
    widget.dirty = False
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
