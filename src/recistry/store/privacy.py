"""Pseudonymisation with a keyed hash (HMAC-SHA-256), per DICOM PS3.15 Annex E.

The same key maps the same patient ID to the same pseudonym, so pseudonymised exports of one
study stay linkable, while without the key nobody can recompute the mapping from a list of known
IDs. The key is read from a file or an environment variable and is never written to any output
or log.

:func:`pseudonymise_dataset` applies the Basic Application Level Confidentiality Profile
(PS3.15 Table E.1-1) to the attributes a recistry SR carries, with the Retain Longitudinal
Temporal Information with Modified Dates Option (PS3.15 E.3.6): every date of a patient is
shifted back by the same number of days (derived from the key and the patient), so intervals
between scans (what RECIST needs) are kept and the real dates are not. UIDs are replaced by UIDs
derived from the key and the original (the same original always gives the same replacement, so
references between files stay consistent); the UIDs of the DICOM standard (SOP classes, coding
schemes, transfer syntaxes) are kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid

from recistry.errors import InputError

__all__ = [
    "KEY_ENV",
    "MAX_DATE_SHIFT_DAYS",
    "date_shift_days",
    "load_key",
    "pseudonym",
    "pseudonymise_dataset",
    "remap_uid",
    "shift_da",
    "shift_iso_date",
]

KEY_ENV = "RECISTRY_PSEUDONYM_KEY"
"""Environment variable holding the pseudonymisation key when no key file is given."""

MIN_KEY_BYTES = 16


def load_key(key_file: Path | None) -> bytes:
    """The pseudonymisation key: the contents of ``key_file``, else ``$RECISTRY_PSEUDONYM_KEY``.

    Raises
    ------
    InputError
        No key, or a key shorter than 16 bytes (a short key can be brute-forced).
    """
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise InputError(
                f"cannot read the key file: {exc.strerror}", path=str(key_file)
            ) from None
        where = str(key_file)
    else:
        key = os.environ.get(KEY_ENV, "").encode("utf-8").strip()
        where = f"${KEY_ENV}"
    if not key:
        raise InputError(f"--pseudonymize needs a key: give --key-file FILE or set ${KEY_ENV}")
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the key in {where} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def pseudonym(value: str, key: bytes) -> str:
    """A stable pseudonym for an identifier: ``'PSN-'`` and 12 hex digits of HMAC-SHA-256.

    16 characters, so it fits a DICOM Patient ID (LO) and a file name.
    """
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"PSN-{digest[:12]}"


MAX_DATE_SHIFT_DAYS = 3652
"""Dates are shifted back by 1 to this many days (about ten years), the same for all of a
patient's dates."""

# PS3.15 Table E.1-1, Basic Profile actions for the attributes a recistry SR can carry.
# Z: replaced by an empty value (type 2 attributes, which must be present).
_EMPTIED = (
    "AccessionNumber",  # (0008,0050) Z
    "ReferringPhysicianName",  # (0008,0090) Z
    "StudyID",  # (0020,0010) Z
    "PatientBirthDate",  # (0010,0030) Z
    "PatientSex",  # (0010,0040) Z
)
# X: removed.
_REMOVED = (
    "InstitutionName",  # (0008,0080) X/Z/D
    "InstitutionAddress",  # (0008,0081) X
    "InstitutionalDepartmentName",  # (0008,1040) X
    "StationName",  # (0008,1010) X/Z/D
    "StudyDescription",  # (0008,1030) X
    "SeriesDescription",  # (0008,103E) X
    "PhysiciansOfRecord",  # (0008,1048) X
    "PerformingPhysicianName",  # (0008,1050) X
    "NameOfPhysiciansReadingStudy",  # (0008,1060) X
    "OperatorsName",  # (0008,1070) X/Z/D
    "OtherPatientIDsSequence",  # (0010,1002) X
    "OtherPatientNames",  # (0010,1001) X
    "PatientAddress",  # (0010,1040) X
    "PatientAge",  # (0010,1010) X
    "PatientSize",  # (0010,1020) X
    "PatientWeight",  # (0010,1030) X
    "PatientBirthTime",  # (0010,0032) X
    "EthnicGroup",  # (0010,2160) X
    "PatientComments",  # (0010,4000) X
    "RequestAttributesSequence",  # (0040,0275) X
    "DeviceSerialNumber",  # (0018,1000) X/Z/D
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def date_shift_days(patient_id: str, key: bytes) -> int:
    """Days every date of ``patient_id`` is moved back (1 to :data:`MAX_DATE_SHIFT_DAYS`)."""
    return 1 + int.from_bytes(_hmac(key, f"date-shift\0{patient_id}")[:8]) % MAX_DATE_SHIFT_DAYS


def remap_uid(uid: str, key: bytes) -> str:
    """A replacement for an instance UID, the same for the same UID and key (PS3.15 "U").

    UIDs of the DICOM standard (SOP classes, transfer syntaxes, coding schemes) identify no
    patient and are returned unchanged.
    """
    if UID(uid).name != uid:  # a UID of the standard's registry
        return uid
    return str(generate_uid(entropy_srcs=["recistry-pseudonym", _hmac(key, uid).hex()]))


def shift_da(value: str, days: int) -> str:
    """A DICOM DA (``YYYYMMDD``, or the date part of a DT) moved back ``days`` days."""
    if len(value) >= 8 and value[:8].isdigit():
        shifted = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) - dt.timedelta(days)
        return shifted.strftime("%Y%m%d") + value[8:]
    return value


def shift_iso_date(value: str, days: int) -> str:
    """An ISO 8601 date (``YYYY-MM-DD``, as in a TID 1502 time point) moved back ``days`` days."""
    try:
        return (dt.date.fromisoformat(value[:10]) - dt.timedelta(days)).isoformat() + value[10:]
    except ValueError:
        return value


def pseudonymise_dataset(ds: Dataset, key: bytes, patient_id: str) -> None:
    """Apply the Basic Confidentiality Profile (with modified dates) to ``ds``, in place.

    Patient name and ID become :func:`pseudonym` (Table E.1-1: Z, replaced by a dummy); the
    attributes of ``_EMPTIED`` are emptied, those of ``_REMOVED`` removed; every DA and the date
    of every DT is shifted back by :func:`date_shift_days` of ``patient_id`` (E.3.6), also in
    nested sequences and in text content items holding an ISO date (the TID 1502 time point);
    every instance UID is remapped with :func:`remap_uid` (U); the person observer name of the
    content tree becomes a pseudonym of the reader (D). Private attributes are removed (X).

    Parameters
    ----------
    ds
        An SR (or any dataset) as recistry writes it; its ``file_meta`` is updated too.
    key
        The pseudonymisation key.
    patient_id
        The real patient ID the dates are shifted for (read before it is replaced).
    """
    days = date_shift_days(patient_id, key)
    alias = pseudonym(patient_id, key)
    ds.remove_private_tags()

    def visit(item: Dataset) -> None:
        for keyword in _REMOVED:
            if keyword in item:
                delattr(item, keyword)
        for keyword in _EMPTIED:
            if keyword in item:
                setattr(item, keyword, "")
        if "PatientID" in item:
            item.PatientID = alias
        if "PatientName" in item:
            item.PatientName = f"{alias}^"
        for element in item:
            if element.VR == "SQ":
                for child in element.value:
                    visit(child)
            elif element.value in (None, ""):
                continue
            elif element.VR == "UI":
                if element.VM > 1:
                    element.value = [remap_uid(str(v), key) for v in element.value]
                else:
                    element.value = remap_uid(str(element.value), key)
            elif element.VR == "DA" or element.VR == "DT":
                element.value = shift_da(str(element.value), days)
            elif element.keyword == "PersonName" and element.VR == "PN":
                element.value = pseudonym(f"reader\0{element.value}", key).replace("PSN", "RDR")
            elif element.keyword == "TextValue":
                element.value = shift_iso_date(str(element.value), days)

    visit(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
