"""GUI test set-up: napari settings in a throw-away file, so no test reads or writes the user's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# napari reads NAPARI_CONFIG when its settings are first used; the suffix must be .yaml.
os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
