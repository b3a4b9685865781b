"""Deterministic measurement tables for store and SR tests, written as real CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from recistry.tables import MEASUREMENT_COLUMNS

COLUMNS = (
    *MEASUREMENT_COLUMNS,
    "reader",
    "krenning",
    "suv_max",
)


def cohort_rows(
    n_patients: int, *, seed: int = 20240101, reader: str = "reader_a", scans: int = 4
) -> list[dict[str, str]]:
    """Rows of a plausible cohort: two targets (one nodal), one non-target, ``scans`` scans.

    Sizes drift by a per-patient trend so the cohort holds CR/PR/SD/PD calls; values are given
    with one decimal (and sometimes a trailing zero, to check exact decimal round trips).
    """
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for p in range(n_patients):
        pid = f"P{p + 1:05d}"
        base = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 300))
        trend = rng.choice((-0.35, -0.15, 0.0, 0.1, 0.3))
        liver_mm = rng.uniform(15, 60)
        node_mm = rng.uniform(15, 30)
        for s in range(scans):
            date = (base + dt.timedelta(days=56 * s)).isoformat()
            factor = max(0.0, 1 + trend * s)
            liver = round(liver_mm * factor, 1)
            node = round(node_mm * max(0.3, factor), 1)
            grade = str(rng.randrange(0, 5))
            rows.append(
                {
                    "patient_id": pid,
                    "date": date,
                    "lesion_id": "T1",
                    "role": "target",
                    "site": "liver",
                    "nodal": "false",
                    "long_axis_mm": ""
                    if liver == 0
                    else (f"{liver:.2f}" if s == 1 else f"{liver:.1f}"),
                    "short_axis_mm": "",
                    "state": "measured" if liver > 0 else "absent",
                    "reader": reader,
                    "krenning": grade,
                    "suv_max": f"{rng.uniform(2, 30):.2f}",
                }
            )
            rows.append(
                {
                    "patient_id": pid,
                    "date": date,
                    "lesion_id": "T2",
                    "role": "target",
                    "site": "lymph node",
                    "nodal": "true",
                    "long_axis_mm": f"{node * 1.5:.1f}",
                    "short_axis_mm": f"{node:.1f}",
                    "state": "measured",
                    "reader": reader,
                    "krenning": "",
                    "suv_max": "",
                }
            )
            rows.append(
                {
                    "patient_id": pid,
                    "date": date,
                    "lesion_id": "NT1",
                    "role": "non_target",
                    "site": "bone",
                    "nodal": "false",
                    "long_axis_mm": "",
                    "short_axis_mm": "",
                    "state": "progression" if trend > 0.2 and s == scans - 1 else "present",
                    "reader": reader,
                    "krenning": "",
                    "suv_max": "",
                }
            )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path
