"""Two independent reads of sample_dicom/cohort in one store (test data).

Reader ``ana`` is ``measurements.csv``; reader ``ben`` is ``measurements_reader_b.csv``, written
by ``make_cohort.py``'s ``second_read`` with three planted discordances, one per adjudication
rule (P03 best response, P11 progression by one reader only, P20 baseline targets) and a
±0.8 mm spread of the baseline T1 for Bland–Altman.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "sample_dicom" / "cohort"
SECOND_READ = COHORT / "measurements_reader_b.csv"
DISCORDANT = {"P03": ("best_response",), "P11": ("progression_date",), "P20": ("baseline_targets",)}


def two_reader_store(tmp: Path) -> Path:
    """A store with ``ana``'s and ``ben``'s reads of the cohort and its clinical data."""
    from recistry.cli import main

    store = tmp / "trial.db"
    for table, reader in ((COHORT / "measurements.csv", "ana"), (SECOND_READ, "ben")):
        assert main(["import", str(table), "--store", str(store), "--reader", reader]) == 0
    assert main(["import", "--clinical", str(COHORT / "clinical.csv"), "--store", str(store)]) == 0
    return store
