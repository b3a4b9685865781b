"""Write docs/images/annotate-1N-*.png: one-click measurement, follow-up proposals, hot spots.

    .venv/bin/python scripts/screenshot_proposals.py [--out docs/images]

The sibling of scripts/screenshot_annotator.py. A synthetic patient with known truth, laid
differently on the table at its follow-up (``recistry synth --reposition``, seed 5, CT 256²),
is written to a temporary folder and read in a shown napari window of 1920x1080 (under
``xvfb-run`` when there is no display): the hot spots listed at baseline, a click inside the
liver lesion and its proposal, the proposal accepted, a node proposed with its short axis, then
the follow-up with every prior lesion proposed in place after registration.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _screens import open_annotator, settle, snap, start


def main() -> int:
    args = start(__doc__.splitlines()[0])
    if isinstance(args, int):
        return args  # the status of this script run again under xvfb-run
    from qtpy.QtWidgets import QApplication

    from recistry.imaging.synth import write_synthetic_studies
    from recistry.recist.model import Role

    work = Path(tempfile.mkdtemp(prefix="recistry-screens-"))
    write_synthetic_studies(
        work / "synth", patients=1, timepoints=2, seed=5, size=256, reposition=True
    )
    (truth,) = json.loads((work / "synth" / "ground_truth.json").read_text())["patients"]

    def lesion(tp: int, lesion_id: str) -> dict[str, object]:
        found: dict[str, object] = next(
            les for les in truth["timepoints"][tp]["lesions"] if les["lesion_id"] == lesion_id
        )
        return found

    viewer, widget = open_annotator(work / "synth" / truth["patient_id"], work / "recistry.db")
    panel = widget.proposal_panel

    def wait() -> None:
        import time

        started = time.monotonic()  # the jobs start once a scan has been shown 0.3 s
        while not panel.busy and time.monotonic() - started < 2.0:
            QApplication.processEvents()
        while panel.busy:
            QApplication.processEvents()
        settle()

    wait()
    widget.viewer.reset_view()
    snap(viewer, args.out, "11-hot-spots-not-yet-annotated")

    liver = lesion(0, "L1")
    widget.site_edit.setText("liver")
    panel.toggle_armed()
    panel.segment_at(tuple(liver["center_lps_mm"]))  # type: ignore[arg-type]
    from recistry_napari._display import focus

    focus(viewer, liver["center_lps_mm"], field_mm=120.0)  # type: ignore[arg-type]
    snap(viewer, args.out, "12-click-proposal")

    panel.accept_selected()
    focus(viewer, liver["center_lps_mm"], field_mm=120.0)  # type: ignore[arg-type]
    snap(viewer, args.out, "13-proposal-accepted")

    node = lesion(0, "N1")
    widget._selected = None
    widget.site_edit.setText("lymph node")
    widget.nodal_check.setChecked(True)
    panel.segment_at(tuple(node["center_lps_mm"]))  # type: ignore[arg-type]
    focus(viewer, node["center_lps_mm"], field_mm=90.0)  # type: ignore[arg-type]
    snap(viewer, args.out, "14-node-proposal")
    panel.accept_selected()
    widget.nodal_check.setChecked(False)
    bone = lesion(0, "B1")
    nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
    widget.place(nt1, bone["center_lps_mm"])
    settle()

    widget.show_timepoint(dt.date.fromisoformat(truth["timepoints"][1]["date"]))
    wait()
    widget.select_lesion("T1")
    focus(viewer, panel.proposals[widget.date][0].location_lps, field_mm=160.0)
    snap(viewer, args.out, "15-follow-up-proposals")

    widget.dirty = False
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
