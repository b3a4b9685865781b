"""A second, independent read of sample_dicom/cohort with known discordances (test data).

Reader ``ana`` is the cohort table as shipped. Reader ``ben`` reads the same patients the same
way, except (each a named reason for adjudication):

* P03: ``ben`` measures the targets at 90% of their baseline size at every follow-up, so his
  best response is SD where ``ana``'s is PR (different best response);
* P11: ``ben`` measures the last scan like the one before it, so he calls no progression where
  ``ana`` does (progression by one reader only; both SD);
* P20: ``ben`` chose another second target (T2 is T3 for him; different baseline targets);
* every patient: ``ben``'s baseline T1 differs by (i mod 5 − 2) × 0.4 mm (Bland–Altman spread).
"""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "sample_dicom" / "cohort"
DISCORDANT = {"P03": ("best_response",), "P11": ("progression_date",), "P20": ("baseline_targets",)}


def second_read(out: Path) -> Path:
    """Write ``ben``'s table to ``out`` and return it."""
    with (COHORT / "measurements.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_patient: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_patient.setdefault(row["patient_id"], []).append(row)
    out_rows = []
    for i, (pid, patient_rows) in enumerate(by_patient.items()):
        dates = sorted({r["date"] for r in patient_rows})
        baseline, last = dates[0], dates[-1]
        before_last = dates[-2] if len(dates) > 2 else None
        previous = {r["lesion_id"]: r for r in patient_rows if r["date"] == before_last}
        first = {r["lesion_id"]: r["long_axis_mm"] for r in patient_rows if r["date"] == baseline}
        for row in patient_rows:
            row = dict(row)
            size = row["long_axis_mm"]
            if row["lesion_id"] == "T1" and row["date"] == baseline:
                row["long_axis_mm"] = f"{float(size) + (i % 5 - 2) * 0.4:.1f}"
            if pid == "P03" and row["role"] == "target" and row["date"] != baseline:
                row["long_axis_mm"] = f"{float(first[row['lesion_id']]) * 0.9:.1f}"
            if pid == "P11" and row["date"] == last and row["lesion_id"] in previous:
                row["long_axis_mm"] = previous[row["lesion_id"]]["long_axis_mm"]
                row["state"] = previous[row["lesion_id"]]["state"]
            if pid == "P20" and row["lesion_id"] == "T2":
                row["lesion_id"] = "T3"
            out_rows.append(row)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out_rows)
    return out


def two_reader_store(tmp: Path) -> Path:
    """A store with ``ana``'s and ``ben``'s reads of the cohort and its clinical data."""
    from recistry.cli import main

    store = tmp / "trial.db"
    ben = second_read(tmp / "ben.csv")
    for table, reader in ((COHORT / "measurements.csv", "ana"), (ben, "ben")):
        assert main(["import", str(table), "--store", str(store), "--reader", reader]) == 0
    assert main(["import", "--clinical", str(COHORT / "clinical.csv"), "--store", str(store)]) == 0
    return store
