"""The study store: one SQLite file holding the DICOM index, clinical data and every revision
of every reader's measurements (append-only), with the audit trail behind each response call.

Public API
----------
:class:`Store`
    An open store (WAL, foreign keys, migrations); writes are single transactions.
:func:`save_measurements`, :func:`save_clinical`, :func:`accept_reader`
    Append readings, clinical records, and the choice of the read a cohort uses.
:func:`validate_reads`
    The one validation of a reading (the engine's), run by every write of readings.
:func:`load_records`
    The measurements in force, grouped into :class:`~recistry.recist.model.PatientRecord`.
"""

from recistry.store.database import Store, is_store_file
from recistry.store.readings import (
    UNSPECIFIED_READER,
    ImportSummary,
    accept_reader,
    chosen_readers,
    clinical_in_force,
    in_force_measurements,
    load_records,
    save_clinical,
    save_measurements,
    validate_reads,
)

__all__ = [
    "UNSPECIFIED_READER",
    "ImportSummary",
    "Store",
    "accept_reader",
    "chosen_readers",
    "clinical_in_force",
    "in_force_measurements",
    "is_store_file",
    "load_records",
    "save_clinical",
    "save_measurements",
    "validate_reads",
]
