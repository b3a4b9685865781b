"""A real Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``) on 127.0.0.1 with free
ports, a temporary configuration and storage; used by the tests and bench/bench_pull.py.

``scripts/install-system-deps.sh`` installs Orthanc (``make test`` runs it). Configuration keys
are those of Orthanc 1.10's /etc/orthanc/orthanc.json and the DICOMweb plugin's "DicomWeb"
section (https://orthanc.uclouvain.be/book/plugins/dicomweb.html).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ORTHANC_AET = "ORTHANC"
CLIENT_AET = "RECISTRY"
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)
INSTALL_HINT = "run 'bash scripts/install-system-deps.sh' (it installs orthanc, orthanc-dicomweb)"


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nobody listens on at the moment (127.0.0.1)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def orthanc_executable() -> str:
    found = shutil.which("Orthanc") or (
        "/usr/sbin/Orthanc" if os.access("/usr/sbin/Orthanc", os.X_OK) else None
    )
    if found is None:
        raise RuntimeError(f"Orthanc is not installed; {INSTALL_HINT}")
    return found


def dicomweb_plugin() -> str:
    for candidate in PLUGIN_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise RuntimeError(f"the Orthanc DICOMweb plugin is not installed; {INSTALL_HINT}")


@dataclass
class Orthanc:
    """A running Orthanc; ``stop()`` ends it."""

    folder: Path
    http_port: int
    dicom_port: int
    move_port: int
    users: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.base_url}/dicom-web"

    @property
    def dimse_url(self) -> str:
        return f"dimse://{ORTHANC_AET}@127.0.0.1:{self.dicom_port}"

    def rest(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A REST API call as the first registered user; raises on HTTP errors."""
        user, password = next(iter(self.users.items()))
        response = requests.request(
            method,
            f"{self.base_url}{path}",
            auth=(user, password),
            timeout=60,
            **kwargs,
        )
        response.raise_for_status()
        return response

    def upload(self, files: Iterable[Path]) -> int:
        """POST /instances every file; returns how many Orthanc stored."""
        count = 0
        for path in files:
            self.rest("POST", "/instances", data=path.read_bytes())
            count += 1
        return count

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def start_orthanc(folder: Path, *, users: dict[str, str], timeout_s: float = 60.0) -> Orthanc:
    """Start Orthanc with authentication, DICOMweb and our AE title registered for C-FIND,
    C-GET, C-MOVE and C-STORE (its storage SCP at ``move_port`` for C-MOVE)."""
    folder.mkdir(parents=True, exist_ok=True)
    server = Orthanc(folder, *free_ports(3), users)
    config: dict[str, Any] = {
        "Name": "recistry-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": server.http_port,
        "DicomPort": server.dicom_port,
        "DicomAet": ORTHANC_AET,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": users,
        "Plugins": [dicomweb_plugin()],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        # Only our AE title may query and retrieve (as a hospital PACS is configured).
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomModalities": {
            "recistry": {
                "AET": CLIENT_AET,
                "Host": "127.0.0.1",
                "Port": server.move_port,
                "AllowFind": True,
                "AllowGet": True,
                "AllowMove": True,
                "AllowStore": True,
            }
        },
        "SaveJobs": False,
        "OverwriteInstances": True,
        "HttpTimeout": 60,
        "DicomScuTimeout": 30,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - kept open for the process
    server.process = subprocess.Popen(
        [orthanc_executable(), str(folder / "orthanc.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    deadline = time.monotonic() + timeout_s
    while True:
        if server.process.poll() is not None:
            tail = (folder / "orthanc.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Orthanc exited with {server.process.returncode}:\n{tail}")
        try:
            server.rest("GET", "/system")
            with socket.create_connection(("127.0.0.1", server.dicom_port), timeout=1):
                pass
            return server
        except (requests.RequestException, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Orthanc did not answer within {timeout_s} s") from None
            time.sleep(0.1)


def make_certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 made by openssl: ``cert.pem`` (what a client
    trusts) and its private key ``key.pem``."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert


class TlsProxy:
    """An https front (Python's ssl, OpenSSL) for Orthanc's http port, as nginx fronts a PACS
    in a hospital. (Debian's Orthanc 1.10 crashes when its own SslEnabled serves a request.)"""

    def __init__(self, certificate: Path, backend_port: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(
            certificate, certificate.with_name(certificate.name.replace("cert", "key"))
        )
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):  # the client refused our certificate
            client.close()
            return
        backend = socket.create_connection(("127.0.0.1", self.backend_port))
        threading.Thread(target=_pump, args=(backend, secure), daemon=True).start()
        _pump(secure, backend)

    def close(self) -> None:
        self._running = False
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(1 << 16):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (source, target):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
