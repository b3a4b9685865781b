"""Credentials for a DICOMweb server, from the environment or a netrc file; never logged.

Looked up in this order:

1. ``RECISTRY_PACS_TOKEN``: sent as ``Authorization: Bearer <token>`` (OAuth 2 / OpenID
   Connect access tokens, as Google Healthcare, Azure DICOM service or a Keycloak-fronted
   Orthanc expect).
2. ``RECISTRY_PACS_USER`` and ``RECISTRY_PACS_PASSWORD``: HTTP Basic authentication.
3. The netrc file (``$NETRC``, else ``~/.netrc``), ``machine`` entry of the server's host name.

Nothing is sent when none is set. The values are kept out of ``repr`` and every message.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recistry.errors import InputError

__all__ = ["Credentials", "credentials_for"]

TOKEN_VARIABLE = "RECISTRY_PACS_TOKEN"
USER_VARIABLE = "RECISTRY_PACS_USER"
PASSWORD_VARIABLE = "RECISTRY_PACS_PASSWORD"


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to authenticate to a DICOMweb server.

    Attributes
    ----------
    source
        Where they came from: ``"environment"``, ``"netrc"`` or ``"none"`` (safe to print).
    username, password
        HTTP Basic credentials (not shown by ``repr``).
    token
        A bearer token (not shown by ``repr``).
    """

    source: str = "none"
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, to check that no output contains them."""
        return tuple(s for s in (self.password, self.token) if s)


def credentials_for(host: str, environ: Mapping[str, str] | None = None) -> Credentials:
    """Find the credentials for ``host`` (see the module docstring for the order).

    Raises
    ------
    InputError
        Only one of the user and password variables is set, or the netrc file cannot be
        parsed (or is readable by others while it holds passwords).
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_VARIABLE)
    if token:
        return Credentials("environment", token=token)
    user, password = env.get(USER_VARIABLE), env.get(PASSWORD_VARIABLE)
    if user and password:
        return Credentials("environment", username=user, password=password)
    if user or password:
        missing = PASSWORD_VARIABLE if user else USER_VARIABLE
        raise InputError(f"{missing} is not set; set both {USER_VARIABLE} and {PASSWORD_VARIABLE}")
    path = Path(env["NETRC"]) if env.get("NETRC") else Path.home() / ".netrc"
    if not path.is_file():
        return Credentials()
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise InputError(
            "netrc file holds passwords but others may read it; run 'chmod 600' on it",
            path=os.fspath(path),
        )
    try:
        entry = netrc.netrc(os.fspath(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        # NetrcParseError's text may quote the offending line; name only file and line number.
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise InputError(f"netrc file cannot be read{where}", path=os.fspath(path)) from None
    if entry is None:
        return Credentials()
    login, _account, secret = entry
    return Credentials("netrc", username=login or None, password=secret or None)
