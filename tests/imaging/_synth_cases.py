"""One repositioned synthetic patient with a lung nodule, shared by the segmentation, tracking
and hot-spot tests (written once per test session)."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recistry.imaging.folders import load_ct_folder, load_pet_folder
from recistry.imaging.synth import write_synthetic_studies
from recistry.imaging.volume import Volume

SIZE = 256
SEED = 5


@dataclass(frozen=True)
class Scan:
    ct_dir: Path
    pet_dir: Path
    ct: Volume
    pet: Volume
    truth: dict[str, Any]


@functools.cache
def repositioned_case() -> tuple[dict[str, Any], tuple[Scan, ...]]:
    """Baseline and one repositioned follow-up of patient script 0 (PR), CT 256², PET 128²,
    with the lung nodule; written once per test process, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="recistry-segment-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / "synth"
    write_synthetic_studies(
        out, patients=1, timepoints=2, seed=SEED, size=SIZE, reposition=True, lung=True
    )
    document: dict[str, Any] = json.loads((out / "ground_truth.json").read_text())
    patient = document["patients"][0]
    scans = []
    for tp in patient["timepoints"]:
        ct_dir, pet_dir = out / tp["ct_folder"], out / tp["pet_folder"]
        scans.append(Scan(ct_dir, pet_dir, load_ct_folder(ct_dir), load_pet_folder(pet_dir), tp))
    return patient, tuple(scans)
