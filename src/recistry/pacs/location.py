"""Where a PACS is: a DICOMweb base URL or a DIMSE application entity.

``https://pacs.example.org/dicom-web`` names a DICOMweb service (QIDO-RS, WADO-RS, STOW-RS,
DICOM PS3.18); ``dimse://ORTHANC@pacs.example.org:4242`` names a DIMSE service class provider
by its called AE title, host and port (C-FIND, C-GET, C-MOVE, C-STORE, DICOM PS3.7).
Credentials never travel in the URL: they come from the environment or a netrc file
(:mod:`recistry.pacs.credentials`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from recistry.errors import InputError

__all__ = ["DicomwebLocation", "DimseLocation", "PacsLocation", "parse_location"]

_USAGE = "use http(s)://HOST[:PORT]/PATH for DICOMweb or dimse://AET@HOST:PORT for DIMSE"


@dataclass(frozen=True, slots=True)
class DicomwebLocation:
    """A DICOMweb service: its base URL (``scheme://host[:port]/prefix``, no credentials)."""

    url: str
    host: str

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class DimseLocation:
    """A DIMSE service class provider: called AE title, host name and TCP port."""

    called_aet: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"dimse://{self.called_aet}@{self.host}:{self.port}"


PacsLocation = DicomwebLocation | DimseLocation


def check_ae_title(title: str, what: str) -> str:
    """Return ``title`` if it is a valid AE title (1-16 characters of the DICOM default
    repertoire, no backslash, not only spaces; PS3.5 table 6.2-1), else raise InputError."""
    if not 1 <= len(title) <= 16 or not title.strip() or not re.fullmatch(r"[ -\[\]-~]+", title):
        raise InputError(
            f"{what} {title!r} is not an AE title (1-16 printable ASCII characters, no backslash)"
        )
    return title


def parse_location(text: str) -> PacsLocation:
    """Read a PACS address given on the command line.

    Parameters
    ----------
    text
        ``http(s)://host[:port][/prefix]`` or ``dimse://AET@host:port``.

    Raises
    ------
    InputError
        The address is malformed, or carries a user name or password (those are never
        accepted in a URL: it ends up in shell histories and logs).
    """
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InputError(f"{_redacted(text)} is not a PACS address; {_USAGE}") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if parts.username is not None or parts.password is not None:
            raise InputError(
                f"{_redacted(text)}: credentials are not accepted in the URL; set "
                "RECISTRY_PACS_USER and RECISTRY_PACS_PASSWORD (or RECISTRY_PACS_TOKEN) or use "
                "a netrc file (docs/pacs.md)"
            )
        if not parts.hostname or parts.query or parts.fragment:
            raise InputError(f"{_redacted(text)} is not a DICOMweb base URL; {_USAGE}")
        return DicomwebLocation(text.rstrip("/"), parts.hostname)
    if scheme == "dimse":
        match = re.fullmatch(r"dimse://([^@/]+)@([^:/@]+):(\d+)/?", text, flags=re.IGNORECASE)
        if match is None or port is None or not 0 < port < 65536:
            raise InputError(f"{_redacted(text)} is not a DIMSE address; {_USAGE}")
        aet = check_ae_title(match.group(1), "called AE title")
        return DimseLocation(aet, match.group(2), port)
    raise InputError(f"{_redacted(text)} is not a PACS address; {_USAGE}")


def _redacted(text: str) -> str:
    """``text`` with any ``user:password@`` part of a URL replaced, so errors never echo it."""
    return re.sub(r"(?<=://)[^/@]*:[^/@]*@", "***@", text)
