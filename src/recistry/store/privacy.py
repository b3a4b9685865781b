"""Pseudonymisation with a keyed hash (HMAC-SHA-256).

The same key maps the same patient ID to the same pseudonym, so pseudonymised exports of one
study stay linkable, while without the key nobody can recompute the mapping from a list of known
IDs. The key is read from a file or an environment variable and is never written to any output
or log.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from recistry.errors import InputError

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
