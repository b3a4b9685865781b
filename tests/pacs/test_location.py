"""PACS addresses: DICOMweb base URLs and dimse://AET@HOST:PORT (AE titles per PS3.5 6.2)."""

from __future__ import annotations

import pytest

from recistry.errors import InputError
from recistry.pacs import DicomwebLocation, DimseLocation, parse_location


def test_dicomweb_and_dimse_addresses() -> None:
    assert parse_location("https://pacs.example.org/dicom-web/") == DicomwebLocation(
        "https://pacs.example.org/dicom-web", "pacs.example.org"
    )
    assert parse_location("dimse://ORTHANC@10.0.0.5:4242") == DimseLocation(
        "ORTHANC", "10.0.0.5", 4242
    )
    assert str(parse_location("dimse://MY PACS@host:104")) == "dimse://MY PACS@host:104"


@pytest.mark.parametrize(
    "text",
    [
        "pacs.example.org",
        "ftp://pacs.example.org/",
        "https:///dicom-web",
        "https://pacs.example.org/dicom-web?x=1",
        "dimse://host:104",
        "dimse://AET@host",
        "dimse://AET@host:0",
        "dimse://AET@host:70000",
        "dimse://" + "A" * 17 + "@host:104",  # an AE title has at most 16 characters
        "dimse://A\\B@host:104",  # backslash is the value separator
        "dimse://   @host:104",  # only spaces is no AE title
    ],
)
def test_malformed_addresses_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        parse_location(text)


def test_credentials_in_a_url_are_refused_and_never_repeated() -> None:
    with pytest.raises(InputError) as caught:
        parse_location("https://reader:s3cret@pacs.example.org/dicom-web")
    assert "s3cret" not in str(caught.value) and "RECISTRY_PACS_USER" in str(caught.value)
