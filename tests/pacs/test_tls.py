"""https certificates are verified by default; a private CA is trusted only when given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recistry.cli import main
from tests.pacs._orthanc import Orthanc, TlsProxy, make_certificate
from tests.pacs.conftest import PATIENT

ARGS = ["--patient", PATIENT, "--modality", "PT", "--since", "2024-05-01"]


@pytest.fixture(scope="module")
def https(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The archive's DICOMweb over https with a self-signed certificate (a private CA); yields
    the URL and the certificate."""
    certificate = make_certificate(tmp_path_factory.mktemp("tls"))
    proxy = TlsProxy(certificate, orthanc.http_port)
    try:
        yield f"https://127.0.0.1:{proxy.port}/dicom-web", certificate
    finally:
        proxy.close()


@pytest.fixture
def no_ca_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RECISTRY_PACS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)


def test_unknown_certificate_is_refused_in_one_line(
    https: tuple[str, Path], login: str, no_ca_settings: None, tmp_path: Path, capsys
) -> None:
    url, _certificate = https
    assert main(["pull", url, *ARGS, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "TLS certificate not verified" in err and "--ca-bundle" in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    assert login not in err


def test_certificate_of_the_given_ca_bundle_is_trusted(
    https: tuple[str, Path],
    login: str,
    no_ca_settings: None,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, certificate = https
    args = ["pull", url, *ARGS, "--out", str(tmp_path / "a")]
    assert main([*args, "--ca-bundle", str(certificate)]) == 0
    assert "30 retrieved" in capsys.readouterr().out
    monkeypatch.setenv("RECISTRY_PACS_CA_BUNDLE", str(certificate))
    assert main(["pull", url, *ARGS, "--out", str(tmp_path / "b")]) == 0
    assert "30 retrieved" in capsys.readouterr().out
