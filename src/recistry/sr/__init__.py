"""DICOM Structured Reporting: recistry readings as TID 1500 measurement reports and back.

Public API
----------
:func:`build_report`
    One reader's reading of one scan as a highdicom Comprehensive 3D SR.
:func:`export_store`
    Every reading of a store as SR files.
:func:`read_sr`, :func:`read_sr_tree`
    Measurements from one TID 1500 file, or from every SR file in a folder tree.
"""

from recistry.sr.export import ExportedReport, export_store
from recistry.sr.reader import find_sr_files, is_tid1500, read_sr, read_sr_tree
from recistry.sr.writer import ScanReading, build_report

__all__ = [
    "ExportedReport",
    "ScanReading",
    "build_report",
    "export_store",
    "find_sr_files",
    "is_tid1500",
    "read_sr",
    "read_sr_tree",
]
