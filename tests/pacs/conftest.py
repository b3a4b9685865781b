"""A real Orthanc holding the sample study (sample_dicom/demo_patient), for the whole session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from recistry.pacs import Credentials, PullQuery, parse_location, pull
from tests.pacs._orthanc import Orthanc, start_orthanc

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient"
PATIENT = "SYN1-001"
USER = "reader"


def sample_files() -> list[Path]:
    return sorted((SAMPLE / PATIENT).rglob("*.dcm"))


@pytest.fixture(scope="session")
def sample_by_sop() -> dict[str, Path]:
    """The sample study's files by SOP Instance UID (what the archive was loaded with)."""
    return {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in sample_files()
    }


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Orthanc with authentication on, loaded with the sample study over its REST API."""
    password = secrets.token_urlsafe(16)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"), users={USER: password})
    try:
        assert server.upload(sample_files()) == 180
        yield server
    finally:
        server.stop()


@pytest.fixture
def login(orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The environment holds the reader's credentials (and no other source is used); returns
    the password, to check it never shows."""
    password = orthanc.users[USER]
    monkeypatch.setenv("RECISTRY_PACS_USER", USER)
    monkeypatch.setenv("RECISTRY_PACS_PASSWORD", password)
    monkeypatch.delenv("RECISTRY_PACS_TOKEN", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return password


@pytest.fixture(scope="session")
def pulled(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample patient's CT and PET pulled over DICOMweb (shared by read-only tests)."""
    out = tmp_path_factory.mktemp("pulled")
    pull(
        parse_location(orthanc.dicomweb_url),
        PullQuery(patient_id=PATIENT, modalities=("CT", "PT")),
        out,
        credentials=Credentials("environment", username=USER, password=orthanc.users[USER]),
    )
    return out
