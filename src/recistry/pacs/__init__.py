"""Query, retrieve and store with a PACS: DICOMweb (QIDO-RS, WADO-RS, STOW-RS) or DIMSE
(C-FIND, C-GET, C-MOVE, C-STORE).

``pull`` brings studies into a folder tree (``OUT/<PatientID>/<StudyUID>/<SeriesUID>/
<SOPUID>.dcm``) that ``recistry index``, the napari annotator and ``rescore`` read; ``push``
stores recistry's SR (and SEG) files back so a viewer on the same archive (OHIF) shows them.
See docs/pacs.md.
"""

from recistry.pacs.credentials import Credentials, credentials_for
from recistry.pacs.location import DicomwebLocation, DimseLocation, PacsLocation, parse_location
from recistry.pacs.pull import PullQuery, PullResult, PushResult, connect, pull, push
from recistry.pacs.tree import InstanceRef, SeriesRef, instance_path

__all__ = [
    "Credentials",
    "DicomwebLocation",
    "DimseLocation",
    "InstanceRef",
    "PacsLocation",
    "PullQuery",
    "PullResult",
    "PushResult",
    "SeriesRef",
    "connect",
    "credentials_for",
    "instance_path",
    "parse_location",
    "pull",
    "push",
]
