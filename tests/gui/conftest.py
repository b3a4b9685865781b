"""GUI test set-up: napari settings in a throw-away file, so no test reads or writes the user's;
fixtures the proposal and hot-spot tests share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# napari reads NAPARI_CONFIG when its settings are first used; the suffix must be .yaml.
os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))


@pytest.fixture
def no_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a viewer with unsaved changes asks (a modal box): discard, as a test ends."""
    from qtpy.QtWidgets import QMessageBox

    monkeypatch.setattr(
        QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Discard
    )


@pytest.fixture(scope="module")
def repositioned_case() -> Iterator[tuple[Path, dict[str, Any]]]:
    """The synthetic patient with two scans and the patient moved between them, and its truth."""
    from tests.gui._proposals import cleanup, repositioned_study

    yield repositioned_study()
    cleanup()
