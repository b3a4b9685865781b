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

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _screens import ROOT, open_annotator, settle, snap, start

SAMPLE = ROOT / "sample_dicom" / "demo_patient"


def main() -> int:
    args = start(__doc__.splitlines()[0])
    if isinstance(args, int):
        return args  # the status of this script run again under xvfb-run
    from qtpy.QtTest import QTest

    from recistry.recist.model import LesionState, Role
    from recistry_napari._reading import Axis
    from recistry_napari._uptake import suggestion

    (truth,) = json.loads((SAMPLE / "ground_truth.json").read_text())["patients"]
    store = Path(tempfile.mkdtemp()) / "recistry.db"

    def open_viewer() -> tuple[Any, Any]:
        return open_annotator(SAMPLE / truth["patient_id"], store)

    viewer, widget = open_viewer()
    snap(viewer, args.out, "01-open")

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
    snap(viewer, args.out, "02-baseline")

    widget.show_timepoint(dt.date.fromisoformat(follow_up["date"]))
    viewer.reset_view()
    snap(viewer, args.out, "03-follow-up-prior-beside")

    widget.select_next_pending()
    snap(viewer, args.out, "04-next-pending-centred")

    references()
    read(follow_up)
    widget.select_lesion(ids["L1"])
    hover(ids["L1"])
    snap(viewer, args.out, "05-follow-up-read")

    widget.show_timepoint(dt.date.fromisoformat(second["date"]))
    widget.baseline_check.setChecked(True)
    widget.select_next_pending()
    snap(viewer, args.out, "06-baseline-prior-current")

    widget.save()
    widget.dirty = False
    viewer.close()

    viewer, widget = open_viewer()
    snap(viewer, args.out, "07-reopened")
    widget.dirty = False
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
