"""The npe2 manifest: installed with recistry, valid, and pointing at importable code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from npe2 import PluginManifest

from recistry_napari import PLUGIN_NAME, WIDGET_NAME


def test_manifest_is_registered_by_the_distribution_and_valid() -> None:
    manifest = PluginManifest.from_distribution("recistry")
    assert manifest.name == PLUGIN_NAME
    # Imports every python_name, as `npe2 validate --imports` does.
    manifest.validate_imports()
    reader = next(iter(manifest.contributions.readers or []))
    assert reader.accepts_directories
    assert [w.display_name for w in manifest.contributions.widgets or []] == [WIDGET_NAME]


def test_npe2_validate_command_passes() -> None:
    npe2 = Path(sys.executable).with_name("npe2")
    done = subprocess.run(
        [str(npe2), "validate", "--imports", "recistry"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
