"""napari annotator timings (issue 5 targets: open the sample study, CT and PET, in under 3 s;
table and response panel updated within 100 ms of a line edit).

    .venv/bin/python bench/bench_napari.py [--repeats 5] [--edits 50]

Runs under Xvfb when there is no display (it re-executes itself with ``xvfb-run -a``). Opens
``sample_dicom/demo_patient/SYN1-001`` (3 scans, CT 256x256x30, PET 128x128x30) and times:

- ``open study``: ``AnnotatorWidget.open_study`` (index the folder, load the baseline CT in HU
  and PET in SUVbw, add the layers, the Lesions and reference layers, fill the table and run
  the RECIST engine), best of --repeats in a fresh viewer each time. Baseline in the same run:
  ``load_ct`` + ``load_pet_suv`` of the same series and ``viewer.add_image`` of both (the
  irreducible part: reading the pixels and handing them to napari).
- ``line edit``: moving one end of a drawn line on the Lesions layer (the same data event a
  vertex drag ends with) until the table and the response panel show the new values, with three
  targets measured; median and worst over --edits. Baseline: the RECIST engine alone
  (``assess_patient``) on the same rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "sample_dicom" / "demo_patient" / "SYN1-001"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        return subprocess.call(["xvfb-run", "-a", sys.executable, *sys.argv])
    try:
        import napari
    except ImportError:
        print("skipped: napari is not installed (pip install -e '.[napari]')")
        return 0
    import numpy as np

    from recistry.imaging.ct import load_ct
    from recistry.imaging.pet import load_pet_suv
    from recistry.recist.engine import assess_patient
    from recistry.recist.model import PatientRecord, Role
    from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
    from recistry_napari._loading import load_study
    from recistry_napari._qt.annotator import COLUMNS, AnnotatorWidget
    from recistry_napari._reading import Axis, to_measurements

    os.environ.setdefault("NAPARI_CONFIG", str(Path(os.environ.get("TMPDIR", "/tmp")) / "n.yaml"))

    # Warm the page cache and the imports, so both timings see the same disk state.
    study = load_study(STUDY)
    scan = study.scans[0]
    load_ct(scan.ct_paths), load_pet_suv(scan.pet_paths)

    baseline_open, ours_open = [], []
    for _ in range(args.repeats):
        viewer = napari.Viewer(show=False)
        start = time.perf_counter()
        ct, pet = load_ct(scan.ct_paths), load_pet_suv(scan.pet_paths)
        viewer.add_image(ct.array, scale=ct.spacing_mm)
        viewer.add_image(pet.array, scale=pet.spacing_mm, blending="additive")
        baseline_open.append(time.perf_counter() - start)
        viewer.close()

        viewer = napari.Viewer(show=False)
        widget = AnnotatorWidget(viewer)
        viewer.window.add_dock_widget(widget)
        start = time.perf_counter()
        widget.open_study(STUDY)
        ours_open.append(time.perf_counter() - start)
        viewer.close()

    viewer = napari.Viewer(show=False)
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_study(STUDY)
    layer = viewer.layers[LESIONS_LAYER_NAME]
    for n, site in enumerate(("liver", "pancreas", "lung")):
        widget.add_lesion(Role.TARGET, site)
        widget.measure(Axis.LONG)
        layer.add_lines(np.array([[10 + n, 60.0, 40.0], [10 + n, 60.0, 70.0]]))
    column = COLUMNS.index("Long (mm)")
    edit_times, engine_times = [], []
    for i in range(args.edits):
        data = [np.array(d) for d in layer.data]
        data[0][1, 2] = 71.0 + i  # one more pixel each time: the length changes every edit
        start = time.perf_counter()
        layer.data = data
        shown = widget.table.item(0, column).text()
        text = widget.response_text.toPlainText()
        edit_times.append(time.perf_counter() - start)
        expected = widget.reading.at(widget.date).lesion("T1").long_axis.diameter_mm
        assert shown == str(expected) and "sum of diameters" in text, (shown, expected)
        rows = to_measurements(widget.reading)
        start = time.perf_counter()
        assess_patient(PatientRecord(widget.reading.patient_id, rows))
        engine_times.append(time.perf_counter() - start)
    widget.dirty = False
    viewer.close()

    best_open, best_base = min(ours_open), min(baseline_open)
    median_edit, worst_edit = statistics.median(edit_times), max(edit_times)
    median_engine = statistics.median(engine_times)
    print(f"sample study: {STUDY.relative_to(ROOT)} (CT 256x256x30, PET 128x128x30)")
    print(
        f"open study (CT + PET): {best_open:.3f} s best of {args.repeats} "
        f"(target < 3 s: {'met' if best_open < 3 else 'NOT met'}); "
        f"baseline load_ct + load_pet_suv + add_image: {best_base:.3f} s; "
        f"ratio {best_open / best_base:.2f}x"
    )
    print(
        f"line edit -> table and response panel: median {median_edit * 1000:.1f} ms, "
        f"worst {worst_edit * 1000:.1f} ms over {args.edits} edits "
        f"(target < 100 ms: {'met' if worst_edit < 0.1 else 'NOT met'}); "
        f"baseline engine alone: median {median_engine * 1000:.1f} ms; "
        f"ratio {median_edit / median_engine:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
