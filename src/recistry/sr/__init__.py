"""DICOM Structured Reporting: recistry readings as TID 1500 measurement reports and back.

Public API
----------
:func:`build_report`
    One reader's reading of one scan as a highdicom Comprehensive 3D SR.
:func:`export_store`
    Every reading of a store as SR files.
:func:`read_report`, :func:`read_sr`, :func:`read_sr_tree`
    Measurements from one TID 1500 file (whole or refused whole), or from every SR file in a
    folder tree; the one reader of ``import`` and ``rescore``.
:func:`write_seg`
    Lesion masks on a CT series' grid as one DICOM SEG (a segment per lesion).
:func:`assign_lesion_ids`
    Distinct ids for lesions that share a Tracking Identifier.
"""

from recistry.sr.export import ExportedReport, export_store
from recistry.sr.reader import (
    ExtraValue,
    SharedLabel,
    SrReport,
    assign_lesion_ids,
    extra_values,
    find_sr_files,
    is_tid1500,
    read_report,
    read_sr,
    read_sr_tree,
)
from recistry.sr.seg import WrittenSegmentation, write_seg
from recistry.sr.writer import ScanReading, build_report

__all__ = [
    "ExportedReport",
    "ExtraValue",
    "ScanReading",
    "SharedLabel",
    "SrReport",
    "WrittenSegmentation",
    "assign_lesion_ids",
    "build_report",
    "export_store",
    "extra_values",
    "find_sr_files",
    "is_tid1500",
    "read_report",
    "read_sr",
    "read_sr_tree",
    "write_seg",
]
