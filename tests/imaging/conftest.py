"""Fixtures shared by the imaging tests: one synthetic CT + PET scan written by recistry synth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from recistry.imaging.synth import write_synthetic_studies


@dataclass(frozen=True, slots=True)
class SyntheticScan:
    """The CT and PET folders of one synthetic scan (30 slices; CT 128², PET 64²)."""

    ct: Path
    pet: Path

    def ct_files(self) -> list[Path]:
        return sorted(self.ct.glob("*.dcm"))

    def pet_files(self) -> list[Path]:
        return sorted(self.pet.glob("*.dcm"))


@pytest.fixture(scope="session")
def synthetic_scan(tmp_path_factory: pytest.TempPathFactory) -> SyntheticScan:
    out = tmp_path_factory.mktemp("synthetic") / "study"
    (patient,) = write_synthetic_studies(out, patients=1, timepoints=1, seed=3, size=128)
    (scan,) = sorted(p for p in patient.directory.iterdir() if p.is_dir())
    return SyntheticScan(ct=scan / "CT", pet=scan / "PT")
