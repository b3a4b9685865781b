"""A small synthetic archive (real CT/PET DICOM files), indexed and imported into a store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recistry.imaging.discovery import index_tree
from recistry.imaging.synth import write_synthetic_studies
from recistry.recist.model import Measurement
from recistry.store import Store, save_measurements
from recistry.store.dicom_index import save_dicom_index
from recistry.tables import read_measurements


@dataclasses.dataclass(frozen=True)
class Archive:
    root: Path
    table: Path
    store: Path
    measurements: list[Measurement]


def with_endpoints(measurements: list[Measurement], frames: dict[str, str]) -> list[Measurement]:
    """Give every measured axis a two-point line in patient mm (LPS) of its series' frame.

    Coordinates have 3 decimals: SR Graphic Data is float32 (FL), which keeps them exactly.
    """
    out = []
    for i, m in enumerate(measurements):
        extra = dict(m.extra)
        frame = frames.get(extra.get("series_uid", ""))
        if frame and m.long_axis_mm is not None:
            z = -40.0 + 5.0 * (i % 7)
            half = float(m.long_axis_mm) / 2
            extra |= {
                "frame_of_reference_uid": frame,
                "long_axis_start_mm": f"{-half:.3f} 12.5 {z}",
                "long_axis_end_mm": f"{half:.3f} 12.5 {z}",
            }
            if m.short_axis_mm is not None:
                s = float(m.short_axis_mm) / 2
                extra |= {
                    "short_axis_start_mm": f"0.0 {12.5 - s:.3f} {z}",
                    "short_axis_end_mm": f"0.0 {12.5 + s:.3f} {z}",
                }
        out.append(dataclasses.replace(m, extra=extra))
    return out


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("archive"))


def build_archive(folder: Path) -> Archive:
    """Two synthetic patients x three scans, indexed and imported (reader dr_a) into a store."""
    root = folder / "dicom"
    write_synthetic_studies(root, patients=2, timepoints=3, seed=11, size=32)
    store_path = root.parent / "store.db"
    index = index_tree(root)
    frames = {
        s.series_instance_uid: s.frame_of_reference_uid
        for p in index.patients
        for st in p.studies
        for s in st.series
        if s.frame_of_reference_uid
    }
    measurements = with_endpoints(read_measurements(root / "measurements.csv"), frames)
    with Store(store_path) as store:
        save_dicom_index(store, index)
        save_measurements(store, measurements, source=str(root / "measurements.csv"), reader="dr_a")
    return Archive(root, root / "measurements.csv", store_path, measurements)
