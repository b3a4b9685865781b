"""napari annotator at real size: open, switch time point, line edit, save (issue 13 targets).

    .venv/bin/python bench/bench_napari.py [--edits 40] [--keep DIR]

Writes one synthetic patient with ``recistry synth``'s writer into a temporary folder (not
committed): 4 scans, each a CT of 512 x 512 x 300 and a PET of 192 x 192 x 300 (the synthesiser's
PET is half the CT matrix, capped at 192; its 30 slices of 5 mm are written as 300 of 0.5 mm, the
same anatomy). The viewer is shown (under ``xvfb-run`` when there is no display), so drawing is
part of every timing. Targets: open < 2 s, switch < 0.5 s, edit median < 50 ms and worst
< 100 ms, save < 0.5 s.

- ``open``: ``AnnotatorWidget.open_study`` (index, load baseline CT in HU and PET in SUVbw, add the
  layers, table, engine) until drawn, in a window already on screen with the annotator docked
  (as when a reader chooses a study after napari started; the baseline's window is on screen
  too). Baseline: ``load_ct`` + ``load_pet_suv`` of the same series
  and napari's bare ``add_image`` of both, until drawn.
- ``switch``: the next follow-up with the prior beside it (both views), median of 3 switches,
  each after the background read of the next scan finished (it starts 3 s after a scan is
  shown; a switch to a scan not yet read also reads it, like ``open``). Edits are timed with no
  background read running too. Baseline: bare ``add_image`` of an already loaded CT and PET,
  replacing the old layers.
- ``edit``: one end of a drawn line dragged with the mouse (real Qt mouse events on the canvas,
  napari's vertex tool): from the button's release (napari's end-of-drag data event) until
  the table, response panel and canvas are updated; median and worst over --edits, each
  started with no background work running (a lesion's PET uptake, measured off the GUI thread
  after an edit, is timed separately: ``uptake``). Baseline: the same drag of a line on a bare
  Shapes layer over the same CT and PET, with the line's length as its label updated when the
  drag ends (the canvas redraw any length display needs); the same drag without a label,
  where napari redraws nothing, is printed too. Also printed, for comparison with earlier runs: the
  line moved by assigning ``layer.data`` (the whole layer rebuilt), against the same
  assignment on the bare layer.
- ``save``: what Ctrl+S does (``AnnotatorWidget.save(wait=False)``) with a reading of 3 targets
  on every scan: the store append, with the GUI blocked, until drawn; the SR export that
  follows off the GUI thread is timed until the status line reports the files. Baseline: the
  bare ``add_image`` of ``open``, for scale.

The last line is ``napari real-size: open X s, switch X s, edit median X ms worst X ms, save X s``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SLICES = 300
ROOT = Path(__file__).resolve().parents[1]


def _write_study(out: Path) -> Path:
    from recistry.imaging import synth

    # The synthesiser writes 30 slices of 5 mm; the same body at 0.5 mm gives 300 slices.
    factor = SLICES // synth.N_SLICES
    synth.N_SLICES = SLICES  # type: ignore[misc]
    synth.SLICE_SPACING_MM = synth.SLICE_SPACING_MM / factor  # type: ignore[misc]
    (patient,) = synth.write_synthetic_studies(out, patients=1, timepoints=4, seed=3, size=512)
    return Path(patient.directory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the study here")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        return subprocess.call(
            ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        )
    try:
        import napari
    except ImportError:
        print("skipped: napari is not installed (pip install -e '.[napari]')")
        return 0
    import numpy as np
    import pandas as pd
    from qtpy.QtWidgets import QApplication

    sys.path.insert(0, str(ROOT))  # the GUI tests' mouse gestures
    from tests.gui import _mouse

    from recistry.imaging.ct import load_ct
    from recistry.imaging.pet import load_pet_suv
    from recistry.recist.model import Role
    from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
    from recistry_napari._loading import load_study
    from recistry_napari._qt.annotator import COLUMNS, AnnotatorWidget
    from recistry_napari._reading import Axis

    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-napari-"))
    root = args.keep or tmp / "study"
    start = time.perf_counter()
    if args.keep is not None and args.keep.exists():
        study_dir = next(p for p in args.keep.iterdir() if p.is_dir())
    else:
        study_dir = _write_study(root)
    print(f"study written in {time.perf_counter() - start:.1f} s: {study_dir}")

    def drawn() -> None:
        for _ in range(3):
            QApplication.processEvents()

    def drag_edits(viewer: Any, layer: Any, count: int, settle: Any) -> list[float]:
        """Drag the second end of the layer's first line 2 mm right and back, ``count``
        times, with the mouse; seconds from each release until drawn."""
        first = np.asarray(layer.data[0])
        viewer.dims.set_point(0, float(layer.data_to_world(first[0])[0]))
        viewer.layers.selection.active = layer
        layer.selected_data = {0}
        layer.mode = "direct"
        drawn()
        times = []
        for i in range(count):
            settle()
            end = np.asarray(layer.data_to_world(np.asarray(layer.data[0])[1]))
            moved = end + np.array([0.0, 0.0, 2.0 if i % 2 == 0 else -2.0])
            _mouse.press(viewer, end)
            _mouse.move(viewer, moved)
            drawn()
            t0 = time.perf_counter()
            _mouse.release(viewer, moved)
            drawn()
            times.append(time.perf_counter() - t0)
        layer.mode = "pan_zoom"
        return times

    study = load_study(study_dir)
    scans = study.scans
    load_ct(scans[0].ct_paths), load_pet_suv(scans[0].pet_paths)  # warm the page cache

    # Baseline: bare napari.
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.setGeometry(0, 0, 1920, 1080)
    drawn()  # the window on screen before the reader chooses a study
    t0 = time.perf_counter()
    ct, pet = load_ct(scans[0].ct_paths), load_pet_suv(scans[0].pet_paths)
    viewer.add_image(ct.array, scale=ct.spacing_mm)
    viewer.add_image(pet.array, scale=pet.spacing_mm, blending="additive")
    drawn()
    bare_open = time.perf_counter() - t0
    ct1, pet1 = load_ct(scans[1].ct_paths), load_pet_suv(scans[1].pet_paths)
    t0 = time.perf_counter()
    viewer.layers.clear()
    viewer.add_image(ct1.array, scale=ct1.spacing_mm)
    viewer.add_image(pet1.array, scale=pet1.spacing_mm, blending="additive")
    drawn()
    bare_switch = time.perf_counter() - t0
    shapes = viewer.add_shapes(ndim=3, scale=ct1.spacing_mm)
    shapes.add_lines(np.array([[150.0, 250.0, 200.0], [150.0, 250.0, 260.0]]))
    bare_assign = []
    for i in range(args.edits):
        data = [np.array(d) for d in shapes.data]
        data[0][1, 2] = 261.0 + i
        t0 = time.perf_counter()
        shapes.data = data
        drawn()
        bare_assign.append(time.perf_counter() - t0)
    bare_edits = drag_edits(viewer, shapes, args.edits, lambda: None)
    # The least a length label costs: the same drag, with the line's length (mm) as its label,
    # updated when the drag ends (napari redraws the canvas for it).
    shapes.features = pd.DataFrame({"label": [""]})
    shapes.text = {"string": "{label}", "color": "yellow", "size": 12}

    def label_length(event: Any) -> None:
        if event.action == "changed":
            ends = np.array([shapes.data_to_world(v) for v in shapes.data[0][:2]])
            shapes.features = pd.DataFrame({"label": [f"{np.linalg.norm(ends[1] - ends[0]):.1f}"]})

    shapes.events.data.connect(label_length)
    bare_labelled = drag_edits(viewer, shapes, args.edits, lambda: None)
    viewer.close()
    del ct, pet, ct1, pet1

    # The annotator.
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.setGeometry(0, 0, 1920, 1080)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    widget.reader_edit.setText("Dr Bench")
    widget.store_edit.setText(str(tmp / "recistry.db"))
    drawn()  # docked and on screen (napari's start), then the reader chooses a study
    t0 = time.perf_counter()
    widget.open_study(study_dir)
    drawn()
    open_s = time.perf_counter() - t0

    layer = viewer.layers[LESIONS_LAYER_NAME]

    def measure_three() -> None:
        ids = [les.lesion_id for les in widget.reading.at(widget.date).lesions]
        for n, site in enumerate(("liver", "pancreas", "lung")):
            lesion_id = (
                ids[n] if n < len(ids) else widget.add_lesion(Role.TARGET, site)  # baseline only
            )
            widget.select_lesion(lesion_id)
            widget.measure(Axis.LONG)
            layer.add_lines(np.array([[140.0 + n, 250.0, 200.0], [140.0 + n, 250.0, 240.0 + n]]))
            drawn()

    measure_three()

    def prefetched() -> None:
        # The next scan is read in the background a few seconds after a scan is shown; a reader
        # spends longer than that on a scan, so edits and switches are timed after it.
        deadline = time.perf_counter() + 10
        while not widget._prefetch and time.perf_counter() < deadline:
            QApplication.processEvents()
            time.sleep(0.05)
        for future in list(widget._prefetch.values()):
            future.result()

    prefetched()
    column = COLUMNS.index("Long (mm)")
    assigned = []
    for i in range(args.edits):
        widget.finish_background_work()
        drawn()
        data = [np.array(d) for d in layer.data]
        data[0][1, 2] = 241.0 + i  # one more pixel each time: the length changes every edit
        t0 = time.perf_counter()
        layer.data = data
        drawn()
        assigned.append(time.perf_counter() - t0)
    lengths = set()

    def settle() -> None:
        widget.finish_background_work()
        drawn()
        lengths.add(widget.table.item(0, column).text())

    edits = drag_edits(viewer, layer, args.edits, settle)
    settle()
    shown = widget.table.item(0, column).text()
    expected = widget.reading.at(widget.date).lesions[0].long_axis.diameter_mm
    text = widget.response_text.toPlainText()
    assert len(lengths) == 2 and shown == str(expected) and "sum of diameters" in text, (
        lengths,
        shown,
        expected,
    )
    uptakes = []
    for _ in range(5):  # PET uptake of a drawn line, measured in the background
        lesion = widget.reading.at(widget.date).lesions[0]
        t0 = time.perf_counter()
        widget._measure_uptake_later(widget.date, lesion.lesion_id)
        widget.finish_background_work()
        uptakes.append(time.perf_counter() - t0)

    switches = []
    for scan in scans[1:]:
        prefetched()
        t0 = time.perf_counter()
        widget.show_timepoint(scan.date)
        drawn()
        switches.append(time.perf_counter() - t0)
        measure_three()
    t0 = time.perf_counter()
    result = widget.save(wait=False)  # as Ctrl+S does: the SR export continues off the GUI thread
    drawn()
    save_s = time.perf_counter() - t0
    while "SR file(s) in" not in widget.status_label.text():
        QApplication.processEvents()
        time.sleep(0.01)
    export_s = time.perf_counter() - t0
    exported = widget.status_label.text()
    widget.dirty = False
    viewer.close()

    switch_s = statistics.median(switches)
    median_edit, worst_edit = statistics.median(edits), max(edits)
    print(
        f"open: {open_s:.2f} s (bare load + add_image {bare_open:.2f} s, ratio "
        f"{open_s / bare_open:.1f}x; target < 2 s)"
    )
    print(
        f"switch (both views, next scan prefetched): median {switch_s:.2f} s of "
        f"{[round(s, 2) for s in switches]} "
        f"(bare add_image {bare_switch:.2f} s, ratio {switch_s / bare_switch:.1f}x; target < 0.5 s)"
    )
    bare_median = statistics.median(bare_labelled)
    print(
        f"edit (vertex drag released): median {median_edit * 1000:.0f} ms, worst "
        f"{worst_edit * 1000:.0f} ms over {args.edits} (bare Shapes drag with a length label: "
        f"median {bare_median * 1000:.0f} ms, worst {max(bare_labelled) * 1000:.0f} ms, ratio "
        f"{median_edit / bare_median:.1f}x; without the label, nothing to redraw: median "
        f"{statistics.median(bare_edits) * 1000:.0f} ms; targets < 50 / < 100 ms)"
    )
    print(
        f"edit (layer.data assigned): median {statistics.median(assigned) * 1000:.0f} ms, worst "
        f"{max(assigned) * 1000:.0f} ms (bare median {statistics.median(bare_assign) * 1000:.0f} "
        f"ms); PET uptake in the background: median {statistics.median(uptakes) * 1000:.0f} ms"
    )
    print(
        f"save: {save_s:.2f} s with the GUI blocked (store append of {result.new_revisions} "
        f"revisions); SR export done off the GUI thread after {export_s:.2f} s: "
        f"{exported!r} (bare add_image {bare_open:.2f} s for scale; "
        "target < 0.5 s)"
    )
    print(
        f"napari real-size: open {open_s:.2f} s, switch {switch_s:.2f} s, edit median "
        f"{median_edit * 1000:.0f} ms worst {worst_edit * 1000:.0f} ms, save {save_s:.2f} s"
    )
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
