"""Credentials come from the environment or a netrc file, are sent to the server, and never
appear in output or logs (also not base64-encoded, as in an Authorization header)."""

from __future__ import annotations

import base64
import http.server
import logging
import threading
from pathlib import Path

import pytest

from recistry.cli import main
from recistry.errors import InputError
from recistry.pacs import credentials_for
from tests.pacs._orthanc import Orthanc
from tests.pacs.conftest import PATIENT, USER


def _forms(user: str, secret: str) -> list[str]:
    """The secret as typed and as an HTTP Basic header would carry it."""
    return [secret, base64.b64encode(f"{user}:{secret}".encode()).decode()]


def _pull(orthanc: Orthanc, out: Path, *extra: str) -> int:
    args = ["-v", "pull", orthanc.dicomweb_url, "--patient", PATIENT, "--modality", "PT"]
    return main([*args, "--since", "2024-05-01", "--out", str(out), *extra])


def test_order_token_then_user_and_password_then_netrc(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pacs.example.org login n_user password n_secret\n")
    netrc.chmod(0o600)
    env = {"NETRC": str(netrc)}
    assert credentials_for("pacs.example.org", env).username == "n_user"
    assert credentials_for("other.example.org", env).source == "none"
    env |= {"RECISTRY_PACS_USER": "e_user", "RECISTRY_PACS_PASSWORD": "e_secret"}
    found = credentials_for("pacs.example.org", env)
    assert (found.source, found.username, found.password) == ("environment", "e_user", "e_secret")
    env["RECISTRY_PACS_TOKEN"] = "t0ken"
    found = credentials_for("pacs.example.org", env)
    assert (found.token, found.username) == ("t0ken", None)
    assert "t0ken" not in repr(found) and "e_secret" not in repr(found)
    with pytest.raises(InputError, match="RECISTRY_PACS_PASSWORD is not set"):
        credentials_for("pacs.example.org", {"RECISTRY_PACS_USER": "u"})


def test_environment_credentials_pull_and_never_show(
    orthanc: Orthanc, login: str, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every library's log, urllib3's included
    assert _pull(orthanc, tmp_path / "out") == 0
    out, err = capsys.readouterr()
    assert "30 retrieved" in out
    assert "credentials from the environment" in caplog.text
    for form in _forms(USER, login):
        assert form not in out + err + caplog.text


def test_netrc_credentials_pull(
    orthanc: Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    for variable in ("RECISTRY_PACS_USER", "RECISTRY_PACS_PASSWORD", "RECISTRY_PACS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    secret = orthanc.users[USER]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login {USER}\n  password {secret}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    caplog.set_level(logging.DEBUG)
    assert _pull(orthanc, tmp_path / "out") == 0
    out, err = capsys.readouterr()
    assert "30 retrieved" in out and "credentials from the netrc" in caplog.text
    for form in _forms(USER, secret):
        assert form not in out + err + caplog.text
    netrc.chmod(0o644)  # readable by everyone: refused, as ssh refuses such a key
    assert _pull(orthanc, tmp_path / "again") == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and str(netrc) in err and secret not in err


def test_wrong_or_missing_credentials_are_one_line_exit_2(
    orthanc: Orthanc, login: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RECISTRY_PACS_PASSWORD", "not-the-password")
    assert _pull(orthanc, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "RECISTRY_PACS_USER" in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert "not-the-password" not in err + caplog.text and login not in err + caplog.text
    assert not (tmp_path / "out").exists()
    monkeypatch.delenv("RECISTRY_PACS_USER")
    monkeypatch.delenv("RECISTRY_PACS_PASSWORD")
    assert _pull(orthanc, tmp_path / "out") == 2
    assert "HTTP 401" in capsys.readouterr().err


def test_credentials_in_the_url_are_refused_and_not_echoed(tmp_path: Path, capsys) -> None:
    url = "https://reader:hunter2@pacs.example.org/dicom-web"
    assert main(["pull", url, "--patient", "P", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not accepted in the URL" in err and "hunter2" not in err


class _RecordingServer(http.server.ThreadingHTTPServer):
    """A real HTTP server that answers 401 and keeps the Authorization headers it received."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("Authorization", ""))
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_token_is_sent_as_bearer_and_never_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
    monkeypatch.setenv("RECISTRY_PACS_TOKEN", token)
    monkeypatch.setenv("RECISTRY_PACS_USER", "ignored-when-a-token-is-set")
    monkeypatch.setenv("RECISTRY_PACS_PASSWORD", "ignored-too")
    server = _RecordingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        caplog.set_level(logging.DEBUG)
        url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
        assert main(["-v", "pull", url, "--patient", "P", "--out", str(tmp_path / "o")]) == 2
    finally:
        server.shutdown()
        server.server_close()
    assert server.seen and set(server.seen) == {f"Bearer {token}"}
    out, err = capsys.readouterr()
    assert "HTTP 401" in err and token not in out + err + caplog.text
