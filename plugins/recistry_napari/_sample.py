"""npe2 sample data: a synthetic CT + Ga-68 DOTATATE PET patient, written on demand."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

LayerData = tuple[Any, dict[str, Any], str]


def make_sample() -> list[LayerData]:
    """Write a 3-scan synthetic patient (seed 1, CT 128², PET 64²) to a temporary folder and open
    its baseline; an annotator widget takes the study over, with all three scans."""
    from recistry.imaging.synth import write_synthetic_studies
    from recistry_napari._reader import read_study

    out = Path(tempfile.mkdtemp(prefix="recistry-sample-")) / "sample"
    (patient,) = write_synthetic_studies(out, patients=1, timepoints=3, seed=1, size=128)
    return read_study(str(patient.directory))
