"""What the screenshot scripts share: a shown 1920x1080 napari window under Xvfb when there is no
display (screenshots of hidden viewers are black), the annotator docked in it, and the writing of
``docs/images/annotate-NN-step.png``."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1920, 1080


def start(description: str) -> argparse.Namespace | int:
    """Parse ``--out``; without a display, run this script again under ``xvfb-run`` and return
    its exit status instead."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        return subprocess.call(
            ["xvfb-run", "-a", "-s", f"-screen 0 {WIDTH}x{HEIGHT}x24", sys.executable, *sys.argv]
        )
    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def settle() -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(8):
        QApplication.processEvents()


def snap(viewer: Any, out: Path, name: str) -> None:
    """The whole window (docks included) as ``out/annotate-NAME.png``."""
    settle()
    path = out / f"annotate-{name}.png"
    viewer.screenshot(path=str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")


def open_annotator(study: Path, store: Path) -> tuple[Any, Any]:
    """A shown viewer of the screenshot size with the annotator docked, ``study`` opened by
    "Dr Demo" with ``store``."""
    import napari

    from recistry_napari import PLUGIN_NAME, WIDGET_NAME

    viewer = napari.Viewer(title="recistry", show=True)
    viewer.window._qt_window.setGeometry(0, 0, WIDTH, HEIGHT)
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    widget.reader_edit.setText("Dr Demo")
    widget.store_edit.setText(str(store))
    widget.open_study(study)
    return viewer, widget
