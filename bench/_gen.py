"""Deterministic synthetic measurement tables for the benchmarks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

SITES = ("liver", "liver", "right lung", "left lung", "mesenteric lymph node")


def target_table(n_patients: int, n_timepoints: int = 6, seed: int = 7) -> pd.DataFrame:
    """Five targets per patient (2 liver, 2 lung, 1 node) over ``n_timepoints`` scans 8 weeks
    apart; sizes follow a per-patient trend with noise, in 0.1 mm steps."""
    rng = np.random.default_rng(seed)
    n_les = len(SITES)
    patient = np.repeat(np.arange(n_patients), n_timepoints * n_les)
    tp = np.tile(np.repeat(np.arange(n_timepoints), n_les), n_patients)
    lesion = np.tile(np.arange(n_les), n_patients * n_timepoints)
    base = rng.uniform(15, 60, size=(n_patients, n_les))
    trend = rng.normal(-0.05, 0.12, size=n_patients)
    noise = rng.normal(0, 0.05, size=patient.size)
    size = base[patient, lesion] * np.clip(1 + trend[patient] * tp + noise * (tp > 0), 0, None)
    size = np.round(size, 1)
    start = dt.date(2022, 1, 3).toordinal()
    dates = np.array(
        [dt.date.fromordinal(start + 56 * k).isoformat() for k in range(n_timepoints)]
    )[tp]
    nodal = lesion == n_les - 1
    sizes = np.char.mod("%.1f", size)
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", np.char.zfill(patient.astype(str), 6)),
            "date": dates,
            "lesion_id": np.char.add("T", (lesion + 1).astype(str)),
            "role": "target",
            "site": np.array(SITES)[lesion],
            "nodal": np.where(nodal, "true", "false"),
            "long_axis_mm": np.where(nodal, np.char.mod("%.1f", size * 1.6), sizes),
            "short_axis_mm": np.where(nodal, sizes, ""),
            "state": "measured",
        }
    )


def write_tables(n_patients: int, folder: Path) -> tuple[Path, Path]:
    """The recistry table and the same data in pyrecist's column names."""
    frame = target_table(n_patients)
    ours = folder / f"targets_{n_patients}.csv"
    frame.to_csv(ours, index=False)
    theirs = folder / f"targets_{n_patients}_pyrecist.csv"
    counted = np.where(frame["nodal"] == "true", frame["short_axis_mm"], frame["long_axis_mm"])
    pd.DataFrame(
        {
            # pyrecist diffs whole rows, so it needs numeric patient IDs and YYYYMMDD dates.
            "patient_id": frame["patient_id"].str[1:].astype(int),
            "study_date": frame["date"].str.replace("-", "", regex=False).astype(int),
            "measurement": counted.astype(float),
            "lesion_label_alias": frame["lesion_id"],
            "lesion_category": "target",
        }
    ).to_csv(theirs, index=False)
    return ours, theirs


if __name__ == "__main__":
    import sys

    write_tables(int(sys.argv[1]), Path(sys.argv[2]))
