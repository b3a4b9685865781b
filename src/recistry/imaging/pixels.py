"""Which transfer syntaxes recistry can decode, and the SOP classes it loads as volumes.

Native (uncompressed) pixel data is read straight from the file; every other transfer syntax is
decoded by pydicom's pixel decoders with the plugins declared in pyproject.toml: pylibjpeg with
pylibjpeg-libjpeg (JPEG baseline, extended, lossless), pylibjpeg-openjpeg (JPEG 2000, HTJ2K),
pylibjpeg-rle (RLE) and pyjpegls (JPEG-LS). See docs/imaging.md for the measurements behind
that choice.

References: DICOM PS3.5 §10 and Annex A (transfer syntaxes), PS3.6 Annex A (their UIDs), PS3.4
B.5 (storage SOP classes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = [
    "ENHANCED_IMAGE_STORAGE",
    "TRANSFER_SYNTAXES",
    "VOLUME_IMAGE_STORAGE",
    "TransferSyntax",
    "can_decode",
    "transfer_syntax_name",
]


@dataclass(frozen=True, slots=True)
class TransferSyntax:
    """A transfer syntax recistry reads.

    Attributes
    ----------
    uid
        Its UID (PS3.6 Annex A).
    name
        The name PS3.6 gives it.
    lossless
        Whether decoding gives back the stored values exactly.
    """

    uid: str
    name: str
    lossless: bool


#: Every transfer syntax the test suite writes with an independent encoder and loads.
TRANSFER_SYNTAXES = (
    TransferSyntax("1.2.840.10008.1.2", "Implicit VR Little Endian", True),
    TransferSyntax("1.2.840.10008.1.2.1", "Explicit VR Little Endian", True),
    TransferSyntax("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", True),
    TransferSyntax("1.2.840.10008.1.2.2", "Explicit VR Big Endian (retired)", True),
    TransferSyntax("1.2.840.10008.1.2.5", "RLE Lossless", True),
    TransferSyntax("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1), 8 bit", False),
    TransferSyntax("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4), 8 and 12 bit", False),
    TransferSyntax("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", True),
    TransferSyntax(
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)",
        True,
    ),
    TransferSyntax("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", True),
    TransferSyntax("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless)", False),
    TransferSyntax("1.2.840.10008.1.2.4.90", "JPEG 2000 (Lossless Only)", True),
    TransferSyntax("1.2.840.10008.1.2.4.91", "JPEG 2000", False),
    TransferSyntax("1.2.840.10008.1.2.4.201", "HTJ2K (Lossless Only)", True),
    TransferSyntax("1.2.840.10008.1.2.4.202", "HTJ2K with RPCL Options (Lossless Only)", True),
    TransferSyntax("1.2.840.10008.1.2.4.203", "HTJ2K", False),
)

_NATIVE = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
    }
)

#: Storage SOP classes whose images are enhanced multi-frame (one file per series, geometry in the
#: per-frame functional groups, PS3.3 C.7.6.16).
ENHANCED_IMAGE_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET Image Storage",
    "1.2.840.10008.5.1.4.1.1.128.1": "Legacy Converted Enhanced PET Image Storage",
}

#: Every storage SOP class recistry loads as a CT or PET volume.
VOLUME_IMAGE_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.2": "CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.128": "Positron Emission Tomography Image Storage",
    **ENHANCED_IMAGE_STORAGE,
}


@functools.lru_cache(maxsize=64)
def can_decode(transfer_syntax_uid: str) -> bool:
    """Whether pixel data in this transfer syntax can be decoded here.

    True for the native syntaxes, and for compressed ones when pydicom has a decoder with an
    installed plugin for it.
    """
    if transfer_syntax_uid in _NATIVE:
        return True
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return bool(get_decoder(transfer_syntax_uid).is_available)
    except NotImplementedError:  # no decoder exists for this syntax in pydicom
        return False


@functools.lru_cache(maxsize=64)
def transfer_syntax_name(transfer_syntax_uid: str) -> str:
    """The PS3.6 name of a transfer syntax, or its UID when unknown."""
    from pydicom.uid import UID

    name = UID(transfer_syntax_uid).name
    return name if name and name != transfer_syntax_uid else transfer_syntax_uid
