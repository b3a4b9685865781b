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
    from qtpy.QtWidgets import QApplication

    from recistry.imaging.synth import write_synthetic_studies
    from recistry.recist.model import Role
    from recistry_napari import PLUGIN_NAME, WIDGET_NAME

    work = Path(tempfile.mkdtemp(prefix="recistry-screens-"))
    write_synthetic_studies(
        work / "synth", patients=1, timepoints=2, seed=5, size=256, reposition=True
    )
    (truth,) = json.loads((work / "synth" / "ground_truth.json").read_text())["patients"]
    args.out.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(8):
            QApplication.processEvents()

    def snap(viewer: napari.Viewer, name: str) -> None:
        settle()
        path = args.out / f"annotate-{name}.png"
        viewer.screenshot(path=str(path), canvas_only=False, flash=False)
        print(f"wrote {path}")

    def lesion(tp: int, lesion_id: str) -> dict[str, object]:
        found: dict[str, object] = next(
            les for les in truth["timepoints"][tp]["lesions"] if les["lesion_id"] == lesion_id
        )
        return found

    viewer = napari.Viewer(title="recistry", show=True)
    viewer.window._qt_window.setGeometry(0, 0, WIDTH, HEIGHT)
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    widget.reader_edit.setText("Dr Demo")
    widget.store_edit.setText(str(work / "recistry.db"))
    widget.open_study(work / "synth" / truth["patient_id"])
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
    snap(viewer, "11-hot-spots-not-yet-annotated")

    liver = lesion(0, "L1")
    widget.site_edit.setText("liver")
    panel.toggle_armed()
    panel.segment_at(tuple(liver["center_lps_mm"]))  # type: ignore[arg-type]
    from recistry_napari._display import focus

    focus(viewer, liver["center_lps_mm"], field_mm=120.0)  # type: ignore[arg-type]
    snap(viewer, "12-click-proposal")

    panel.accept_selected()
    focus(viewer, liver["center_lps_mm"], field_mm=120.0)  # type: ignore[arg-type]
    snap(viewer, "13-proposal-accepted")

    node = lesion(0, "N1")
    widget._selected = None
    widget.site_edit.setText("lymph node")
    widget.nodal_check.setChecked(True)
    panel.segment_at(tuple(node["center_lps_mm"]))  # type: ignore[arg-type]
    focus(viewer, node["center_lps_mm"], field_mm=90.0)  # type: ignore[arg-type]
    snap(viewer, "14-node-proposal")
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
    snap(viewer, "15-follow-up-proposals")

    widget.dirty = False
    viewer.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
