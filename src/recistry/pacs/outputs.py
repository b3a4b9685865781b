"""Which files go back to the PACS after an export."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from recistry.sr.export import ExportedReport

__all__ = ["outputs_to_store"]


def outputs_to_store(reports: Iterable[ExportedReport]) -> list[Path]:
    """The SR files an export wrote, plus the indexed DICOM SEG files they reference, each once.

    A report names its lesions' masks as evidence, so a viewer that finds the SR on the PACS can
    open the masks only if they are stored there too.
    """
    chosen: set[Path] = set()
    for report in reports:
        chosen.add(report.path)
        chosen.update(report.segmentations)
    return sorted(chosen, key=os.fspath)
