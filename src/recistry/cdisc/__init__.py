"""CDISC SDTM (TU, TR, RS) and ADaM (ADRS, ADTR, ADTTE) datasets from RECIST assessments.

Public API
----------
:func:`build_datasets`
    The six datasets as columns (pure: assessments in, values out).
:class:`StudyContext`
    Study identifier and the adjudicated patients.
:func:`write_datasets`
    SAS transport v5 and CSV files plus the define-style ``define.csv``, all or nothing.
:data:`SPECS`
    Every dataset's variables: name, label, type, codelist and source (docs/cdisc.md).
"""

from recistry.cdisc._metadata import SPECS, DatasetSpec, Variable
from recistry.cdisc.datasets import Columns, StudyContext, build_datasets, sas_date, study_day
from recistry.cdisc.writer import write_datasets

__all__ = [
    "SPECS",
    "Columns",
    "DatasetSpec",
    "StudyContext",
    "Variable",
    "build_datasets",
    "sas_date",
    "study_day",
    "write_datasets",
]
